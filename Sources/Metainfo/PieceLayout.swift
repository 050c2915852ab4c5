/// Piece arithmetic in one place: how many pieces, how long each is, where each starts.
/// A `PieceIndex` can only be made by validating it here.
public struct PieceLayout: Hashable, Sendable {
    public let pieceLength: Int
    public let totalLength: Int64
    public let pieceCount: Int

    public init(pieceLength: Int, totalLength: Int64) {
        precondition(pieceLength > 0 && totalLength >= 0)
        self.pieceLength = pieceLength
        self.totalLength = totalLength
        self.pieceCount = Int((totalLength + Int64(pieceLength) - 1) / Int64(pieceLength))
    }

    /// The index if it names a piece of this torrent.
    public func index(_ raw: Int) -> PieceIndex? {
        raw >= 0 && raw < pieceCount ? PieceIndex(raw) : nil
    }

    public var indices: [PieceIndex] { (0..<pieceCount).map(PieceIndex.init) }

    public func offset(of piece: PieceIndex) -> Int64 { Int64(piece.value) * Int64(pieceLength) }

    /// The last piece is short unless the total is a multiple of the piece length.
    public func length(of piece: PieceIndex) -> Int {
        Int(min(Int64(pieceLength), totalLength - offset(of: piece)))
    }

    public var lastPieceLength: Int { pieceCount == 0 ? 0 : length(of: PieceIndex(pieceCount - 1)) }

    /// Block arithmetic for requests: blocks of `blockSize` bytes (16 KiB on the wire), the last one short.
    public static let blockSize = 16 * 1024

    public func blockCount(of piece: PieceIndex) -> Int {
        (length(of: piece) + Self.blockSize - 1) / Self.blockSize
    }

    public func blockLength(of piece: PieceIndex, block: Int) -> Int {
        min(Self.blockSize, length(of: piece) - block * Self.blockSize)
    }
}

/// A validated piece number; see `PieceLayout.index(_:)`.
public struct PieceIndex: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: Int
    init(_ value: Int) { self.value = value }
    public static func < (a: PieceIndex, b: PieceIndex) -> Bool { a.value < b.value }
    public var description: String { String(value) }
}
