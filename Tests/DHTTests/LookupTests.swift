import Net
import Testing
@testable import DHT

/// A simulated network of nodes, each knowing its K closest neighbours and some random ones.
struct SimulatedNetwork {
    var nodes: [NodeInfo]
    var neighbours: [SocketAddress: [NodeInfo]] = [:]

    init(count: Int, seed: UInt64) {
        var generator = SplitMix(state: seed)
        nodes = (0..<count).map { simulatedNode($0, &generator) }
        for node in nodes {
            var table = RoutingTable(ownID: node.id)
            for other in nodes.shuffled(using: &generator).prefix(60) where other != node { table.nodeReplied(other, now: 0) }
            // Every node also knows its own closest neighbours, as a converged DHT does.
            let nearest = nodes.sorted(by: { node.id.isCloser($0.id, than: $1.id) }).prefix(9).filter { $0 != node }
            neighbours[node.address] = Array(Set(table.entries.map(\.node) + nearest))
        }
    }

    func closest(to target: NodeID) -> [NodeInfo] { Array(nodes.sorted { target.isCloser($0.id, than: $1.id) }.prefix(8)) }
}

@Suite struct LookupTests {
    @Test func convergesOnTheEightClosestWithAlphaThreeInFlight() {
        let network = SimulatedNetwork(count: 400, seed: 3)
        let target = NodeID.random()
        var lookup = Lookup(target: target, seeds: Array(network.nodes.prefix(3)))
        var now = 0.0
        var rounds = 0
        while !lookup.isFinished, rounds < 500 {
            let queries = lookup.nextQueries(now: now)
            #expect(queries.count <= 3)
            for node in queries {
                let id = network.nodes.first { $0.address == node.address }!.id
                let named = network.neighbours[node.address]!.sorted { target.isCloser($0.id, than: $1.id) }.prefix(8)
                lookup.replied(from: node.address, id: id, nodes: Array(named))
            }
            now += 0.1
            rounds += 1
        }
        #expect(lookup.isFinished)
        #expect(lookup.closestReplied().map(\.node) == network.closest(to: target))
        #expect(lookup.queriesSent < 100)
    }

    @Test func timeoutsFailQueriesAndLookupStillFinishes() {
        let network = SimulatedNetwork(count: 200, seed: 5)
        // The target is a silent node's own id, so the lookup must ask it (and others near it that never
        // answer) rather than converge before any query times out — a random target sometimes did.
        let target = network.nodes[0].id
        // Every third node never answers.
        let silent = Set(network.nodes.enumerated().filter { $0.offset % 3 == 0 }.map(\.element.address))
        var lookup = Lookup(target: target, seeds: Array(network.nodes.prefix(8)))
        var now = 0.0
        var pending: [NodeInfo] = []
        while !lookup.isFinished, now < 200 {
            pending = lookup.nextQueries(now: now)
            // At most alpha queries younger than slowAfter; slow ones gave their slot away.
            #expect(lookup.candidates.filter { if case .inFlight(let since) = $0.state { return now - since < lookup.slowAfter } else { return false } }.count <= 3)
            for node in pending where !silent.contains(node.address) {
                let id = network.nodes.first { $0.address == node.address }!.id
                lookup.replied(from: node.address, id: id, nodes: Array(network.neighbours[node.address]!.prefix(16)))
            }
            now += 0.5
        }
        #expect(lookup.isFinished)
        let expected = network.closest(to: target).filter { !silent.contains($0.address) }
        let found = lookup.closestReplied().map(\.node)
        #expect(Array(found.prefix(expected.count)).allSatisfy { !silent.contains($0.address) })
        #expect(lookup.candidates.contains { $0.state == .failed })
    }

    @Test func hostileRepliesOwnIdAndFloodsAreContained() {
        let own = NodeID.random()
        let seed = NodeInfo(id: .random(), address: try! SocketAddress(parsing: "127.0.0.1:1000"))
        var lookup = Lookup(target: .random(), seeds: [seed], ownID: own)
        _ = lookup.nextQueries(now: 0)
        var flood: [NodeInfo] = (0..<5_000).map { NodeInfo(id: .random(), address: SocketAddress(ipBytes: [127, 2, UInt8($0 >> 8), UInt8($0 & 0xff)], port: 9)!) }
        flood.append(NodeInfo(id: own, address: try! SocketAddress(parsing: "127.0.0.9:9")))
        lookup.replied(from: seed.address, id: own, nodes: flood, values: (1...20_000).map { SocketAddress(ipBytes: [127, 3, UInt8($0 >> 8), UInt8($0 & 0xff)], port: 1)! })
        #expect(lookup.candidates.count <= lookup.maxCandidates)
        #expect(!lookup.candidates.contains { $0.node.id == own && $0.state != .failed })
        #expect(lookup.peers.count <= 10_000)
        // A reply from an address we never asked changes nothing.
        lookup.replied(from: try! SocketAddress(parsing: "127.9.9.9:1"), id: .random(), nodes: [])
        #expect(lookup.repliesReceived == 1)
    }

    @Test func aSlowQueryGivesItsSlotAwayButItsLateReplyCounts() {
        let seeds = (1...5).map { NodeInfo(id: .random(), address: SocketAddress(ipBytes: [127, 0, 0, UInt8($0)], port: 1)!) }
        var lookup = Lookup(target: .random(), seeds: seeds)
        #expect(lookup.nextQueries(now: 0).count == 3)
        #expect(lookup.nextQueries(now: 0.5).isEmpty)
        #expect(lookup.nextTimeout == 0.75)
        #expect(lookup.nextQueries(now: 0.8).count == 2)  // the three are slow: the rest may go
        let late = lookup.candidates.first { if case .inFlight(let since) = $0.state { return since == 0 } else { return false } }!
        lookup.replied(from: late.node.address, id: late.node.id, nodes: [])
        #expect(lookup.repliesReceived == 1)
        _ = lookup.nextQueries(now: 2.1)  // the other two first ones time out
        #expect(lookup.candidates.filter { $0.state == .failed }.count == 2)
    }
}
