import Hashing
import Metainfo

/// What each piece must hash to: SHA-1 from `pieces` (v1), SHA-256 merkle roots from the piece
/// layers (BEP 52), or both for hybrid torrents (a piece is good only when both agree).
public struct PieceHashes: Sendable {
    public let layout: FileLayout
    /// True when pieces are checked with SHA-1.
    public let checksV1: Bool
    /// True when (some) pieces are checked with SHA-256 piece layers.
    public let checksV2: Bool
    /// Why part of the torrent can only be checked one way (shown to the user as warnings).
    public let warnings: [String]
    private let v1: [UInt8]
    /// v2 expectations by index into `layout.files`.
    private let v2Files: [Int: V2File]

    struct V2File: Sendable {
        /// Concatenated piece hashes for files longer than a piece; nil when the root is the piece hash.
        let layer: [UInt8]?
        let root: [UInt8]
    }

    /// The v2 hash a piece must have, and how many 16 KiB leaves its subtree has.
    struct V2Expectation {
        let hash: ArraySlice<UInt8>
        let leaves: Int
        /// Bytes at the start of the piece that the hash covers.
        let length: Int
    }

    public init(torrent: Torrent, layout: FileLayout) throws(StorageError) {
        self.layout = layout
        self.v1 = torrent.pieceHashes
        self.checksV1 = !v1.isEmpty
        var warnings: [String] = []
        var v2Files: [Int: V2File] = [:]
        if torrent.version != .v1 {
            let pieceLength = Int64(layout.pieceLength)
            var aligned = true
            if torrent.version == .hybrid {
                for file in layout.files where !file.isPadding && file.length > 0 && file.offset % pieceLength != 0 {
                    warnings.append("hybrid torrent: \(file.displayPath) does not start on a piece boundary; checking with SHA-1 only")
                    aligned = false
                    break
                }
            }
            if aligned {
                for (index, file) in layout.files.enumerated() where !file.isPadding && file.length > 0 {
                    guard let root = file.piecesRoot else {
                        let message = "\(file.displayPath) has no 'pieces root'"
                        if torrent.version == .v2 { throw .badTorrent("v2 torrent: \(message); it cannot be checked") }
                        warnings.append("\(message); checking it with SHA-1 only")
                        continue
                    }
                    if file.length <= pieceLength {
                        v2Files[index] = V2File(layer: nil, root: root)
                        continue
                    }
                    let pieces = Int((file.length + pieceLength - 1) / pieceLength)
                    guard let layer = torrent.pieceLayers[root], layer.count == pieces * 32 else {
                        let message = "no usable piece layer for \(file.displayPath)"
                        if torrent.version == .v2 { throw .badTorrent("v2 torrent: \(message); it cannot be checked (a torrent from a magnet link lacks piece layers)") }
                        warnings.append("\(message); checking it with SHA-1 only")
                        continue
                    }
                    v2Files[index] = V2File(layer: layer, root: root)
                }
            }
        }
        self.v2Files = v2Files
        self.checksV2 = !v2Files.isEmpty
        self.warnings = warnings
    }

    /// True when `bytes` (the piece as stored: `layout.length(of:)` bytes) hashes as it should.
    public func matches(_ piece: PieceIndex, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var digest = digest(for: piece)
        digest.update(bytes)
        return digest.matches()
    }

    public func matches(_ piece: PieceIndex, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { matches(piece, $0) }
    }

    /// An incremental hasher for one piece (fed in order, any chunking).
    func digest(for piece: PieceIndex) -> PieceDigest {
        let expectedV1 = checksV1 ? v1[piece.value * 20..<piece.value * 20 + 20] : nil
        return PieceDigest(expectedV1: expectedV1, expectedV2: v2Expectation(piece))
    }

    /// How `PieceHashPipeline` must hash a piece for `judge`.
    func plan(_ piece: PieceIndex) -> PieceHashPlan {
        let v2 = v2Expectation(piece)
        return PieceHashPlan(length: layout.length(of: piece), sha1: checksV1, v2Length: v2?.length ?? 0, v2Leaves: v2?.leaves ?? 0)
    }

    /// True when a piece hashed per `plan` agrees with every hash the torrent has for it (and it has one).
    func judge(_ piece: PieceIndex, sha1: ArraySlice<UInt8>, v2: ArraySlice<UInt8>) -> Bool {
        var checked = false
        if checksV1 {
            guard sha1.elementsEqual(v1[piece.value * 20..<piece.value * 20 + 20]) else { return false }
            checked = true
        }
        if let expected = v2Expectation(piece) {
            guard v2.elementsEqual(expected.hash) else { return false }
            checked = true
        }
        return checked
    }

    func v2Expectation(_ piece: PieceIndex) -> V2Expectation? {
        guard checksV2 else { return nil }
        let start = layout.pieces.offset(of: piece)
        guard let fileIndex = layout.fileContaining(start), let entry = v2Files[fileIndex] else { return nil }
        let file = layout.files[fileIndex]
        let length = Int(min(Int64(layout.pieceLength), file.end - start))
        guard let layer = entry.layer else {
            let blocks = (length + MerkleBuilder.blockSize - 1) / MerkleBuilder.blockSize
            return V2Expectation(hash: entry.root[...], leaves: MerkleBuilder.powerOfTwo(atLeast: blocks), length: length)
        }
        let local = Int((start - file.offset) / Int64(layout.pieceLength))
        return V2Expectation(hash: layer[local * 32..<local * 32 + 32], leaves: layout.pieceLength / MerkleBuilder.blockSize, length: length)
    }
}

/// Hashes one piece as it streams past: SHA-1 over all of it, the v2 merkle tree over its file prefix.
struct PieceDigest {
    private var sha1: SHA1?
    private let expectedV1: ArraySlice<UInt8>?
    private var merkle: MerkleBuilder?
    private let expectedV2: PieceHashes.V2Expectation?
    private var fed = 0

    init(expectedV1: ArraySlice<UInt8>?, expectedV2: PieceHashes.V2Expectation?) {
        self.expectedV1 = expectedV1
        self.sha1 = expectedV1 == nil ? nil : SHA1()
        self.expectedV2 = expectedV2
        self.merkle = expectedV2.map { MerkleBuilder(leaves: $0.leaves) }
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        sha1?.update(bytes)
        if let expectedV2, fed < expectedV2.length {
            let take = min(bytes.count, expectedV2.length - fed)
            merkle!.update(UnsafeRawBufferPointer(rebasing: bytes[..<take]))
        }
        fed += bytes.count
    }

    /// True when every hash the torrent has for this piece agrees (and there is at least one).
    consuming func matches() -> Bool {
        var checked = false
        if let expectedV1, let sha1 {
            guard sha1.finalize()[...] == expectedV1 else { return false }
            checked = true
        }
        if let expectedV2, let merkle {
            guard merkle.root()[...] == expectedV2.hash else { return false }
            checked = true
        }
        return checked
    }
}

/// A BEP 52 merkle tree over 16 KiB blocks, padded with zero leaves to a fixed power-of-two width.
struct MerkleBuilder {
    static let blockSize = 16 * 1024
    private var leaves: [UInt8]
    private let width: Int
    private var block = SHA256()
    private var inBlock = 0

    init(leaves width: Int) {
        self.width = width
        self.leaves = []
        self.leaves.reserveCapacity(width * 32)
    }

    static func powerOfTwo(atLeast count: Int) -> Int {
        var width = 1
        while width < count { width <<= 1 }
        return width
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var position = 0
        while position < bytes.count {
            let take = min(Self.blockSize - inBlock, bytes.count - position)
            block.update(UnsafeRawBufferPointer(rebasing: bytes[position..<position + take]))
            inBlock += take
            position += take
            if inBlock == Self.blockSize { closeBlock() }
        }
    }

    private mutating func closeBlock() {
        leaves.append(contentsOf: block.finalize())
        block = SHA256()
        inBlock = 0
    }

    /// The root; leaves past the data are 32 zero bytes (BEP 52).
    consuming func root() -> [UInt8] {
        if inBlock > 0 { closeBlock() }
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBytes { MerkleRoot.compute(&leaves, width: width, into: $0.baseAddress!) }
        return out
    }
}
