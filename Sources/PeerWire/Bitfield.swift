/// Which pieces a peer has: one bit per piece, most significant bit first (BEP 3).
public struct Bitfield: Hashable, Sendable {
    public private(set) var bytes: [UInt8]
    public let pieceCount: Int

    /// All clear or all set.
    public init(pieceCount: Int, all: Bool = false) {
        self.pieceCount = pieceCount
        self.bytes = [UInt8](repeating: 0, count: (pieceCount + 7) / 8)
        if all { for index in 0..<pieceCount { set(index) } }
    }

    /// Validates a received bitfield: exact length and spare bits clear.
    public init(bytes: [UInt8], pieceCount: Int) throws(PeerWireError) {
        let expected = (pieceCount + 7) / 8
        guard bytes.count == expected else {
            throw .badBitfield("\(bytes.count) bytes for \(pieceCount) pieces (expected \(expected))")
        }
        let spare = expected * 8 - pieceCount
        if spare > 0, bytes[expected - 1] & UInt8((1 << spare) - 1) != 0 {
            throw .badBitfield("spare bits after piece \(pieceCount - 1) are set")
        }
        self.bytes = bytes
        self.pieceCount = pieceCount
    }

    public subscript(index: Int) -> Bool {
        guard index >= 0 && index < pieceCount else { return false }
        return bytes[index / 8] & (0x80 >> UInt8(index % 8)) != 0
    }

    public mutating func set(_ index: Int) {
        guard index >= 0 && index < pieceCount else { return }
        bytes[index / 8] |= 0x80 >> UInt8(index % 8)
    }

    public var count: Int { bytes.reduce(0) { $0 + $1.nonzeroBitCount } }
    public var isComplete: Bool { count == pieceCount }
}
