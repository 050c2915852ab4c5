/// A set of pieces packed as BEP 3 sends it: piece 0 is the high bit of byte 0, spare bits zero.
/// What a peer has, what we have verified, what the resume state records.
public struct Bitfield: Hashable, Sendable {
    public private(set) var bytes: [UInt8]
    public let pieceCount: Int

    /// All clear, or all set.
    public init(pieceCount: Int, all: Bool = false) {
        self.pieceCount = pieceCount
        self.bytes = [UInt8](repeating: all ? 0xFF : 0, count: (pieceCount + 7) / 8)
        if all, pieceCount % 8 != 0 { bytes[bytes.count - 1] = 0xFF << UInt8(8 - pieceCount % 8) }
    }

    /// Nil when `bytes` has the wrong length for `pieceCount` or a spare bit set (see `problem`).
    public init?(bytes: [UInt8], pieceCount: Int) {
        guard Self.problem(bytes: bytes, pieceCount: pieceCount) == nil else { return nil }
        self.bytes = bytes
        self.pieceCount = pieceCount
    }

    /// Why `bytes` is not a bitfield of `pieceCount` pieces, or nil when it is.
    public static func problem(bytes: [UInt8], pieceCount: Int) -> String? {
        let expected = (pieceCount + 7) / 8
        guard pieceCount >= 0, bytes.count == expected else {
            return "\(bytes.count) bytes for \(pieceCount) pieces (expected \(expected))"
        }
        let spare = expected * 8 - pieceCount
        if spare > 0, bytes[expected - 1] & UInt8((1 << spare) - 1) != 0 {
            return "spare bits after piece \(pieceCount - 1) are set"
        }
        return nil
    }

    /// Out-of-range reads are false; out-of-range writes are ignored.
    public subscript(index: Int) -> Bool {
        get {
            guard index >= 0 && index < pieceCount else { return false }
            return bytes[index >> 3] & (0x80 >> UInt8(index & 7)) != 0
        }
        set {
            guard index >= 0 && index < pieceCount else { return }
            if newValue { bytes[index >> 3] |= 0x80 >> UInt8(index & 7) } else { bytes[index >> 3] &= ~(0x80 >> UInt8(index & 7)) }
        }
    }

    public mutating func set(_ index: Int) { self[index] = true }

    /// How many pieces are in the set.
    public var setCount: Int { bytes.reduce(0) { $0 + $1.nonzeroBitCount } }
    public var isComplete: Bool { setCount == pieceCount }
}
