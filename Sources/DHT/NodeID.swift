import Bencode
import Glibc

/// A 160-bit DHT node id or info hash (BEP 5); distances are the XOR of two ids.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let byteCount = 20
    public let bytes: [UInt8]

    /// Exactly 20 bytes, or nil.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count == NodeID.byteCount else { return nil }
        self.bytes = bytes
    }

    public init?<C: Collection>(slice: C) where C.Element == UInt8 {
        self.init(Array(slice))
    }

    /// 40 hex digits, either case.
    public init?(hex: String) {
        guard hex.count == 40, let bytes = Hex.decode(hex.lowercased()) else { return nil }
        self.init(bytes)
    }

    public static func random() -> NodeID {
        var generator = SystemRandomNumberGenerator()
        return NodeID((0..<20).map { _ in UInt8.random(in: 0...255, using: &generator) })!
    }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }

    /// XOR distance; compared as a big-endian number.
    public func distance(to other: NodeID) -> NodeID {
        var out = [UInt8](repeating: 0, count: 20)
        for index in 0..<20 { out[index] = bytes[index] ^ other.bytes[index] }
        return NodeID(out)!
    }

    /// How many leading bits this id shares with `other` (160 when equal).
    public func commonPrefixLength(with other: NodeID) -> Int {
        for index in 0..<20 {
            let x = bytes[index] ^ other.bytes[index]
            if x != 0 { return index * 8 + x.leadingZeroBitCount }
        }
        return 160
    }

    public static func < (a: NodeID, b: NodeID) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    /// True when `a` is closer to `self` than `b` is.
    public func isCloser(_ a: NodeID, than b: NodeID) -> Bool {
        for index in 0..<20 {
            let da = a.bytes[index] ^ bytes[index], db = b.bytes[index] ^ bytes[index]
            if da != db { return da < db }
        }
        return false
    }
}

// MARK: - BEP 42: node ids tied to the external address

extension NodeID {
    /// A node id whose first 21 bits come from CRC32-C of our external IP (BEP 42), so other
    /// nodes can check we did not choose where in the id space we sit. `random` is the last byte.
    public static func secure(forExternalIP ip: [UInt8], random: UInt8 = UInt8.random(in: 0...255)) -> NodeID {
        let v4Mask: [UInt8] = [0x03, 0x0f, 0x3f, 0xff]
        let v6Mask: [UInt8] = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff]
        let mask = ip.count == 4 ? v4Mask : v6Mask
        var masked = zip(ip.prefix(mask.count), mask).map { $0 & $1 }
        masked[0] |= (random & 0x7) << 5
        let crc = CRC32C.checksum(masked)
        var id = NodeID.random().bytes
        id[0] = UInt8(truncatingIfNeeded: crc >> 24)
        id[1] = UInt8(truncatingIfNeeded: crc >> 16)
        id[2] = (UInt8(truncatingIfNeeded: crc >> 8) & 0xf8) | (id[2] & 0x7)
        id[19] = random
        return NodeID(id)!
    }

    /// True when this id's first 21 bits match what BEP 42 derives from `ip` (and its last byte).
    public func isSecure(forExternalIP ip: [UInt8]) -> Bool {
        let expected = NodeID.secure(forExternalIP: ip, random: bytes[19])
        return expected.bytes[0] == bytes[0] && expected.bytes[1] == bytes[1]
            && expected.bytes[2] & 0xf8 == bytes[2] & 0xf8
    }
}

/// CRC32-C (Castagnoli), the checksum BEP 42 uses.
enum CRC32C {
    static let table: [UInt32] = (0..<256).map { index -> UInt32 in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 != 0 ? (value >> 1) ^ 0x82F6_3B78 : value >> 1 }
        return value
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
