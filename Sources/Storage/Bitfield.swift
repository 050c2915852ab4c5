/// A set of piece indices packed as BEP 3 sends it: piece 0 is the high bit of byte 0, spare bits zero.
public struct Bitfield: Hashable, Sendable {
    public private(set) var bytes: [UInt8]
    public let count: Int

    public init(count: Int) {
        self.count = count
        self.bytes = [UInt8](repeating: 0, count: (count + 7) / 8)
    }

    /// Nil when `bytes` is the wrong length or has spare bits set.
    public init?(bytes: [UInt8], count: Int) {
        guard count >= 0, bytes.count == (count + 7) / 8 else { return nil }
        if count % 8 != 0, let last = bytes.last, last & (0xFF >> UInt8(count % 8)) != 0 { return nil }
        self.count = count
        self.bytes = bytes
    }

    public subscript(index: Int) -> Bool {
        get {
            precondition(index >= 0 && index < count)
            return bytes[index >> 3] & (0x80 >> UInt8(index & 7)) != 0
        }
        set {
            precondition(index >= 0 && index < count)
            if newValue { bytes[index >> 3] |= 0x80 >> UInt8(index & 7) } else { bytes[index >> 3] &= ~(0x80 >> UInt8(index & 7)) }
        }
    }

    public var setCount: Int { bytes.reduce(0) { $0 + $1.nonzeroBitCount } }
    public var isComplete: Bool { setCount == count }
}
