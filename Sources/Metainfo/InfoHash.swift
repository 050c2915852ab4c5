import Bencode

/// A torrent's identity: SHA-1 of the raw info dictionary (v1), SHA-256 of it (v2), or both (hybrid).
public struct InfoHashes: Hashable, Sendable {
    public var v1: [UInt8]?
    public var v2: [UInt8]?

    public init(v1: [UInt8]?, v2: [UInt8]?) {
        precondition(v1 != nil || v2 != nil)
        self.v1 = v1
        self.v2 = v2
    }

    /// The 20 bytes that go into handshakes and tracker requests: v1, or v2 truncated (BEP 52).
    public var wire: [UInt8] { v1 ?? Array(v2!.prefix(20)) }

    public var v1Hex: String? { v1.map(Hex.encode) }
    public var v2Hex: String? { v2.map(Hex.encode) }

    /// Parses a 40-hex (v1) or 64-hex (v2) info hash as typed by a user.
    public init?(hex: String) {
        guard let bytes = Hex.decode(hex) else { return nil }
        switch bytes.count {
        case 20: self.init(v1: bytes, v2: nil)
        case 32: self.init(v1: nil, v2: bytes)
        default: return nil
        }
    }
}
