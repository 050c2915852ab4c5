import Glibc
import Metainfo

/// Joins torrent paths under a root so that nothing can escape it (README, tt-download(1)).
///
/// A component may not be empty, `.`, `..`, contain `/` or NUL; and no existing prefix of the
/// joined path may resolve (through symlinks) to a place outside the root. The check runs when a
/// store is opened; a symlink swapped in afterwards is not caught (the same race every client has).
public enum SafePath {
    /// `root/components…`, or `StorageError.unsafePath`.
    public static func join(root: String, components: [String]) throws(StorageError) -> String {
        let display = components.joined(separator: "/")
        guard !components.isEmpty else { throw .unsafePath(path: display, reason: UnsafePathReason.empty.rawValue) }
        for component in components {
            if let reason = UnsafePathReason.check(component) {
                throw .unsafePath(path: display, reason: reason.rawValue)
            }
        }
        let joined = components.reduce(root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root) { $0 + "/" + $1 }
        try checkResolvesInside(root: root, path: joined, components: components, display: display)
        return joined
    }

    /// Refuses when an existing prefix of `path` resolves outside `root`'s real location.
    static func checkResolvesInside(root: String, path: String, components: [String], display: String) throws(StorageError) {
        guard let realRoot = PathName.realPath(root) else { return }  // the root does not exist yet: nothing below it can
        var prefix = root
        for component in components {
            prefix += "/" + component
            var info = stat()
            guard lstat(prefix, &info) == 0 else { return }  // the rest does not exist yet
            guard (info.st_mode & S_IFMT) == S_IFLNK else { continue }
            guard let resolved = PathName.realPath(prefix) else {
                throw .unsafePath(path: display, reason: "a symlink that leads nowhere (\(prefix))")
            }
            guard resolved == realRoot || resolved.hasPrefix(realRoot == "/" ? "/" : realRoot + "/") else {
                throw .unsafePath(path: display, reason: "a symlink that resolves outside the download folder (\(prefix) → \(resolved))")
            }
        }
    }
}
