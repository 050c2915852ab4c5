import Bencode
import Net
import Testing
@testable import DHT

private func id(_ byte: UInt8) -> NodeID { NodeID([UInt8](repeating: byte, count: 20))! }
private func addr(_ text: String) -> SocketAddress { try! SocketAddress(parsing: text) }

@Suite struct KRPCCodecTests {
    @Test func decodesBEP5PingExampleAndEncodesItBack() throws {
        let bytes = Array("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe".utf8)
        let message = try KRPCCodec.decode(bytes)
        #expect(message.transactionID == Array("aa".utf8))
        #expect(message.body == .query(.ping(id: NodeID(Array("abcdefghij0123456789".utf8))!)))
        #expect(KRPCCodec.encode(message) == bytes)
    }

    @Test func decodesGetPeersResponseWithValuesNodesTokenIpAndVersion() throws {
        var response = KRPCResponse(id: id(1))
        response.values = [addr("127.0.0.1:6881"), addr("10.0.0.2:51413")]
        response.nodes = [NodeInfo(id: id(2), address: addr("127.0.0.3:7000"))]
        response.nodes6 = [NodeInfo(id: id(3), address: addr("[::1]:7001"))]
        response.token = [1, 2, 3, 4]
        let message = KRPCMessage(transactionID: [0xff, 0], body: .response(response), version: Array("LT\u{2}\u{8}".utf8),
                                  observedAddress: addr("127.0.0.9:40000"))
        let decoded = try KRPCCodec.decode(KRPCCodec.encode(message))
        #expect(decoded == message)
    }

    @Test func roundTripsEveryQueryKind() throws {
        let queries: [KRPCQuery] = [
            .ping(id: id(1)), .findNode(id: id(1), target: id(2), want: [.n4, .n6]), .getPeers(id: id(1), infoHash: id(3), want: []),
            .announcePeer(id: id(1), infoHash: id(3), port: 6881, token: [9, 9], impliedPort: false, seed: false),
            .announcePeer(id: id(1), infoHash: id(3), port: 0, token: [9], impliedPort: true, seed: true),
            .sampleInfohashes(id: id(1), target: id(4)), .unknown(method: "vote", id: id(1)),
        ]
        for query in queries {
            let message = KRPCMessage(transactionID: [1, 2], body: .query(query), readOnly: true)
            #expect(try KRPCCodec.decode(KRPCCodec.encode(message)) == message)
        }
    }

    @Test func errorsAndMalformedMessages() throws {
        let error = try KRPCCodec.decode(Array("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee".utf8))
        #expect(error.body == .error(code: 201, message: "A Generic Error Ocurred"))
        // Missing id: malformed with the transaction id, so the node answers 203.
        let noID = Array("d1:ad6:target20:abcdefghij0123456789e1:q9:find_node1:t2:xy1:y1:qe".utf8)
        #expect(throws: DHTError.malformed(transactionID: Array("xy".utf8), field: "a.id", reason: "is missing")) {
            try KRPCCodec.decode(noID)
        }
        do { _ = try KRPCCodec.decode(noID) } catch {
            let reply = try KRPCCodec.decode(KRPCCodec.errorReply(to: error, version: nil)!)
            #expect(reply.transactionID == Array("xy".utf8))
            if case .error(let code, _) = reply.body { #expect(code == 203) } else { Issue.record("not an error") }
        }
        for garbage in ["", "d", "de", "li1ee", "d1:t2:aa1:y1:ze", "d1:t2:aa1:y1:q1:q4:pinge", "\u{0}\u{1}garbage",
                        "d1:ad2:id3:abce1:q4:ping1:t1:a1:y1:qe"] {
            #expect(throws: DHTError.self) { try KRPCCodec.decode(Array(garbage.utf8)) }
        }
        #expect(throws: DHTError.self) { try KRPCCodec.decode([UInt8](repeating: UInt8(ascii: "l"), count: 10_000)) }
    }

    @Test func hugeNodesStringIsBoundedAndPartialEntriesIgnored() throws {
        var nodes: [UInt8] = []
        for index in 0..<5_000 { nodes += [UInt8](repeating: UInt8(index % 250), count: 20) + [127, 0, 0, 1, 0x1a, 0xe1] }
        nodes += [1, 2, 3]
        let bytes = BencodeValue.dict([("t", .string([1])), ("y", .string("r")),
                                       ("r", .dict([("id", .string(id(1).bytes)), ("nodes", .string(nodes))]))]).encoded()
        let message = try KRPCCodec.decode(bytes)
        guard case .response(let response) = message.body else { Issue.record("not a response"); return }
        #expect(response.nodes.count == KRPCCodec.maxNodesPerReply)
        #expect(response.nodes[0].address == addr("127.0.0.1:6881"))
    }

    @Test func compactNodesV4AndV6() {
        let nodes = [NodeInfo(id: id(7), address: addr("1.2.3.4:5")), NodeInfo(id: id(8), address: addr("255.0.0.1:65535"))]
        let bytes = Compact.encode(nodes: nodes)
        #expect(bytes.count == 52)
        #expect(Compact.nodes(bytes, ipLength: 4) == nodes)
        let six = [NodeInfo(id: id(9), address: addr("[2001:db8::1]:6881"))]
        #expect(Compact.nodes(Compact.encode(nodes: six), ipLength: 16) == six)
        // Port 0 entries are dropped.
        #expect(Compact.nodes(id(1).bytes + [1, 2, 3, 4, 0, 0], ipLength: 4).isEmpty)
    }

    @Test func bep42VectorsAndClientVersion() {
        // BEP 42's table: IP, rand, first three bytes of the id (last 3 bits random).
        let vectors: [([UInt8], UInt8, [UInt8])] = [
            ([124, 31, 75, 21], 1, [0x5f, 0xbf, 0xbf]), ([21, 75, 31, 124], 86, [0x5a, 0x3c, 0xe9]),
            ([65, 23, 51, 170], 22, [0xa5, 0xd4, 0x32]), ([84, 124, 73, 14], 65, [0x1b, 0x03, 0x21]),
            ([43, 213, 53, 83], 90, [0xe5, 0x6f, 0x6c]),
        ]
        for (ip, random, prefix) in vectors {
            let node = NodeID.secure(forExternalIP: ip, random: random)
            #expect(node.bytes[0] == prefix[0] && node.bytes[1] == prefix[1] && node.bytes[2] & 0xf8 == prefix[2] & 0xf8, "\(ip)")
            #expect(node.bytes[19] == random)
            #expect(node.isSecure(forExternalIP: ip))
            #expect(!node.isSecure(forExternalIP: [ip[0] ^ 0xff, ip[1], ip[2], ip[3]]))
        }
        #expect(ClientVersion.describe(Array("LT".utf8) + [2, 8]) == "libtorrent 2.0.8")
        #expect(ClientVersion.describe(NodeState.version) == "tt 0.1")
    }

    @Test func distances() {
        let a = id(0), b = NodeID([0x80] + [UInt8](repeating: 0, count: 19))!
        #expect(a.commonPrefixLength(with: b) == 0)
        #expect(a.commonPrefixLength(with: a) == 160)
        #expect(a.distance(to: b) == b)
        #expect(a.isCloser(id(1), than: b))
    }
}
