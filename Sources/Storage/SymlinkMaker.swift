import Glibc

/// Makes the BEP 47 symlinks of a multi-file torrent below its content folder (tt-download(1)
/// "NAMES AND ATTRIBUTES"). A link is made only when its target, resolved from the content root,
/// stays inside it; it is relative, so the folder can be moved. Data is never written through a
/// link (links are pad-like in `FileLayout`), and an existing file or link is left alone.
public enum SymlinkMaker {
    /// The relative target for a link at `link` pointing at `target` (both below the content root),
    /// or nil when the target climbs out of the root.
    public static func relativeTarget(link: [String], target: [String]) -> String? {
        var resolved: [String] = []
        for component in target {
            switch component {
            case "", ".": continue
            case "..": guard !resolved.isEmpty else { return nil }; resolved.removeLast()
            default:
                guard !component.contains("/"), !component.contains("\0") else { return nil }
                resolved.append(component)
            }
        }
        guard !resolved.isEmpty else { return nil }
        let up = Array(repeating: "..", count: max(0, link.count - 1))
        return (up + resolved).joined(separator: "/")
    }

    /// Creates the links of `layout` below `contentPath`; returns the paths it made.
    @discardableResult
    public static func makeLinks(layout: FileLayout, contentPath: String) throws(StorageError) -> [String] {
        guard layout.isMultiFile else { return [] }
        var made: [String] = []
        for file in layout.files {
            guard let target = file.symlinkTarget, let relative = relativeTarget(link: file.path, target: target) else { continue }
            let path = try SafePath.join(root: contentPath, components: file.path)
            var info = stat()
            guard lstat(path, &info) != 0 else { continue }  // something is there already: keep it
            try PieceStore.makeParents(of: path, below: contentPath)
            guard symlink(relative, path) == 0 else { throw .io(path: path, operation: "symlink", errno: errno) }
            made.append(path)
        }
        return made
    }
}
