/// The 8 reserved bytes of the handshake, which advertise protocol extensions.
public struct ReservedBits: Hashable, Sendable {
    public var bytes: [UInt8]

    /// A named extension bit: which byte and which mask.
    public struct Flag: Hashable, Sendable {
        public let name: String
        public let byte: Int
        public let mask: UInt8
    }

    /// BEP 10 extension protocol (reserved[5] & 0x10).
    public static let extensionProtocol = Flag(name: "extension_protocol", byte: 5, mask: 0x10)
    /// BEP 6 fast extension (reserved[7] & 0x04).
    public static let fast = Flag(name: "fast", byte: 7, mask: 0x04)
    /// BEP 5 DHT (reserved[7] & 0x01).
    public static let dht = Flag(name: "dht", byte: 7, mask: 0x01)
    /// BEP 52 upgrade to v2 (reserved[7] & 0x10).
    public static let v2Upgrade = Flag(name: "v2_upgrade", byte: 7, mask: 0x10)

    public static let known: [Flag] = [extensionProtocol, fast, dht, v2Upgrade]

    public init(bytes: [UInt8] = [UInt8](repeating: 0, count: 8)) {
        precondition(bytes.count == 8)
        self.bytes = bytes
    }

    public init(_ flags: [Flag]) {
        self.init()
        for flag in flags { insert(flag) }
    }

    public func contains(_ flag: Flag) -> Bool { bytes[flag.byte] & flag.mask != 0 }
    public mutating func insert(_ flag: Flag) { bytes[flag.byte] |= flag.mask }

    public var supportsExtensions: Bool { contains(Self.extensionProtocol) }
    public var supportsFast: Bool { contains(Self.fast) }

    /// The known flags that are set, by name.
    public var names: [String] { Self.known.filter(contains).map(\.name) }

    /// Bits that are set but not known, numbered 0…63 from the most significant bit of byte 0
    /// (so reserved[5] & 0x10 is bit 43).
    public var unknownBits: [Int] {
        var result: [Int] = []
        for byte in 0..<8 {
            for shift in (0..<8).reversed() {
                let mask = UInt8(1) << shift
                guard bytes[byte] & mask != 0 else { continue }
                if Self.known.contains(where: { $0.byte == byte && $0.mask == mask }) { continue }
                result.append(byte * 8 + (7 - shift))
            }
        }
        return result
    }

    public var hex: String { PeerWire.hex(bytes) }
}
