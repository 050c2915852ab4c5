import Bencode
import Hashing

/// A parsed .torrent file (BEP 3, 12, 19, 27, 47, 52).
///
/// The info hash is computed over the info dictionary's bytes exactly as they stand
/// in the file, so torrents with unsorted keys or odd integers keep their identity.
public struct Torrent: Sendable {
    public enum Version: String, Sendable {
        case v1, v2, hybrid
    }

    public var version: Version
    public var infoHashes: InfoHashes
    /// The raw bencoded info dictionary (what BEP 9 serves as metadata).
    public var infoBytes: [UInt8]
    public var name: String
    public var pieceLength: Int
    public var layout: PieceLayout
    /// Concatenated 20-byte SHA-1 hashes, one per piece (empty for v2-only torrents).
    public var pieceHashes: [UInt8]
    public var files: [TorrentFile]
    /// True when the info dictionary has `files` (multi-file) rather than `length`.
    public var isMultiFile: Bool
    /// Announce URLs by tier (BEP 12); a lone `announce` is one tier of one.
    public var trackerTiers: [[String]]
    public var isPrivate: Bool
    public var comment: String?
    public var createdBy: String?
    public var creationDate: Int64?
    /// BEP 19 web seeds.
    public var webSeeds: [String]
    /// BEP 52 piece layers: pieces root → concatenated SHA-256 hashes of each piece.
    public var pieceLayers: [[UInt8]: [UInt8]]
    /// Problems that do not stop us reading the torrent (non-canonical bencode, unsafe paths, …).
    public var warnings: [String]
    /// Paths that `download` must refuse, with why.
    public var unsafePaths: [(path: String, reason: UnsafePathReason)]

    /// Length of the v1 byte stream that pieces cover (pad files included).
    public var totalLength: Int64 { layout.totalLength }
    /// Bytes of real content: what lands on disk (pad files left out).
    public var contentLength: Int64 { files.reduce(0) { $1.isPadding ? $0 : $0 + $1.length } }
    public var pieceCount: Int { layout.pieceCount }
    public var trackers: [String] { trackerTiers.flatMap { $0 } }

    /// The SHA-1 hash of a piece (v1 and hybrid torrents).
    public func pieceHash(_ piece: PieceIndex) -> ArraySlice<UInt8>? {
        guard !pieceHashes.isEmpty else { return nil }
        let start = piece.value * 20
        return pieceHashes[start..<start + 20]
    }

    // MARK: - Parsing

    public init(bytes: [UInt8]) throws(MetainfoError) {
        let document: BencodeDocument
        do {
            document = try BencodeDecoder(strictness: .lenient).decode(bytes)
        } catch {
            throw .bencode(error)
        }
        guard case .dictionary = document.root else {
            throw .invalid("the top level is not a dictionary")
        }
        guard let infoSpan = document.span(ofTopLevelKey: "info"), let info = document.root["info"] else {
            throw .invalid("no 'info' dictionary")
        }
        let infoBytes = Array(bytes[infoSpan])
        try self.init(infoBytes: infoBytes, info: info, root: document.root)
        let inInfo = document.warnings.filter { infoSpan.contains($0.offset) }
        for warning in document.warnings {
            let place = inInfo.contains(warning) ? " (inside the info dictionary; the info hash uses its raw bytes)" : ""
            warnings.insert("bencode \(warning)\(place)", at: 0)
        }
    }

    /// Builds a torrent from a bare info dictionary (as fetched with BEP 9), with no trackers.
    public init(infoBytes: [UInt8]) throws(MetainfoError) {
        let info: BencodeValue
        do {
            info = try BencodeDecoder(strictness: .lenient).decode(infoBytes).root
        } catch {
            throw .bencode(error)
        }
        try self.init(infoBytes: infoBytes, info: info, root: .dictionary([]))
    }

    init(infoBytes: [UInt8], info: BencodeValue, root: BencodeValue) throws(MetainfoError) {
        guard case .dictionary = info else { throw .invalid("'info' is not a dictionary") }
        self.infoBytes = infoBytes
        self.warnings = []
        self.unsafePaths = []

        guard let nameValue = info["name"] else { throw .invalid("info has no 'name'") }
        guard let name = nameValue.textValue else { throw .invalid("info 'name' is not a UTF-8 string") }
        self.name = name

        guard let rawPieceLength = info["piece length"]?.integerValue else {
            throw .invalid("info has no integer 'piece length'")
        }
        guard rawPieceLength > 0 && rawPieceLength <= 1 << 30 else {
            throw .invalid("piece length \(rawPieceLength) is out of range (1 byte to 1 GiB)")
        }
        self.pieceLength = Int(rawPieceLength)

        let metaVersion = info["meta version"]?.integerValue
        let hasV1 = info["pieces"] != nil
        let hasV2 = metaVersion == 2 && info["file tree"] != nil
        if metaVersion != nil && metaVersion != 2 {
            throw .invalid("unsupported 'meta version' \(metaVersion!)")
        }
        guard hasV1 || hasV2 else { throw .invalid("info has neither 'pieces' (v1) nor 'file tree' (v2)") }
        self.version = hasV1 && hasV2 ? .hybrid : (hasV2 ? .v2 : .v1)

        self.infoHashes = InfoHashes(v1: hasV1 ? SHA1.hash(infoBytes) : nil,
                                     v2: hasV2 ? SHA256.hash(infoBytes) : nil)

        // Files: the v1 list is authoritative for piece layout when present.
        var files: [TorrentFile] = []
        var isMultiFile = false
        if hasV1 {
            (files, isMultiFile) = try Torrent.parseV1Files(info: info, name: name)
        } else {
            (files, isMultiFile) = try Torrent.parseFileTree(info: info, name: name, pieceLength: pieceLength)
        }
        self.files = files
        self.isMultiFile = isMultiFile
        // The piece stream: v1 files back to back (pads included); v2 files each from a piece boundary.
        let total = hasV1 ? files.reduce(Int64(0)) { $0 + $1.length } : files.map { $0.offset + $0.length }.max() ?? 0
        if hasV2 && hasV1 {
            // Hybrid: attach v2 roots to the matching v1 files by path.
            let (treeFiles, _) = try Torrent.parseFileTree(info: info, name: name, pieceLength: pieceLength)
            var roots: [[String]: [UInt8]] = [:]
            for file in treeFiles { roots[file.path] = file.piecesRoot }
            for index in self.files.indices { self.files[index].piecesRoot = roots[self.files[index].path] }
            let v1Real = self.files.filter { !$0.isPadding }.map { [$0.path, [String($0.length)]] }
            let v2Real = treeFiles.map { [$0.path, [String($0.length)]] }
            if v1Real != v2Real { warnings.append("hybrid torrent: the v1 file list and the v2 file tree disagree") }
        }
        self.layout = PieceLayout(pieceLength: pieceLength, totalLength: total)

        if hasV1 {
            guard let pieces = info["pieces"]?.bytesValue else { throw .invalid("info 'pieces' is not a byte string") }
            guard pieces.count % 20 == 0 else {
                throw .invalid("'pieces' is \(pieces.count) bytes, not a multiple of 20")
            }
            guard pieces.count / 20 == layout.pieceCount else {
                throw .invalid("'pieces' holds \(pieces.count / 20) hashes but \(total) bytes in pieces of \(pieceLength) make \(layout.pieceCount)")
            }
            self.pieceHashes = pieces
        } else {
            self.pieceHashes = []
        }

        // Piece layers (v2): validated for shape, kept for verify.
        var layers: [[UInt8]: [UInt8]] = [:]
        if hasV2, let entries = root["piece layers"]?.dictionaryEntries {
            for entry in entries {
                guard let hashes = entry.value.bytesValue, hashes.count % 32 == 0 else {
                    throw .invalid("a 'piece layers' entry is not a multiple of 32 bytes")
                }
                layers[entry.key] = hashes
            }
        }
        self.pieceLayers = layers
        let lengthOfPiece = Int64(pieceLength)
        if hasV2 && root["info"] != nil && layers.isEmpty && files.contains(where: { $0.length > lengthOfPiece }) {
            warnings.append("v2 torrent without 'piece layers': files larger than a piece cannot be verified with SHA-256")
        }

        // Trackers (BEP 12): announce-list wins when present.
        var tiers: [[String]] = []
        if let list = root["announce-list"]?.listValue {
            for tier in list {
                let urls = (tier.listValue ?? []).compactMap(\.textValue).filter { !$0.isEmpty }
                if !urls.isEmpty { tiers.append(urls) }
            }
        }
        if tiers.isEmpty, let announce = root["announce"]?.textValue, !announce.isEmpty {
            tiers = [[announce]]
        }
        self.trackerTiers = tiers

        self.isPrivate = info["private"]?.integerValue == 1
        self.comment = root["comment"]?.textValue
        self.createdBy = root["created by"]?.textValue
        self.creationDate = root["creation date"]?.integerValue
        switch root["url-list"] {
        case .string(let bytes)?: self.webSeeds = String(validatingUTF8Bytes: bytes).map { [$0] } ?? []
        case .list(let items)?: self.webSeeds = items.compactMap(\.textValue)
        default: self.webSeeds = []
        }

        // Unsafe paths: reported here, refused by download.
        if let reason = UnsafePathReason.check(name) {
            unsafePaths.append((name, reason))
        }
        for file in files where isMultiFile {
            for component in file.path {
                if let reason = UnsafePathReason.check(component) {
                    unsafePaths.append((file.displayPath, reason))
                    break
                }
            }
        }
        for (path, reason) in unsafePaths {
            warnings.append("unsafe path \"\(path)\": \(reason.rawValue); download will refuse this torrent")
        }
    }

    static func parseV1Files(info: BencodeValue, name: String) throws(MetainfoError) -> ([TorrentFile], Bool) {
        if let length = info["length"] {
            if case .rawInteger(let digits) = length { throw .invalid("info 'length' is written non-canonically (i\(digits)e)") }
            guard let value = length.integerValue, value >= 0 else { throw .invalid("info 'length' is not a non-negative integer") }
            if info["files"] != nil { throw .invalid("info has both 'length' and 'files'") }
            return ([TorrentFile(path: [name], length: value, offset: 0)], false)
        }
        guard let list = info["files"]?.listValue else { throw .invalid("info has neither 'length' nor a 'files' list") }
        var files: [TorrentFile] = []
        files.reserveCapacity(list.count)
        var offset: Int64 = 0
        for (index, item) in list.enumerated() {
            guard let length = item["length"]?.integerValue, length >= 0 else {
                throw .invalid("file \(index) has no non-negative integer 'length'")
            }
            let pathValue = item["path.utf-8"] ?? item["path"]
            guard let components = pathValue?.listValue else {
                throw .invalid("file \(index) has no 'path' list")
            }
            var path: [String] = []
            path.reserveCapacity(components.count)
            for component in components {
                guard let text = component.textValue else {
                    throw .invalid("file \(index) has a path component that is not a UTF-8 string")
                }
                path.append(text)
            }
            if path.isEmpty { path = [""] }
            let attributes = item["attr"]?.textValue ?? ""
            let (sum, overflow) = offset.addingReportingOverflow(length)
            guard !overflow else { throw .invalid("total length overflows") }
            files.append(TorrentFile(path: path, length: length, offset: offset,
                                     isPadding: attributes.contains("p"), attributes: attributes))
            offset = sum
        }
        guard !files.isEmpty else { throw .invalid("'files' is empty") }
        return (files, true)
    }

    /// Walks a BEP 52 file tree; files are listed in key order, each starting on a piece boundary.
    static func parseFileTree(info: BencodeValue, name: String, pieceLength: Int) throws(MetainfoError) -> ([TorrentFile], Bool) {
        guard let tree = info["file tree"], case .dictionary = tree else { throw .invalid("'file tree' is not a dictionary") }
        var files: [TorrentFile] = []
        var offset: Int64 = 0
        func walk(_ node: BencodeValue, _ path: [String], _ depth: Int) throws(MetainfoError) {
            guard depth < 64 else { throw .invalid("'file tree' is nested too deep") }
            guard let entries = node.dictionaryEntries else { throw .invalid("'file tree' node is not a dictionary") }
            for entry in entries {
                if entry.key.isEmpty {
                    guard let length = entry.value["length"]?.integerValue, length >= 0 else {
                        throw .invalid("file tree entry \(path.joined(separator: "/")) has no length")
                    }
                    let root = entry.value["pieces root"]?.bytesValue
                    if let root, root.count != 32 { throw .invalid("'pieces root' of \(path.joined(separator: "/")) is not 32 bytes") }
                    files.append(TorrentFile(path: path, length: length, offset: offset, piecesRoot: root))
                    let pieces = (length + Int64(pieceLength) - 1) / Int64(pieceLength)
                    offset += pieces * Int64(pieceLength)
                    continue
                }
                guard let component = String(validatingUTF8Bytes: entry.key) else {
                    throw .invalid("file tree has a name that is not UTF-8")
                }
                try walk(entry.value, path + [component], depth + 1)
            }
        }
        try walk(tree, [], 0)
        guard !files.isEmpty else { throw .invalid("'file tree' is empty") }
        // A single file whose tree key is the torrent name is a single-file torrent. Offsets stay
        // piece-aligned (BEP 52): every file starts a new piece.
        return (files, !(files.count == 1 && files[0].path == [name]))
    }
}
