import Foundation
import Net
import Testing
@testable import DHT

private func addr(_ text: String) -> SocketAddress { try! SocketAddress(parsing: text) }

@Suite struct NodeStateTests {
    @Test func tokensAreBoundToTheAskersIPAndRotate() {
        var tokens = TokenIssuer(now: 0)
        let token = tokens.token(for: [127, 0, 0, 1], now: 0)
        do { let ok = tokens.isValid(token, for: [127, 0, 0, 1], now: 10); #expect(ok) }
        do { let ok = tokens.isValid(token, for: [127, 0, 0, 2], now: 10); #expect(!ok) }
        do { let ok = tokens.isValid(token, for: [127, 0, 0, 1], now: 400); #expect(ok) }  // previous secret still accepted
        do { let ok = tokens.isValid(token, for: [127, 0, 0, 1], now: 700); #expect(!ok) }  // two rotations later it is not
        do { let ok = tokens.isValid(token, for: [127, 0, 0, 1], now: 5_000); #expect(!ok) }
    }

    @Test func peerStoreExpiresAndIsBounded() {
        var store = PeerStore()
        store.maxTorrents = 10
        store.maxPeersPerTorrent = 5
        let hash = NodeID.random()
        for port in 1...50 { store.add(SocketAddress(ipBytes: [127, 0, 0, 1], port: UInt16(port))!, for: hash, now: Double(port)) }
        #expect(store.peers(for: hash, now: 60).count == 5)
        #expect(Set(store.peers(for: hash, now: 60).map(\.port)) == Set(46...50))
        for _ in 0..<100 { store.add(addr("127.0.0.1:1"), for: .random(), now: 100) }
        #expect(store.torrentCount == 10)
        #expect(store.peers(for: hash, now: 100 + store.ttl).isEmpty)
        store.expire(now: 200 + store.ttl)
        #expect(store.torrentCount == 0)
    }

    @Test func answersQueriesAnnounceWithTokensAndSamples() throws {
        var state = NodeState(ownID: .random(), now: 0)
        let asker = addr("127.0.0.5:4000")
        let hash = NodeID.random()
        for n in 1...20 { state.table.nodeReplied(NodeInfo(id: .random(), address: SocketAddress(ipBytes: [127, 0, 1, UInt8(n)], port: 7000)!), now: 0) }

        let ping = state.answer(.ping(id: .random()), transactionID: [1], from: asker, now: 1)
        #expect(ping.observedAddress == asker)
        guard case .response(let pong) = ping.body else { Issue.record("no pong"); return }
        #expect(pong.id == state.ownID)

        guard case .response(let first) = state.answer(.getPeers(id: .random(), infoHash: hash, want: []), transactionID: [2], from: asker, now: 1).body,
              let token = first.token else { Issue.record("no token"); return }
        #expect(first.values.isEmpty)
        #expect(first.nodes.count == 8)

        // A token given to another IP is refused with 203.
        let stolen = state.answer(.announcePeer(id: .random(), infoHash: hash, port: 6881, token: token, impliedPort: false, seed: false),
                                  transactionID: [3], from: addr("127.0.0.6:4000"), now: 2)
        #expect(stolen.body == .error(code: 203, message: "bad token"))
        let accepted = state.answer(.announcePeer(id: .random(), infoHash: hash, port: 6881, token: token, impliedPort: false, seed: false),
                                    transactionID: [4], from: asker, now: 2)
        guard case .response = accepted.body else { Issue.record("announce refused"); return }
        _ = state.answer(.announcePeer(id: .random(), infoHash: hash, port: 1, token: token, impliedPort: true, seed: false),
                         transactionID: [5], from: asker, now: 2)
        guard case .response(let second) = state.answer(.getPeers(id: .random(), infoHash: hash, want: []), transactionID: [6], from: asker, now: 3).body else {
            Issue.record("get_peers after the announces was not answered")
            return
        }
        #expect(Set(second.values) == [addr("127.0.0.5:6881"), addr("127.0.0.5:4000")])

        guard case .response(let samples) = state.answer(.sampleInfohashes(id: .random(), target: .random()), transactionID: [7], from: asker, now: 3).body else {
            Issue.record("sample_infohashes was not answered")
            return
        }
        #expect(samples.samples == [hash] && samples.num == 1 && samples.interval != nil)

        let unknown = state.answer(.unknown(method: "put", id: nil), transactionID: [8], from: asker, now: 3)
        if case .error(let code, _) = unknown.body { #expect(code == 204) } else { Issue.record("no 204") }
    }

    @Test func announceFloodStaysBounded() {
        var state = NodeState(ownID: .random(), now: 0)
        state.store.maxTorrents = 100
        for n in 0..<3_000 {
            let asker = SocketAddress(ipBytes: [127, 1, UInt8(n >> 8 & 0xff), UInt8(n & 0xff)], port: 5000)!
            let token = state.tokens.token(for: asker.ipBytes, now: 1)
            _ = state.answer(.announcePeer(id: .random(), infoHash: .random(), port: 6881, token: token, impliedPort: false, seed: false),
                             transactionID: [1], from: asker, now: 1)
        }
        #expect(state.store.torrentCount <= 100)
        #expect(state.store.peerCount <= 100)
    }

    @Test func routingTableFileRoundTripsAtomically() throws {
        let directory = NSTemporaryDirectory() + "tt-dht-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = RoutingTableFile.defaultPath(environment: ["XDG_STATE_HOME": directory])
        #expect(path == directory + "/tt/dht.dat")
        #expect(RoutingTableFile.defaultPath(environment: ["HOME": "/home/x"]) == "/home/x/.local/state/tt/dht.dat")
        #expect(try RoutingTableFile.load(path) == nil)
        let v4 = RoutingTableFile.Contents(id: .random(), nodes: [NodeInfo(id: .random(), address: addr("127.0.0.1:1"))])
        try RoutingTableFile.save(v4, to: path)
        let v6 = RoutingTableFile.Contents(id: .random(), nodes: [NodeInfo(id: .random(), address: addr("[::1]:2"))])
        try RoutingTableFile.save(v6, to: path)
        let loaded = try #require(try RoutingTableFile.load(path))
        #expect(loaded.id == v6.id)
        #expect(Set(loaded.nodes) == Set(v4.nodes + v6.nodes))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/tt") == ["dht.dat"])
        #expect(FileManager.default.createFile(atPath: path, contents: Data("garbage".utf8)))
        #expect(throws: DHTError.self) { try RoutingTableFile.load(path) }
    }
}
