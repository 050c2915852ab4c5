import DHT
import Net

extension FuzzTarget {
    /// KRPC (BEP 5, 32, 43, 51) as any UDP sender can send it to the DHT: decode → encode → decode is
    /// stable, and a reply never carries more nodes, peers or samples than the decoder's limits.
    public static let krpc = FuzzTarget(
        name: "krpc", summary: "DHT KRPC queries, responses and errors",
        exercise: { bytes in try exerciseKRPC(bytes) },
        seeds: {
            let id = NodeID([UInt8](repeating: 1, count: 20))!, other = NodeID([UInt8](repeating: 2, count: 20))!
            var reply = KRPCResponse(id: id)
            reply.nodes = [NodeInfo(id: other, address: SocketAddress(ip: "127.0.0.2", port: 6881)!)]
            reply.nodes6 = [NodeInfo(id: other, address: SocketAddress(ip: "::1", port: 6882)!)]
            reply.values = [SocketAddress(ip: "127.0.0.3", port: 51413)!]
            reply.token = [9, 9, 9, 9]
            var samples = KRPCResponse(id: id)
            samples.samples = [other, id]
            samples.interval = 60
            samples.num = 2
            let messages: [KRPCMessage] = [
                KRPCMessage(transactionID: [1, 2], body: .query(.ping(id: id)), version: Array("TT01".utf8)),
                KRPCMessage(transactionID: [3], body: .query(.findNode(id: id, target: other, want: [.n4, .n6]))),
                KRPCMessage(transactionID: [4], body: .query(.getPeers(id: id, infoHash: other, want: .n4)), readOnly: true),
                KRPCMessage(transactionID: [5], body: .query(.announcePeer(id: id, infoHash: other, port: 6881, token: [1, 2],
                                                                           impliedPort: true, seed: true))),
                KRPCMessage(transactionID: [6], body: .query(.sampleInfohashes(id: id, target: other))),
                KRPCMessage(transactionID: [7], body: .response(reply), observedAddress: SocketAddress(ip: "127.0.0.9", port: 1)!),
                KRPCMessage(transactionID: [8], body: .response(samples)),
                KRPCMessage(transactionID: [9], body: .error(code: 203, message: "bad token")),
            ]
            return messages.map(KRPCCodec.encode)
        })
}

func exerciseKRPC(_ bytes: [UInt8]) throws {
    guard let message = try? KRPCCodec.decode(bytes) else { return }
    guard let again = try? KRPCCodec.decode(KRPCCodec.encode(message)) else {
        throw FuzzViolation("a \(message.y) message we encoded does not decode")
    }
    if again != message { throw FuzzViolation("decode → encode → decode changed a \(message.y) message") }
    if case .response(let reply) = message.body {
        if reply.nodes.count > KRPCCodec.maxNodesPerReply || reply.nodes6.count > KRPCCodec.maxNodesPerReply
            || reply.values.count > KRPCCodec.maxValuesPerReply || reply.samples.count > KRPCCodec.maxSamplesPerReply {
            throw FuzzViolation("a reply past the limits: \(reply.nodes.count)/\(reply.nodes6.count) nodes, "
                                + "\(reply.values.count) peers, \(reply.samples.count) samples")
        }
    }
}
