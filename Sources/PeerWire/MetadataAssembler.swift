/// Collects an info dictionary from BEP 9 `data` messages: the pieces to request, each piece's
/// exact size checked against `metadata_size`, and the whole once every piece is in. No I/O; the
/// caller checks the hash.
public struct MetadataAssembler: Sendable {
    public let totalSize: Int
    private var pieces: [[UInt8]?]
    private var received = 0

    /// Nil when `metadata_size` is missing, zero or larger than we accept.
    public init?(metadataSize: Int?) {
        guard let size = metadataSize, size > 0, size <= MetadataMessage.maxMetadataSize else { return nil }
        totalSize = size
        pieces = Array(repeating: nil, count: (size + MetadataMessage.pieceSize - 1) / MetadataMessage.pieceSize)
    }

    public var pieceCount: Int { pieces.count }
    public var requests: [MetadataMessage] { pieces.indices.map { .request(piece: $0) } }
    public var isComplete: Bool { received == pieces.count }

    /// Takes a `data` message; throws when it does not fit.
    public mutating func receive(piece: Int, totalSize: Int, bytes: [UInt8]) throws(PeerWireError) {
        guard totalSize == self.totalSize, piece >= 0, piece < pieces.count, pieces[piece] == nil else {
            throw .unexpected("sent metadata that does not fit")
        }
        let expected = piece == pieces.count - 1 ? self.totalSize - piece * MetadataMessage.pieceSize : MetadataMessage.pieceSize
        guard bytes.count == expected else {
            throw .unexpected("sent metadata piece \(piece) of \(bytes.count) bytes, expected \(expected)")
        }
        pieces[piece] = bytes
        received += 1
    }

    /// The info dictionary's bytes, once complete.
    public var bytes: [UInt8]? { isComplete ? pieces.flatMap { $0 ?? [] } : nil }
}
