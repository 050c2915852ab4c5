import Bencode
import Dispatch
import Glibc
import FoundationEssentials
import Hashing
import Synchronization

/// Makes a .torrent from a file or folder: v1 (default), v2 or hybrid (BEP 52).
///
/// Hashing goes through `PieceHashPipeline`, as `tt verify` does: all cores, one buffer
/// per core whatever the content size. Files are taken in byte order of their paths, so the
/// same tree gives the same torrent.
public struct TorrentCreator: Sendable {
    public struct Options: Sendable {
        public var trackerTiers: [[String]] = []
        public var webSeeds: [String] = []
        public var comment: String?
        public var createdBy: String? = nil
        /// Seconds since 1970; nil leaves the date out (reproducible output).
        public var creationDate: Int64?
        public var isPrivate = false
        public var pieceLength: Int?
        public var version: Torrent.Version = .v1
        public var name: String?
        public var source: String?
        public init() {}
    }

    public struct InputFile: Sendable {
        public var path: [String]
        public var diskPath: String
        public var length: Int64
        /// BEP 47: `x` for executables, `l` for symlinks (which then have `symlinkTarget` and no data).
        public var attributes: String = ""
        /// A symlink's target, relative to the torrent's root folder.
        public var symlinkTarget: [String]? = nil
    }

    public enum CreateError: Error, CustomStringConvertible {
        case noSuchPath(String)
        case unreadable(String, String)
        case empty(String)
        case badPieceLength(Int)

        public var description: String {
            switch self {
            case .noSuchPath(let path): return "\(path): no such file or directory"
            case .unreadable(let path, let why): return "\(path): \(why)"
            case .empty(let path): return "\(path): no data to put in a torrent (no files, or every file is empty)"
            case .badPieceLength(let length): return "piece size \(length) must be a power of two of at least 16 KiB"
            }
        }
    }

    public var options: Options
    public init(options: Options) { self.options = options }

    /// Lists the files below `root` (or `root` itself) in canonical order. Executables get BEP 47's
    /// `x`; a symlink whose target stays inside the folder becomes a BEP 47 link (`l`); a symlink
    /// leading outside (or nowhere) is left out and reported through `skipped`: `tt seed` and
    /// `tt verify` never read through such a link, so a torrent holding it could not be served.
    public static func scan(_ root: String, skipped: ((String) -> Void)? = nil) throws(CreateError) -> (name: String, files: [InputFile], isDirectory: Bool) {
        guard let kind = PathName.kind(root) else { throw .noSuchPath(root) }
        let name = PathName.resolvedName(root)
        if kind != .directory {
            var info = stat()
            guard stat(root, &info) == 0 else { throw .unreadable(root, "cannot stat") }
            let attributes = info.st_mode & 0o111 != 0 ? "x" : ""
            return (name, [InputFile(path: [name], diskPath: root, length: Int64(info.st_size), attributes: attributes)], false)
        }
        let realRoot = PathName.realPath(root) ?? root
        var files: [InputFile] = []
        func walk(_ folder: String, _ relative: [String], depth: Int) throws(CreateError) {
            guard depth < 64 else { throw .unreadable(folder, "folders nested too deep (a symlink loop?)") }
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch { throw .unreadable(folder, "cannot list the folder") }
            for child in names {
                let full = folder + "/" + child
                var link = stat()
                guard lstat(full, &link) == 0 else { continue }
                if link.st_mode & S_IFMT == S_IFLNK {
                    guard let target = PathName.realPath(full), target.hasPrefix(realRoot + "/") else {
                        skipped?((relative + [child]).joined(separator: "/"))
                        continue
                    }
                    let inside = target.dropFirst(realRoot.count + 1).split(separator: "/").map(String.init)
                    files.append(InputFile(path: relative + [child], diskPath: full, length: 0, attributes: "l", symlinkTarget: inside))
                    continue
                }
                var info = stat()
                guard stat(full, &info) == 0 else { continue }
                if info.st_mode & S_IFMT == S_IFDIR {
                    try walk(full, relative + [child], depth: depth + 1)
                } else if info.st_mode & S_IFMT == S_IFREG {
                    files.append(InputFile(path: relative + [child], diskPath: full, length: Int64(info.st_size),
                                           attributes: info.st_mode & 0o111 != 0 ? "x" : ""))
                }
            }
        }
        try walk(root, [], depth: 0)
        files.sort { lhs, rhs in
            lhs.path.lexicographicallyPrecedes(rhs.path) { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        }
        guard !files.isEmpty else { throw .empty(root) }
        return (name, files, true)
    }

    /// A piece size aiming at ~1000–2000 pieces, between 16 KiB and 16 MiB.
    public static func automaticPieceLength(totalLength: Int64) -> Int {
        var length = 16 * 1024
        while length < 16 * 1024 * 1024 && totalLength / Int64(length) > 2000 { length *= 2 }
        return length
    }

    /// Creates the torrent's bytes. `progress` gets (bytes hashed, total bytes).
    public func create(path root: String, progress: (@Sendable (Int64, Int64) -> Void)? = nil,
                       skipped: ((String) -> Void)? = nil) throws(CreateError) -> [UInt8] {
        let (scannedName, files, isDirectory) = try Self.scan(root, skipped: skipped)
        let name = options.name ?? scannedName
        let total = files.reduce(Int64(0)) { $0 + $1.length }
        // A torrent must hold at least one byte (tt-info(1) rule zero_length; libtorrent agrees).
        guard total > 0 else { throw .empty(root) }
        let pieceLength = options.pieceLength ?? Self.automaticPieceLength(totalLength: total)
        guard pieceLength >= 16 * 1024, pieceLength & (pieceLength - 1) == 0 else { throw .badPieceLength(pieceLength) }

        var info: [BencodeEntry] = [
            BencodeEntry("name", .string(name)),
            BencodeEntry("piece length", .integer(Int64(pieceLength))),
        ]
        if options.isPrivate { info.append(BencodeEntry("private", .integer(1))) }
        if let source = options.source { info.append(BencodeEntry("source", .string(source))) }

        let wantsV1 = options.version != .v2
        let wantsV2 = options.version != .v1
        let progressTotal = total * Int64((wantsV1 ? 1 : 0) + (wantsV2 ? 1 : 0))
        let counter = ProgressCounter(total: progressTotal, report: progress)
        var layers: [BencodeEntry] = []

        // One stream of pieces for every version: hybrid and v2 align each file to a piece boundary
        // with BEP 47 pad zeros, so each piece belongs to one file.
        var segments: [PieceSource.Segment] = []
        var listed: [BencodeValue] = []
        var v2Pieces: [V2Piece] = []
        var offset: Int64 = 0
        for (index, file) in files.enumerated() {
            segments.append(.init(path: file.diskPath, streamOffset: offset, length: file.length))
            var entry: [(String, BencodeValue)] = [("length", .integer(file.length)), ("path", .list(file.path.map { .string($0) }))]
            if !file.attributes.isEmpty { entry.append(("attr", .string(file.attributes))) }
            if let target = file.symlinkTarget { entry.append(("symlink path", .list(target.map { .string($0) }))) }
            listed.append(.dict(entry))
            if wantsV2 {
                var start: Int64 = 0
                while start < file.length {
                    v2Pieces.append(.init(dataLength: Int(min(Int64(pieceLength), file.length - start)), wholeSmallFile: file.length <= Int64(pieceLength)))
                    start += Int64(pieceLength)
                }
            }
            offset += file.length
            let remainder = offset % Int64(pieceLength)
            if wantsV2 && index < files.count - 1 && remainder != 0 {
                let pad = Int64(pieceLength) - remainder  // zeros: the stream between two segments
                listed.append(.dict([("attr", .string("p")), ("length", .integer(pad)),
                                     ("path", .list([.string(".pad"), .string(String(pad))]))]))
                offset += pad
            }
        }
        let planning = CreatePlanning(pieceLength: pieceLength, totalLength: offset, wantsV1: wantsV1, v2Pieces: wantsV2 ? v2Pieces : nil)
        let hashed = try Self.hashPieces(planning, source: PieceSource(segments: segments), counter: counter)

        if wantsV2 {
            var tree = FileTreeNode()
            var piece = 0
            let padding = Self.zeroSubtreeRoot(leaves: pieceLength / PieceHashPlan.leafSize)
            for file in files {
                let count = Int((file.length + Int64(pieceLength) - 1) / Int64(pieceLength))
                var root: [UInt8]?
                var layer: [UInt8]?
                if count == 1 {
                    root = Array(hashed.v2[piece * 32..<piece * 32 + 32])
                } else if count > 1 {
                    let flat = Array(hashed.v2[piece * 32..<(piece + count) * 32])
                    let hashes = (0..<count).map { Array(flat[$0 * 32..<$0 * 32 + 32]) }
                    root = Self.merkleRoot(hashes, width: Self.nextPowerOfTwo(count), padding: padding)
                    layer = flat
                }
                piece += count
                var leaf: [BencodeEntry] = [BencodeEntry("length", .integer(file.length))]
                if let root { leaf.append(BencodeEntry("pieces root", .string(root))) }
                if !file.attributes.isEmpty { leaf.append(BencodeEntry("attr", .string(file.attributes))) }
                if let target = file.symlinkTarget { leaf.append(BencodeEntry("symlink path", .list(target.map { .string($0) }))) }
                if let root, let layer { layers.append(BencodeEntry(key: root, value: .string(layer))) }
                tree.insert(path: isDirectory ? file.path : [name], leaf: .dictionary([BencodeEntry(key: [], value: .dictionary(leaf))]))
            }
            info.append(BencodeEntry("file tree", tree.value))
            info.append(BencodeEntry("meta version", .integer(2)))
        }
        if wantsV1 {
            info.append(BencodeEntry("pieces", .string(hashed.sha1)))
            if isDirectory {
                info.append(BencodeEntry("files", .list(listed)))
            } else {
                info.append(BencodeEntry("length", .integer(total)))
                if !files[0].attributes.isEmpty { info.append(BencodeEntry("attr", .string(files[0].attributes))) }
            }
        }

        var top: [BencodeEntry] = []
        if let first = options.trackerTiers.first?.first { top.append(BencodeEntry("announce", .string(first))) }
        if options.trackerTiers.count > 1 || (options.trackerTiers.first?.count ?? 0) > 1 {
            top.append(BencodeEntry("announce-list", .list(options.trackerTiers.map { .list($0.map { .string($0) }) })))
        }
        if let comment = options.comment { top.append(BencodeEntry("comment", .string(comment))) }
        if let createdBy = options.createdBy { top.append(BencodeEntry("created by", .string(createdBy))) }
        if let date = options.creationDate { top.append(BencodeEntry("creation date", .integer(date))) }
        top.append(BencodeEntry("info", .dictionary(info)))
        if !layers.isEmpty { top.append(BencodeEntry("piece layers", .dictionary(layers))) }
        if options.webSeeds.count == 1 {
            top.append(BencodeEntry("url-list", .string(options.webSeeds[0])))
        } else if !options.webSeeds.isEmpty {
            top.append(BencodeEntry("url-list", .list(options.webSeeds.map { .string($0) })))
        }
        return BencodeValue.dictionary(top).encoded()
    }

    // MARK: - v2 merkle trees

    static func nextPowerOfTwo(_ count: Int) -> Int {
        var width = 1
        while width < count { width *= 2 }
        return width
    }

    static func zeroSubtreeRoot(leaves: Int) -> [UInt8] {
        var hash = [UInt8](repeating: 0, count: 32)
        var width = leaves
        while width > 1 { hash = SHA256.hash(hash + hash); width /= 2 }
        return hash
    }

    /// Root over `nodes` padded to `width` (a power of two) with `padding`.
    public static func merkleRoot(_ nodes: [[UInt8]], width: Int, padding: [UInt8] = [UInt8](repeating: 0, count: 32)) -> [UInt8] {
        var level = nodes
        var pad = padding
        var size = width
        while level.count < size { level.append(pad) }
        while size > 1 {
            var next: [[UInt8]] = []
            next.reserveCapacity(size / 2)
            for index in stride(from: 0, to: size, by: 2) { next.append(SHA256.hash(level[index] + level[index + 1])) }
            level = next
            pad = SHA256.hash(pad + pad)
            size /= 2
        }
        return level[0]
    }
}

/// Nested dictionaries for a v2 file tree.
struct FileTreeNode {
    var children: [String: FileTreeNode] = [:]
    var leaf: BencodeValue?

    mutating func insert(path: [String], leaf: BencodeValue) {
        guard let first = path.first else { self.leaf = leaf; return }
        children[first, default: FileTreeNode()].insert(path: Array(path.dropFirst()), leaf: leaf)
    }

    var value: BencodeValue {
        if let leaf { return leaf }
        return .dictionary(children.map { BencodeEntry($0.key, $0.value.value) })
    }
}

/// Thread-safe byte counter that calls back as hashing advances.
final class ProgressCounter: @unchecked Sendable {
    private let done = Mutex<Int64>(0)
    let total: Int64
    let report: (@Sendable (Int64, Int64) -> Void)?

    init(total: Int64, report: (@Sendable (Int64, Int64) -> Void)?) {
        self.total = total
        self.report = report
    }

    func add(_ bytes: Int64) {
        let now = done.withLock { $0 += bytes; return $0 }
        report?(now, total)
    }
}
