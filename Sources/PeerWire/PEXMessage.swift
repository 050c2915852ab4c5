import Bencode

/// A BEP 11 `ut_pex` message: peers the sender connected to (`added`, with flags) and disconnected
/// from (`dropped`) since its last message, as compact IPv4 (6 bytes) and IPv6 (18 bytes) entries.
///
/// Decoding is lenient about what it skips (a truncated trailing entry, missing flags) but bounded:
/// at most `maxEntries` of each list are read, so a hostile message cannot make us keep thousands.
public struct PEXMessage: Hashable, Sendable {
    /// One peer: raw address bytes (4 or 16), port, and BEP 11 flags.
    public struct Peer: Hashable, Sendable {
        public var ip: [UInt8]
        public var port: UInt16
        public var flags: Flags

        public init(ip: [UInt8], port: UInt16, flags: Flags = []) {
            self.ip = ip
            self.port = port
            self.flags = flags
        }
    }

    /// The `added.f` byte of a peer.
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let prefersEncryption = Flags(rawValue: 0x01)
        public static let seed = Flags(rawValue: 0x02)
        public static let utp = Flags(rawValue: 0x04)
        public static let holepunch = Flags(rawValue: 0x08)
        /// We reached it with an outgoing connection, so it accepts connections.
        public static let reachable = Flags(rawValue: 0x10)
    }

    /// The extension's name in the BEP 10 handshake.
    public static let name = "ut_pex"
    /// At most this many peers added per message we send (BEP 11 suggests 50) or take from a message.
    public static let maxAdded = 50
    /// Entries read from one list of a received message; the rest are ignored.
    public static let maxEntries = 200

    public var added: [Peer]
    public var dropped: [Peer]

    public init(added: [Peer] = [], dropped: [Peer] = []) {
        self.added = added
        self.dropped = dropped
    }

    /// The extended-message payload (without the extension id byte); at most `maxAdded` added.
    public func encoded() -> [UInt8] {
        func compact(_ peers: [Peer], _ length: Int) -> [UInt8] {
            peers.filter { $0.ip.count == length }.flatMap { $0.ip + [UInt8($0.port >> 8), UInt8($0.port & 0xFF)] }
        }
        func flags(_ peers: [Peer], _ length: Int) -> [UInt8] { peers.filter { $0.ip.count == length }.map(\.flags.rawValue) }
        let added = Array(self.added.prefix(Self.maxAdded))
        return BencodeValue.dict([
            ("added", .string(compact(added, 4))), ("added.f", .string(flags(added, 4))),
            ("added6", .string(compact(added, 16))), ("added6.f", .string(flags(added, 16))),
            ("dropped", .string(compact(dropped, 4))), ("dropped6", .string(compact(dropped, 16))),
        ]).encoded()
    }

    public init(decoding payload: [UInt8]) throws(PeerWireError) {
        let value: BencodeValue
        do {
            value = try BencodeDecoder(strictness: .lenient, maxDepth: 4).decodePrefix(payload[...]).value
        } catch {
            throw .badExtensionHandshake("ut_pex message is not bencode: \(error)")
        }
        guard value.dictionaryEntries != nil else { throw .badExtensionHandshake("ut_pex message is not a dictionary") }
        func peers(_ key: String, _ length: Int, flagsKey: String?) throws(PeerWireError) -> [Peer] {
            guard let entry = value[key] else { return [] }
            guard let bytes = entry.bytesValue else { throw .badExtensionHandshake("ut_pex '\(key)' is not a byte string") }
            let flags = flagsKey.flatMap { value[$0]?.bytesValue } ?? []
            let step = length + 2
            var result: [Peer] = []
            var offset = 0
            while offset + step <= bytes.count && result.count < Self.maxEntries {
                let port = UInt16(bytes[offset + length]) << 8 | UInt16(bytes[offset + length + 1])
                let index = result.count
                result.append(Peer(ip: Array(bytes[offset..<(offset + length)]), port: port,
                                   flags: Flags(rawValue: index < flags.count ? flags[index] : 0)))
                offset += step
            }
            return result
        }
        added = try peers("added", 4, flagsKey: "added.f") + peers("added6", 16, flagsKey: "added6.f")
        dropped = try peers("dropped", 4, flagsKey: nil) + peers("dropped6", 16, flagsKey: nil)
    }
}
