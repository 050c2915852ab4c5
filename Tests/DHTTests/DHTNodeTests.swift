import Bencode
import Foundation
import Net
import Testing
@testable import DHT

/// Runs `loop` until `done()` or the deadline; the nodes under test live on it.
func spin(_ loop: EventLoop, timeout: Double, until done: () -> Bool) -> Bool {
    let deadline = monotonicSeconds() + timeout
    while !done() {
        guard monotonicSeconds() < deadline else { return false }
        loop.runOnce(timeout: 0.05)
    }
    return true
}

func makeNode(_ loop: EventLoop, bootstrap: [SocketAddress] = [], id: NodeID? = nil) throws -> DHTNode {
    let port = try DatagramPort(loop: loop, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
    var configuration = DHTNode.Configuration()
    configuration.bootstrap = bootstrap
    configuration.queryTimeout = 1
    return DHTNode(port: port, configuration: configuration, ownID: id)
}

@Suite(.serialized) struct DHTNodeTests {
    @Test func tenNodesFindEachOtherAndAnAnnouncedPeer() throws {
        let loop = EventLoop()
        var nodes: [DHTNode] = []
        for index in 0..<10 {
            nodes.append(try makeNode(loop, bootstrap: index == 0 ? [] : [nodes[index - 1].localAddress!]))
        }
        for node in nodes.dropFirst() {
            var done = false
            node.bootstrap { _ in done = true }
            #expect(spin(loop, timeout: 10) { done })
        }
        #expect(nodes.allSatisfy { $0.state.table.count > 0 })
        let hash = NodeID.random()
        var results: [DHTNode.AnnounceResult]?
        nodes[9].announce(hash, port: 7777) { _, outcome in results = outcome }
        #expect(spin(loop, timeout: 10) { results != nil })
        #expect((results ?? []).contains { $0.accepted })
        var found: Lookup?
        var firstPeers: [SocketAddress] = []
        nodes[1].lookup(hash, kind: .getPeers, onPeers: { peers, _ in firstPeers += peers }) { found = $0 }
        #expect(spin(loop, timeout: 10) { found != nil })
        #expect(found?.peers.map(\.peer) == [SocketAddress(ip: "127.0.0.1", port: 7777)!])
        #expect(firstPeers == [SocketAddress(ip: "127.0.0.1", port: 7777)!])
        // The closest-8 of a lookup are real nodes of the network, closest first.
        let closest = found!.closestReplied().map(\.node.id)
        #expect(closest == closest.sorted { hash.isCloser($0, than: $1) })
        for node in nodes { node.close() }
    }

    @Test func hostileDatagramsGetErrorsAndMemoryStaysBounded() throws {
        let loop = EventLoop()
        let node = try makeNode(loop)
        node.state.store.maxTorrents = 50
        let target = node.localAddress!
        let attacker = try UDPSocket(family: .ipv4, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        func exchange(_ bytes: [UInt8]) -> KRPCMessage? {
            try? attacker.send(bytes, to: target)
            for _ in 0..<5 { loop.runOnce(timeout: 0.05) }
            // Skip the node's own pings (it probes askers before adding them); keep its reply.
            let deadline = Deadline.after(0.3)
            while let (reply, _) = try? attacker.receive(deadline: deadline) {
                if let message = try? KRPCCodec.decode(reply), case .query = message.body { continue }
                return try? KRPCCodec.decode(reply)
            }
            return nil
        }
        // Garbage, truncated bencode, random bytes: no reply, no crash.
        #expect(exchange(Array("dgarbage".utf8)) == nil)
        #expect(exchange([UInt8](repeating: UInt8(ascii: "d"), count: 60_000)) == nil)
        // A query missing its id: error 203 with the same transaction id.
        let bad = exchange(Array("d1:ad6:target20:abcdefghij0123456789e1:q9:find_node1:t2:zz1:y1:qe".utf8))
        #expect(bad?.transactionID == Array("zz".utf8))
        if case .error(let code, _)? = bad?.body { #expect(code == 203) } else { Issue.record("no 203: \(String(describing: bad))") }
        // An unknown method: 204.
        let unknown = exchange(KRPCCodec.encode(KRPCMessage(transactionID: [7], body: .query(.unknown(method: "vote", id: .random())))))
        if case .error(let code, _)? = unknown?.body { #expect(code == 204) } else { Issue.record("no 204") }
        // A token minted for another IP is refused.
        let otherToken = node.state.tokens.token(for: [127, 0, 0, 99], now: monotonicSeconds())
        let stolen = exchange(KRPCCodec.encode(KRPCMessage(transactionID: [8], body: .query(
            .announcePeer(id: .random(), infoHash: .random(), port: 1, token: otherToken, impliedPort: false, seed: false)))))
        if case .error(let code, _)? = stolen?.body { #expect(code == 203) } else { Issue.record("stolen token accepted") }
        // An unsolicited reply with a huge nodes string is ignored.
        var huge: [UInt8] = []
        for index in 0..<2_000 { huge += NodeID.random().bytes + [127, 0, UInt8(index >> 8), UInt8(index & 0xff), 0x1a, 0xe1] }
        var response = KRPCResponse(id: .random())
        response.nodes = Compact.nodes(huge, ipLength: 4, limit: 2_000)
        _ = exchange(KRPCCodec.encode(KRPCMessage(transactionID: [0, 1], body: .response(response))))
        #expect(node.state.table.count == 0)
        // An announce flood with valid tokens: the store stays within its bounds.
        let token = node.state.tokens.token(for: [127, 0, 0, 1], now: monotonicSeconds())
        for index in 0..<500 {
            let query = KRPCMessage(transactionID: [UInt8(index & 0xff)], body: .query(
                .announcePeer(id: .random(), infoHash: .random(), port: UInt16(1000 + index), token: token, impliedPort: false, seed: false)))
            try? attacker.send(KRPCCodec.encode(query), to: target)
            if index % 20 == 0 { for _ in 0..<3 { loop.runOnce(timeout: 0.01) } }
        }
        _ = spin(loop, timeout: 2) { node.state.store.torrentCount >= 50 }
        #expect(node.state.store.torrentCount <= 50)
        #expect(node.pendingCount <= 40)  // only bounded probes of askers
        node.close()
    }

    @Test func aNodeAnsweringWithOurOwnIdNeverEntersTheTable() throws {
        let loop = EventLoop()
        let node = try makeNode(loop)
        let liar = try DatagramPort(loop: loop, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        // The liar answers every query with the asker's own id.
        liar.onKRPC = { bytes, from in
            if let message = try? KRPCCodec.decode(bytes), case .query = message.body {
                var response = KRPCResponse(id: node.ownID)
                response.nodes = [NodeInfo(id: node.ownID, address: from)]
                liar.send(KRPCCodec.encode(KRPCMessage(transactionID: message.transactionID, body: .response(response))), to: from)
            }
        }
        var pinged = false
        node.ping(liar.localAddress!) { _ in pinged = true }
        #expect(spin(loop, timeout: 5) { pinged })
        var looked: Lookup?
        var configuration = node.configuration
        configuration.bootstrap = [liar.localAddress!]
        let seeker = DHTNode(port: try DatagramPort(loop: loop, bind: SocketAddress(ip: "127.0.0.1", port: 0)!),
                             configuration: configuration, ownID: node.ownID)
        seeker.lookup(.random(), kind: .findNode) { looked = $0 }
        #expect(spin(loop, timeout: 5) { looked != nil })
        #expect(node.state.table.count == 0)
        #expect(seeker.state.table.count == 0)
        #expect(looked?.closestReplied().isEmpty == true)
        node.close()
        seeker.close()
    }

    @Test func routingTableIsSavedAndReusedWarm() throws {
        let directory = NSTemporaryDirectory() + "tt-dht-state-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/tt/dht.dat"
        let loop = EventLoop()
        let server = try makeNode(loop)
        var configuration = DHTNode.Configuration()
        configuration.bootstrap = [server.localAddress!]
        configuration.statePath = path
        let first = DHTNode(port: try DatagramPort(loop: loop, bind: SocketAddress(ip: "127.0.0.1", port: 0)!), configuration: configuration)
        var done = false
        first.bootstrap { _ in done = true }
        #expect(spin(loop, timeout: 5) { done })
        #expect(first.save() == nil)
        first.close()
        // A second run without any bootstrap node starts from the saved table, with the same id.
        configuration.bootstrap = []
        let second = DHTNode(port: try DatagramPort(loop: loop, bind: SocketAddress(ip: "127.0.0.1", port: 0)!), configuration: configuration)
        #expect(second.ownID == first.ownID)
        #expect(second.savedContacts.map(\.address) == [server.localAddress!])
        var pong: Lookup?
        second.lookup(.random(), kind: .findNode) { pong = $0 }
        #expect(spin(loop, timeout: 5) { pong != nil })
        #expect(pong?.repliesReceived == 1)
        second.close()
        server.close()
    }

    @Test func bep42IdFromTheReportedAddressAndPortMessagesFillTheTable() throws {
        let loop = EventLoop()
        let server = try makeNode(loop)
        let other = try makeNode(loop)
        let node = try makeNode(loop, bootstrap: [server.localAddress!])
        let agent = DHTSwarmAgent(node: node, infoHash: .random(), announcePort: 6881)
        var finished = 0
        agent.onLookupFinished = { _, _ in finished += 1 }
        agent.start()
        #expect(spin(loop, timeout: 5) { finished >= 1 })
        #expect(node.externalAddress?.ip == "127.0.0.1")
        #expect(node.ownID.isSecure(forExternalIP: [127, 0, 0, 1]))
        // A peer's BEP 5 'port' message: its node is pinged and enters the table once it answers.
        #expect(node.state.table.entry(at: other.localAddress!) == nil)
        agent.nodeSeen(other.localAddress!)
        #expect(spin(loop, timeout: 5) { node.state.table.entry(at: other.localAddress!) != nil })
        agent.stop()
        for each in [server, other, node] { each.close() }
    }
}
