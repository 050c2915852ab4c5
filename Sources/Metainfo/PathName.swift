import FoundationEssentials
import Glibc

/// Lexical path arithmetic on slash-separated strings, with the results Foundation's `NSString` path
/// methods give (`tt` imports only FoundationEssentials, which has none: see README "Footprint").
/// Nothing here touches the file system.
public enum PathName {
    /// The last component: "a/b/" → "b", "/" → "/", "" → "".
    public static func last(_ path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        guard trimmed != "/" else { return trimmed }
        guard let slash = trimmed.lastIndex(of: "/") else { return trimmed }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    /// Everything before the last component: "/tmp/x" → "/tmp", "/tmp" → "/", "x" → "", "/" → "/".
    public static func deletingLast(_ path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        guard trimmed != "/" else { return trimmed }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        let parent = trimmingTrailingSlashes(String(trimmed[..<slash]))
        return parent.isEmpty ? "/" : parent
    }

    /// `component` below `path`, with one slash between: ("/tmp/", "x") → "/tmp/x", ("", "x") → "x".
    public static func appending(_ path: String, _ component: String) -> String {
        guard !path.isEmpty else { return component }
        guard !component.isEmpty else { return path }
        let head = path.hasSuffix("/") ? String(path.dropLast()) : path
        let tail = component.hasPrefix("/") ? String(component.dropFirst()) : component
        return head + "/" + tail
    }

    /// The name a path stands for after "." and ".." are resolved lexically ("x/." → "x",
    /// "x/y/.." → "x"); for a path that resolves to nothing lexically (".", "..", "/"), the last
    /// component of its real path. Used for the name of a torrent made from a path.
    public static func resolvedName(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == "..", let previous = parts.last, previous != ".." { parts.removeLast() } else { parts.append(part) }
        }
        if let name = parts.last, name != ".." { return String(name) }
        if let real = realPath(path) { return last(real) }
        return path
    }

    /// The canonical absolute path (symlinks resolved), or nil when it does not exist.
    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// What is at `path`, following symlinks; nil when nothing is.
    public static func kind(_ path: String) -> FileKind? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT == S_IFDIR ? .directory : .file
    }

    public enum FileKind: Sendable, Equatable { case file, directory }

    private static func trimmingTrailingSlashes(_ path: String) -> String {
        var result = Substring(path)
        while result.count > 1 && result.hasSuffix("/") { result = result.dropLast() }
        return String(result)
    }
}

/// The system's words for why a FileManager call failed ("Permission denied", "Not a directory"):
/// FoundationEssentials has no `localizedDescription`, but its errors carry the POSIX code.
public func fileErrorReason(_ error: any Error) -> String {
    var underlying: (any Error)? = error
    while let current = underlying {
        if let posix = current as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
        underlying = (current as? CocoaError)?.underlying
    }
    return "\(error)"
}
