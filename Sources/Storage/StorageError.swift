import Glibc
import Metainfo

/// Everything that can go wrong between pieces and files on disk.
///
/// Each case names the file involved; `TTCommands` maps them to exit codes
/// (`unsafePath`/`badTorrent` → 65, `missing` → 66, `io` → 74).
public enum StorageError: Error, Sendable, CustomStringConvertible, Equatable {
    /// A torrent path that would land outside the content root (`..`, absolute, empty, `.`,
    /// or a symlink that resolves elsewhere).
    case unsafePath(path: String, reason: String)
    /// The torrent cannot be laid out or checked (e.g. a v2 torrent without piece layers).
    case badTorrent(String)
    /// A file or folder that must exist does not.
    case missing(path: String)
    /// A system call failed on `path`.
    case io(path: String, operation: String, errno: Int32)
    /// The resume state file is not one we wrote.
    case badResumeState(path: String, reason: String)

    public var description: String {
        switch self {
        case .unsafePath(let path, let reason): return "unsafe path \"\(path)\": \(reason)"
        case .badTorrent(let why): return why
        case .missing(let path): return "\(path): no such file or directory"
        case .io(let path, let operation, let code):
            return "\(path): \(operation) failed: \(String(cString: strerror(code)))"
        case .badResumeState(let path, let reason): return "\(path): not a valid tt resume state: \(reason)"
        }
    }
}
