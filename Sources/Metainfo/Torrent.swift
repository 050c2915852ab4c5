import Bencode
import Glibc
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
    /// Concatenated 20-byte SHA-1 hashes, one per piece (empty for v2-only torrents); a copy made on
    /// each use (`tt info` never needs it; `pieceHash` reads in place).
    public var pieceHashes: [UInt8] { Array(piecesSource[piecesRange]) }
    /// Where the hashes lie: normally inside `infoBytes` itself (no copy of a 10 MB `pieces`).
    var piecesSource: [UInt8]
    var piecesRange: Range<Int>
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
    /// Rules of the ambiguous kind this torrent breaks (see `MetainfoRule`); only a lenient
    /// load returns a torrent that has any.
    public var problems: [MetainfoProblem]
    /// The name's bytes, only when they are not UTF-8 (`name` then holds libtorrent's repair).
    public var rawName: [UInt8]?

    /// The name for a terminal: control characters and non-UTF-8 bytes escaped.
    public var terminalName: String { rawName.map { TerminalText.escape(bytes: $0) } ?? TerminalText.escape(name) }
    /// Bytes of BEP 47 pad files.
    public var padLength: Int64 { files.reduce(0) { $1.isPadding ? $0 + $1.length : $0 } }

    /// Length of the v1 byte stream that pieces cover (pad files included).
    public var totalLength: Int64 { layout.totalLength }
    /// Bytes of real content: what lands on disk (pad files left out).
    public var contentLength: Int64 { files.reduce(0) { $1.isPadding ? $0 : $0 + $1.length } }
    public var pieceCount: Int { layout.pieceCount }
    public var trackers: [String] { trackerTiers.flatMap { $0 } }

    /// The SHA-1 hash of a piece (v1 and hybrid torrents).
    public func pieceHash(_ piece: PieceIndex) -> ArraySlice<UInt8>? {
        guard !piecesRange.isEmpty else { return nil }
        let start = piecesRange.lowerBound + piece.value * 20
        return piecesSource[start..<start + 20]
    }

    // MARK: - Parsing

    /// Parses a .torrent. Torrents breaking an `invalid` rule always throw; `ambiguous` ones throw
    /// unless `lenient`, which returns them with `problems` and a warning for each.
    public init(bytes: [UInt8], lenient: Bool = false) throws(MetainfoError) {
        var result: Result<Torrent, MetainfoError>!
        bytes.withUnsafeBufferPointer { buffer in
            do throws(MetainfoError) { result = .success(try Torrent(buffer: buffer, lenient: lenient)) } catch { result = .failure(error) }
        }
        self = try result.get()
    }

    /// As `init(bytes:lenient:)` over memory the caller owns (a mapped file); only the info
    /// dictionary's bytes are copied.
    public init(buffer bytes: UnsafeBufferPointer<UInt8>, lenient: Bool = false) throws(MetainfoError) {
        let document: BencodeDocument
        do {
            var decoder = BencodeDecoder(strictness: .lenient)
            decoder.uncopiedPieces = .inInfo
            document = try decoder.decode(bytes)
        } catch {
            throw .bencode(error)
        }
        guard case .dictionary = document.root else {
            throw .invalid("the top level is not a dictionary")
        }
        guard let infoSpan = document.span(ofTopLevelKey: "info"), let info = document.root["info"] else {
            throw .invalid("no 'info' dictionary")
        }
        let infoBytes = Self.copy(UnsafeBufferPointer(rebasing: bytes[infoSpan]))
        let pieces = document.piecesSpan.map { ($0.lowerBound - infoSpan.lowerBound)..<($0.upperBound - infoSpan.lowerBound) }
        try self.init(infoBytes: infoBytes, info: info, root: document.root, piecesSpan: pieces, lenient: lenient)
        let inInfo = document.warnings.filter { infoSpan.contains($0.offset) }
        for warning in document.warnings {
            let place = inInfo.contains(warning) ? " (inside the info dictionary; the info hash uses its raw bytes)" : ""
            warnings.insert("bencode \(warning)\(place)", at: 0)
        }
    }

    /// Builds a torrent from a bare info dictionary (as fetched with BEP 9), with no trackers.
    public init(infoBytes: [UInt8], lenient: Bool = false) throws(MetainfoError) {
        let document: BencodeDocument
        do {
            var decoder = BencodeDecoder(strictness: .lenient)
            decoder.uncopiedPieces = .atTopLevel
            document = try decoder.decode(infoBytes)
        } catch {
            throw .bencode(error)
        }
        try self.init(infoBytes: infoBytes, info: document.root, root: .dictionary([]), piecesSpan: document.piecesSpan, lenient: lenient)
    }

    /// `piecesSpan`: where in `infoBytes` the `pieces` string is when the decoder left it out of `info`.
    init(infoBytes: [UInt8], info: BencodeValue, root: BencodeValue, piecesSpan: Range<Int>?, lenient: Bool) throws(MetainfoError) {
        guard case .dictionary = info else { throw .invalid("'info' is not a dictionary") }
        self.infoBytes = infoBytes
        self.warnings = []

        guard let nameBytes = (info["name.utf-8"] ?? info["name"])?.bytesValue else { throw .invalid("info has no 'name' string") }
        let (name, rawName) = Torrent.decodeName(nameBytes)
        guard !name.isEmpty, name != ".", name != ".." else {
            throw .rejected(MetainfoProblem(.badName, "info 'name' is \(name.isEmpty ? "empty" : "'\(name)'")"))
        }
        self.name = name
        self.rawName = rawName

        guard let rawPieceLength = info["piece length"]?.integerValue else {
            throw .invalid("info has no integer 'piece length'")
        }
        guard rawPieceLength > 0 && rawPieceLength <= Int64(Torrent.maxPieceLength) else {
            throw .rejected(MetainfoProblem(.pieceLength, "info 'piece length' \(rawPieceLength) is out of range (1 byte to 512 MiB)"))
        }
        self.pieceLength = Int(rawPieceLength)

        let metaVersion = info["meta version"]?.integerValue
        let hasV1 = info["pieces"] != nil
        let hasV2 = metaVersion == 2 && info["file tree"] != nil
        if let metaVersion, metaVersion != 2 {
            throw .invalid("unsupported 'meta version' \(metaVersion)")
        }
        guard hasV1 || hasV2 else { throw .invalid("info has neither 'pieces' (v1) nor 'file tree' (v2)") }
        self.version = hasV1 && hasV2 ? .hybrid : (hasV2 ? .v2 : .v1)
        if hasV2 {
            guard pieceLength >= PieceLayout.blockSize, pieceLength & (pieceLength - 1) == 0 else {
                throw .rejected(MetainfoProblem(.v2PieceLength, "info 'piece length' \(pieceLength) is not a power of two of at least 16 KiB, as v2 needs"))
            }
        }

        self.infoHashes = InfoHashes(v1: hasV1 ? SHA1.hash(infoBytes) : nil,
                                     v2: hasV2 ? SHA256.hash(infoBytes) : nil)

        // Files: the v1 list is authoritative for piece layout when present.
        var files: [TorrentFile] = []
        var isMultiFile = false
        if hasV1 {
            (files, isMultiFile) = try Torrent.parseV1Files(info: info, name: name, rawName: rawName)
        } else {
            (files, isMultiFile) = try Torrent.parseFileTree(info: info, name: name, pieceLength: pieceLength)
        }
        self.files = files
        self.isMultiFile = isMultiFile
        // The piece stream: v1 files back to back (pads included); v2 files each from a piece boundary.
        let total = hasV1 ? files.reduce(Int64(0)) { $0 + $1.length } : files.map { $0.offset + $0.length }.max() ?? 0
        guard files.contains(where: { !$0.isPadding && $0.length > 0 }) else {
            throw .rejected(MetainfoProblem(.zeroLength, "the torrent holds no data (every file is empty)"))
        }
        if hasV2 && hasV1 {
            // Hybrid: the v2 tree must describe the v1 files; attach its roots to them.
            let (treeFiles, _) = try Torrent.parseFileTree(info: info, name: name, pieceLength: pieceLength)
            try Torrent.checkHybrid(v1: files, v2: treeFiles)
            var roots = treeFiles.makeIterator()
            for index in self.files.indices where !self.files[index].isPadding {
                self.files[index].piecesRoot = roots.next()?.piecesRoot
            }
        }
        let (pieceCount, _) = (total / Int64(pieceLength)).addingReportingOverflow(total % Int64(pieceLength) == 0 ? 0 : 1)
        guard pieceCount <= Int64(Torrent.maxPieceCount) else {
            throw .rejected(MetainfoProblem(.tooManyPieces, "\(total) bytes in pieces of \(pieceLength) make \(pieceCount) pieces, more than \(Torrent.maxPieceCount)"))
        }
        self.layout = PieceLayout(pieceLength: pieceLength, totalLength: total)

        if hasV1 {
            guard let copied = info["pieces"]?.bytesValue else { throw .invalid("info 'pieces' is not a byte string") }
            let pieces = piecesSpan ?? 0..<copied.count
            guard pieces.count % 20 == 0 else {
                throw .rejected(MetainfoProblem(.pieceCount, "info 'pieces' is \(pieces.count) bytes, not a multiple of 20"))
            }
            guard pieces.count / 20 == layout.pieceCount else {
                throw .rejected(MetainfoProblem(.pieceCount, "info 'pieces' holds \(pieces.count / 20) hashes but \(total) bytes in pieces of \(pieceLength) make \(layout.pieceCount)"))
            }
            (self.piecesSource, self.piecesRange) = piecesSpan == nil ? (copied, pieces) : (infoBytes, pieces)
        } else {
            (self.piecesSource, self.piecesRange) = ([], 0..<0)
        }

        // Piece layers (v2): required in a .torrent (BEP 52), checked against each file's root.
        var layers: [[UInt8]: [UInt8]] = [:]
        if hasV2, let value = root["piece layers"] {
            guard let entries = value.dictionaryEntries else { throw .invalid("'piece layers' is not a dictionary") }
            for entry in entries {
                guard let hashes = entry.value.bytesValue, hashes.count % 32 == 0 else {
                    throw .rejected(MetainfoProblem(.pieceLayerSize, "the 'piece layers' entry for \(Hex.encode(entry.key)) is not a multiple of 32 bytes"))
                }
                layers[entry.key] = hashes
            }
        }
        self.pieceLayers = layers
        // A hybrid without any 'piece layers' is what BEP 9 metadata gives (tt download wraps it in
        // a .torrent): its v1 hashes verify the data, so only present layers are checked.
        let layersOptional = hasV1 && root["piece layers"] == nil
        if hasV2 && root["info"] != nil && !layersOptional {
            try Torrent.checkPieceLayers(layers, files: self.files, pieceLength: pieceLength)
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

        // Ambiguous torrents: refused unless lenient, then each problem is a warning.
        var (problems, unsafe) = Torrent.pathProblems(name: name, files: self.files, isMultiFile: isMultiFile)
        // Duplicate keys anywhere (two 'info' or 'announce' keys are as much a guess as two 'name's).
        let whole = root.dictionaryEntries?.isEmpty == false
        problems = Torrent.duplicateKeys(whole ? root : info, label: whole ? "the torrent" : "info") + problems
        self.unsafePaths = unsafe.map { (path: $0.0, reason: $0.1) }
        self.problems = problems
        if let first = problems.first, !lenient { throw .rejected(first) }
        for problem in problems {
            warnings.append("\(problem.message) (\(problem.rule.kind); every command but 'info --lenient' refuses this torrent)")
        }
        if rawName != nil || self.files.contains(where: { $0.rawPath != nil }) {
            warnings.append("some names are not UTF-8: shown with \\xNN, written to disk with '_' for each bad byte (as libtorrent does)")
        }
    }
}

extension Torrent {
    /// A copy of the info dictionary's bytes. Megabytes copied into a new array land in fresh pages: a
    /// fault and a cleared page per 4 KiB, which cost more than the copy and the SHA-1 after it (`tt info`
    /// of a 10 MB torrent). With transparent huge pages on request (madvise, the usual setting), asking
    /// for them first makes that one fault per 2 MiB; elsewhere the advice is ignored.
    static func copy(_ source: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let hugePage = 2 << 20
        guard source.count >= 2 * hugePage, let from = source.baseAddress else { return Array(source) }
        return [UInt8](unsafeUninitializedCapacity: source.count) { buffer, count in
            let start = Int(bitPattern: buffer.baseAddress!)
            let first = (start + hugePage - 1) & ~(hugePage - 1)
            let end = (start + source.count) & ~(hugePage - 1)
            if end > first { _ = madvise(UnsafeMutableRawPointer(bitPattern: first), end - first, MADV_HUGEPAGE) }
            buffer.baseAddress!.initialize(from: from, count: source.count)
            count = source.count
        }
    }
}
