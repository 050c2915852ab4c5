import Metainfo
import PeerWire
import TestSupport
import Testing

/// The peer wire's frame decoder fed at every split point, byte by byte and in shuffled
/// chunkings (TestSupport's StreamingDecoderVerifier): same frames, nothing left over.
@Suite struct PeerWireStreamingVerifierTests {
    @Test func everyMessageDecodesTheSameHoweverItArrives() {
        let stream = everyMessage.flatMap { $0.encoded() }
        let expected = everyMessage.map { PeerFrame.message($0, wireLength: $0.encoded().count) }
        StreamingDecoderVerifier.verify(PeerFrameStream.self, input: stream, expected: expected)
    }

    @Test func theHandshakeAndWhatFollowsDecodeTheSameHoweverTheyArrive() {
        let handshake = Handshake(reserved: ReservedBits([ReservedBits.extensionProtocol]), infoHash: sampleHash, peerID: samplePeerID)
        let messages: [PeerMessage] = [.bitfield([0xF0]), .unchoke, .piece(index: 0, begin: 0, block: Array(repeating: 7, count: 300))]
        let input = handshake.encoded() + messages.flatMap { $0.encoded() }
        let expected = [PeerFrame.handshake(handshake)] + messages.map { PeerFrame.message($0, wireLength: $0.encoded().count) }
        StreamingDecoderVerifier.verify(PeerHandshakeStream.self, input: input, expected: expected)
    }

    @Test func hostileStreamsFailTheSameHoweverTheyArrive() {
        // A 4 GiB length prefix, an unknown id, a have with a short payload, a non-BitTorrent greeting.
        let cases: [([UInt8], String, Bool)] = [
            (PeerMessage.unchoke.encoded() + [0xFF, 0xFF, 0xFF, 0xFF, 7], "messageTooLong", false),
            ([0, 0, 0, 1, 99], "unknownMessage", false),
            ([0, 0, 0, 3, 4, 0, 0], "badLength", false),
            (Array("GET / HTTP/1.1\r\n\r\n".utf8), "notBitTorrent", true),
        ]
        for (input, kind, handshake) in cases {
            let outcome = handshake
                ? StreamingDecoderVerifier.verify(PeerHandshakeStream.self, input: input)
                : StreamingDecoderVerifier.verify(PeerFrameStream.self, input: input)
            #expect(outcome.error == kind)
        }
    }
}
