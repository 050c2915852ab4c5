import Metainfo

/// Block arithmetic for the wire, in one place (as rqbit's `lengths.rs`): which piece indices are
/// valid, how a piece splits into 16 KiB blocks (the last piece and its last block short), and
/// whether a request or a received block names real bytes. Every index that comes from a peer is
/// validated here before it is used; nothing else computes block offsets or lengths.
public struct Lengths: Hashable, Sendable {
    /// The block size every client requests (BEP 3 convention; larger requests are commonly refused).
    public static let blockSize = 16 * 1024
    /// The largest request we serve (libtorrent, Transmission and aria2 accept up to 128 KiB too).
    public static let maxRequestLength = 128 * 1024

    public let layout: PieceLayout

    public init(layout: PieceLayout) { self.layout = layout }

    public var pieceCount: Int { layout.pieceCount }
    public var totalLength: Int64 { layout.totalLength }
    public var lastPieceLength: Int { layout.lastPieceLength }

    /// The piece if `raw` names one of this torrent.
    public func piece(_ raw: Int) -> PieceIndex? { layout.index(raw) }
    public func piece(_ raw: UInt32) -> PieceIndex? { UInt64(raw) < UInt64(layout.pieceCount) ? layout.index(Int(raw)) : nil }

    public func length(of piece: PieceIndex) -> Int { layout.length(of: piece) }
    public func offset(of piece: PieceIndex) -> Int64 { layout.offset(of: piece) }

    public func blockCount(of piece: PieceIndex) -> Int { (length(of: piece) + Self.blockSize - 1) / Self.blockSize }

    /// Block `number` of `piece` (0-based; the caller keeps it below `blockCount(of:)`).
    public func block(_ number: Int, of piece: PieceIndex) -> BlockInfo {
        let begin = number * Self.blockSize
        return BlockInfo(piece: piece, begin: begin, length: min(Self.blockSize, length(of: piece) - begin))
    }

    public func blocks(of piece: PieceIndex) -> [BlockInfo] { (0..<blockCount(of: piece)).map { block($0, of: piece) } }

    public func lastBlockLength(of piece: PieceIndex) -> Int { block(blockCount(of: piece) - 1, of: piece).length }

    /// The block a received `piece` message fills: one of ours (16 KiB-aligned, the exact length), or nil.
    public func receivedBlock(index: UInt32, begin: UInt32, length: Int) -> BlockInfo? {
        guard let piece = piece(index), begin % UInt32(Self.blockSize) == 0 else { return nil }
        let number = Int(begin) / Self.blockSize
        guard number < blockCount(of: piece) else { return nil }
        let info = block(number, of: piece)
        return info.length == length ? info : nil
    }

    /// A peer's request checked against the torrent: a real piece, inside it, 1 byte to 128 KiB.
    public func validate(_ request: BlockRequest) throws(PeerWireError) -> BlockInfo {
        guard let piece = piece(request.index) else {
            throw .badRequest(index: request.index, begin: request.begin, length: request.length,
                              reason: "out of range (the torrent has \(pieceCount) pieces)")
        }
        guard request.length > 0, Int(request.length) <= Self.maxRequestLength else {
            throw .badRequest(index: request.index, begin: request.begin, length: request.length,
                              reason: "out of range (a request is 1 to \(Self.maxRequestLength) bytes)")
        }
        guard Int64(request.begin) + Int64(request.length) <= Int64(length(of: piece)) else {
            throw .badRequest(index: request.index, begin: request.begin, length: request.length,
                              reason: "out of range (past the end of the \(length(of: piece))-byte piece)")
        }
        return BlockInfo(piece: piece, begin: Int(request.begin), length: Int(request.length))
    }
}

/// A span of one piece: a block we request, or a span a peer requested of us.
public struct BlockInfo: Hashable, Sendable, CustomStringConvertible {
    public let piece: PieceIndex
    public let begin: Int
    public let length: Int

    /// Block number within the piece (for 16 KiB-aligned blocks).
    public var number: Int { begin / Lengths.blockSize }
    public var request: BlockRequest { BlockRequest(index: UInt32(piece.value), begin: UInt32(begin), length: UInt32(length)) }
    public var description: String { "piece \(piece.value) offset \(begin) length \(length)" }
}
