import Bencode
import PeerWire
import Testing

@Suite struct PEXMessageTests {
    @Test func roundTripsIPv4AndIPv6WithFlags() throws {
        let message = PEXMessage(
            added: [PEXMessage.Peer(ip: [127, 0, 0, 2], port: 6881, flags: [.seed, .utp, .reachable]),
                    PEXMessage.Peer(ip: [UInt8](repeating: 0, count: 15) + [1], port: 443, flags: [.prefersEncryption])],
            dropped: [PEXMessage.Peer(ip: [10, 0, 0, 1], port: 1)])
        let bytes = message.encoded()
        #expect(Array(bytes.prefix(16)) == Array("d5:added6:".utf8) + [127, 0, 0, 2, 0x1A, 0xE1])
        #expect(try PEXMessage(decoding: bytes) == message)
    }

    @Test func decodesLibtorrentStyleAndIsBounded() throws {
        // Flags missing for the second peer, a truncated trailing entry, and far too many peers.
        var many: [UInt8] = []
        for i in 0..<1000 { many += [127, 0, UInt8(i >> 8), UInt8(i & 0xFF), 0x1A, 0xE1] }
        let payload = BencodeValue.dict([("added", .string(many + [1, 2, 3])), ("added.f", .string([0x12])),
                                         ("dropped", .string([]))]).encoded()
        let message = try PEXMessage(decoding: payload)
        #expect(message.added.count == PEXMessage.maxEntries)
        #expect(message.added[0].flags == [.seed, .reachable])
        #expect(message.added[1].flags == [])
        // We never send more than 50 added.
        let sent = try PEXMessage(decoding: PEXMessage(added: message.added).encoded())
        #expect(sent.added.count == PEXMessage.maxAdded)
    }

    @Test func rejectsWhatIsNotAPEXDictionary() {
        for payload: [UInt8] in [Array("i3e".utf8), Array("d5:addedi1ee".utf8), Array("xyz".utf8), []] {
            #expect(throws: PeerWireError.self) { try PEXMessage(decoding: payload) }
        }
    }
}
