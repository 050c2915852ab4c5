import Bencode
import FoundationEssentials
import Glibc
import Metainfo

/// What `tt download` keeps beside the data so a later run (or `tt verify`) knows the torrent and
/// which pieces are already verified.
///
/// Location: `OUT/.tt/<info hash hex>.resume` (the v1 hash, or the v2 hash for v2-only torrents),
/// beside `OUT/<name>`. Format: one bencoded dictionary —
///
/// | key | value |
/// |---|---|
/// | `format` | integer 1 |
/// | `info hash` | the file name's hex hash, as a string |
/// | `name` | the content's name under OUT (file or folder) |
/// | `piece count` | integer |
/// | `pieces` | BEP 3 bitfield of pieces that were hash-checked *and* flushed (piece 0 = high bit of byte 0) |
/// | `torrent` | the complete .torrent bytes (for a magnet download: `d4:info…e` around the fetched info dict) |
/// | `selected files` | (only when some files were left out) the file indexes downloaded, as `tt info` numbers them |
///
/// Written atomically: a temporary file in `.tt/`, `fsync`, `rename`, then `fsync` of the folder, so a
/// crash leaves the old state or the new one, never a mix.
public struct ResumeState: Sendable, Equatable {
    public static let directoryName = ".tt"
    public static let fileExtension = "resume"
    public static let formatVersion: Int64 = 1

    public var infoHashHex: String
    public var name: String
    public var torrentBytes: [UInt8]
    public var verified: Bitfield
    /// The files chosen with `--files`/`--only`/`so=`; nil when all were. Unselected files' bytes that
    /// share a verified piece are in `OUT/.tt/<hash>.parts`.
    public var selectedFiles: [Int]?

    public init(infoHashHex: String, name: String, torrentBytes: [UInt8], verified: Bitfield, selectedFiles: [Int]? = nil) {
        self.infoHashHex = infoHashHex
        self.name = name
        self.selectedFiles = selectedFiles
        self.torrentBytes = torrentBytes
        self.verified = verified
    }

    /// The hex hash that names a torrent's state file: v1 when present, else v2.
    public static func key(_ hashes: InfoHashes) -> String { hashes.v1Hex ?? hashes.v2Hex! }

    /// `OUT/.tt/<hex>.resume`.
    public static func path(output: String, infoHashes: InfoHashes) -> String {
        "\(output)/\(directoryName)/\(key(infoHashes)).\(fileExtension)"
    }

    /// `OUT/.tt/<hex>.parts`: bytes of unselected files that share a piece with selected ones.
    public static func partsPath(output: String, infoHashes: InfoHashes) -> String {
        "\(output)/\(directoryName)/\(key(infoHashes)).parts"
    }

    // MARK: - Encoding

    public func encoded() -> [UInt8] {
        var pairs: [(String, BencodeValue)] = [
            ("format", .integer(Self.formatVersion)),
            ("info hash", .string(infoHashHex)),
            ("name", .string(name)),
            ("piece count", .integer(Int64(verified.pieceCount))),
            ("pieces", .string(verified.bytes)),
            ("torrent", .string(torrentBytes)),
        ]
        if let selectedFiles { pairs.append(("selected files", .list(selectedFiles.map { .integer(Int64($0)) }))) }
        return BencodeValue.dict(pairs).encoded()
    }

    public init(decoding bytes: [UInt8], path: String = "resume state") throws(StorageError) {
        let root: BencodeValue
        do { root = try BencodeDecoder(strictness: .lenient).decode(bytes).root } catch {
            throw .badResumeState(path: path, reason: "not bencode (\(error))")
        }
        guard root["format"]?.integerValue == Self.formatVersion else {
            throw .badResumeState(path: path, reason: "unknown format (want \(Self.formatVersion))")
        }
        guard let hash = root["info hash"]?.textValue, let name = root["name"]?.textValue,
              let count = root["piece count"]?.integerValue, count >= 0, count < Int64(Int32.max),
              let pieces = root["pieces"]?.bytesValue, let torrent = root["torrent"]?.bytesValue else {
            throw .badResumeState(path: path, reason: "a required key is missing or has the wrong type")
        }
        guard let verified = Bitfield(bytes: pieces, pieceCount: Int(count)) else {
            throw .badResumeState(path: path, reason: "'pieces' does not fit 'piece count' \(count)")
        }
        var selected: [Int]? = nil
        if let list = root["selected files"] {
            guard let items = list.listValue?.compactMap({ $0.integerValue }), items.count == list.listValue?.count,
                  items.allSatisfy({ $0 >= 0 && $0 < Int64(Int32.max) }) else {
                throw .badResumeState(path: path, reason: "'selected files' is not a list of file indexes")
            }
            selected = items.map { Int($0) }
        }
        self.init(infoHashHex: hash, name: name, torrentBytes: torrent, verified: verified, selectedFiles: selected)
    }

    // MARK: - Files

    public static func load(path: String) throws(StorageError) -> ResumeState {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw .io(path: path, operation: "read", errno: EACCES) }
            throw .missing(path: path)
        }
        return try ResumeState(decoding: [UInt8](data), path: path)
    }

    /// The state to resume a download from: nil without a word when there is no file; nil and the
    /// reason when the file is unreadable, corrupt, truncated or for another torrent — the caller
    /// then trusts nothing and re-checks everything on disk.
    public static func loadForResume(path: String, key: String, pieceCount: Int) -> (state: ResumeState?, problem: String?) {
        guard FileManager.default.fileExists(atPath: path) else { return (nil, nil) }
        let state: ResumeState
        do { state = try load(path: path) } catch { return (nil, "\(error); re-checking everything on disk") }
        guard state.infoHashHex == key else {
            return (nil, "\(path) is for another torrent (\(state.infoHashHex.prefix(64).debugDescription)); re-checking everything on disk")
        }
        guard state.verified.pieceCount == pieceCount else {
            return (nil, "\(path) records \(state.verified.pieceCount) pieces, the torrent has \(pieceCount); re-checking everything on disk")
        }
        return (state, nil)
    }

    /// Saves to `OUT/.tt/<hex>.resume`, creating `.tt/`; returns the path.
    @discardableResult
    public func save(output: String) throws(StorageError) -> String {
        let folder = "\(output)/\(Self.directoryName)"
        if mkdir(folder, 0o755) != 0 && errno != EEXIST { throw .io(path: folder, operation: "mkdir", errno: errno) }
        let path = "\(folder)/\(infoHashHex).\(Self.fileExtension)"
        try save(to: path)
        return path
    }

    /// Temporary file, fsync, rename, fsync of the folder.
    public func save(to path: String) throws(StorageError) {
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: temporary, operation: "open", errno: errno) }
        let bytes = encoded()
        let failure: StorageError? = bytes.withUnsafeBytes { raw -> StorageError? in
            var done = 0
            while done < raw.count {
                let written = write(fd, raw.baseAddress! + done, raw.count - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    return .io(path: temporary, operation: "write", errno: errno)
                }
                done += written
            }
            return fsync(fd) == 0 ? nil : .io(path: temporary, operation: "fsync", errno: errno)
        }
        close(fd)
        if let failure { unlink(temporary); throw failure }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw .io(path: path, operation: "rename", errno: code)
        }
        let folder = PathName.deletingLast(path)
        let folderFD = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderFD >= 0 { fsync(folderFD); close(folderFD) }
    }

    /// The states in `dirname(content)/.tt/` whose `name` is `basename(content)`, newest first:
    /// how `tt verify OUT/<name>` finds the torrent of a download made by tt.
    public static func find(contentPath: String) -> [(path: String, state: ResumeState)] {
        let trimmed = contentPath.count > 1 && contentPath.hasSuffix("/") ? String(contentPath.dropLast()) : contentPath
        let name = PathName.last(trimmed)
        let folder = "\(PathName.deletingLast(trimmed).isEmpty ? "." : PathName.deletingLast(trimmed))/\(directoryName)"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        var found: [(path: String, state: ResumeState, modified: Int)] = []
        for entry in entries where entry.hasSuffix(".\(fileExtension)") {
            let path = "\(folder)/\(entry)"
            guard let state = try? load(path: path), state.name == name else { continue }
            var info = stat()
            stat(path, &info)
            found.append((path, state, info.st_mtim.tv_sec))
        }
        return found.sorted { $0.modified > $1.modified }.map { ($0.path, $0.state) }
    }
}
