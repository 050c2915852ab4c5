/// The BitTorrent handshake (BEP 3): `\x13BitTorrent protocol`, 8 reserved bytes, info hash, peer id.
public struct Handshake: Hashable, Sendable {
    public static let protocolName: [UInt8] = Array("BitTorrent protocol".utf8)
    /// The fixed prefix: the length byte and the protocol string.
    public static let prefix: [UInt8] = [19] + protocolName
    public static let length = 68

    public var reserved: ReservedBits
    public var infoHash: [UInt8]
    public var peerID: PeerID

    public init(reserved: ReservedBits, infoHash: [UInt8], peerID: PeerID) {
        precondition(infoHash.count == 20)
        self.reserved = reserved
        self.infoHash = infoHash
        self.peerID = peerID
    }

    public func encoded() -> [UInt8] {
        var out = Self.prefix
        out.reserveCapacity(Self.length)
        out += reserved.bytes
        out += infoHash
        out += peerID.bytes
        return out
    }

    /// Decodes exactly 68 bytes.
    public init<C: Collection>(decoding bytes: C) throws(PeerWireError) where C.Element == UInt8 {
        let array = Array(bytes)
        guard array.count == Self.length, Array(array[0..<20]) == Self.prefix else {
            throw .notBitTorrent(received: array)
        }
        self.reserved = ReservedBits(bytes: Array(array[20..<28]))
        self.infoHash = Array(array[28..<48])
        self.peerID = PeerID(bytes: Array(array[48..<68]))
    }
}
