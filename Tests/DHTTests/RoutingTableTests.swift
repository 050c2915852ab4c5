import Net
import Testing
@testable import DHT

/// A deterministic generator, so a failing table test reproduces.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func simulatedNode(_ index: Int, _ generator: inout SplitMix) -> NodeInfo {
    let id = NodeID((0..<20).map { _ in UInt8.random(in: 0...255, using: &generator) })!
    let ip: [UInt8] = [10, UInt8(index >> 16 & 0xff), UInt8(index >> 8 & 0xff), UInt8(index & 0xff)]
    return NodeInfo(id: id, address: SocketAddress(ipBytes: ip, port: 6881)!)
}

@Suite struct RoutingTableTests {
    @Test func thousandsOfNodesSplitAroundOurIdAndStayBounded() {
        var generator = SplitMix(state: 42)
        let own = simulatedNode(-1, &generator).id
        var table = RoutingTable(ownID: own)
        var all: [NodeInfo] = []
        for index in 0..<20_000 {
            let node = simulatedNode(index, &generator)
            all.append(node)
            table.nodeReplied(node, now: Double(index))
        }
        #expect(table.bucketCount > 8 && table.bucketCount < 40)
        #expect(table.count <= table.bucketCount * RoutingTable.k)
        #expect(table.count >= (table.bucketCount - 2) * RoutingTable.k)  // far buckets are full
        #expect(table.replacementCount <= table.bucketCount * RoutingTable.k)
        // Dense near us: every node sharing at least as many bits as the last bucket covers is known,
        // the closest is known, and the table's closest 8 are among the true closest 24 (a full bucket
        // one level up keeps its first arrivals, as Kademlia's do).
        let truth = all.sorted { own.isCloser($0.id, than: $1.id) }
        let deep = all.filter { own.commonPrefixLength(with: $0.id) >= table.bucketCount - 1 }
        #expect(deep.allSatisfy { node in table.entries.contains { $0.node == node } })
        let known = table.closest(to: own)
        #expect(known.first == truth.first)
        #expect(known.count == 8 && known.allSatisfy { truth.prefix(24).contains($0) })
    }

    @Test func ownIdRejectedAndOneEntryPerAddress() {
        let own = NodeID.random()
        var table = RoutingTable(ownID: own)
        let address = try! SocketAddress(parsing: "127.0.0.1:7000")
        #expect(table.nodeReplied(NodeInfo(id: own, address: address), now: 0) == .rejected("node uses our own id"))
        let first = NodeID.random(), second = NodeID.random()
        #expect(table.nodeReplied(NodeInfo(id: first, address: address), now: 0) == .added)
        #expect(table.nodeReplied(NodeInfo(id: first, address: address), now: 1) == .updated)
        #expect(table.nodeReplied(NodeInfo(id: second, address: address), now: 2) == .added)
        #expect(table.count == 1)
        #expect(table.entry(at: address)?.node.id == second)
        // The same id from another address does not move it.
        let other = try! SocketAddress(parsing: "127.0.0.2:7000")
        if case .rejected = table.nodeReplied(NodeInfo(id: second, address: other), now: 3) {} else { Issue.record("moved") }
    }

    @Test func fullBucketKeepsGoodNodesThenEvictsBadOnes() {
        // Our id is all ones; ids starting with bit 0 all land in bucket 0 once it has split.
        let own = NodeID([UInt8](repeating: 0xff, count: 20))!
        var table = RoutingTable(ownID: own)
        func far(_ n: Int) -> NodeInfo {
            NodeInfo(id: NodeID([0x00, UInt8(n)] + [UInt8](repeating: 0, count: 18))!,
                     address: SocketAddress(ipBytes: [127, 0, 1, UInt8(n)], port: 6881)!)
        }
        for n in 0..<8 { #expect(table.nodeReplied(far(n), now: 0) == .added) }
        // A near node forces the split; then bucket 0 is full of good nodes.
        table.nodeReplied(NodeInfo(id: NodeID([0xff] + [UInt8](repeating: 0, count: 19))!,
                                   address: SocketAddress(ipBytes: [127, 0, 2, 1], port: 6881)!), now: 0)
        #expect(table.nodeReplied(far(100), now: 10) == .full(questionable: []))
        // After 15 minutes of silence they are questionable: the newcomer asks for pings.
        if case .full(let questionable) = table.nodeReplied(far(101), now: 2_000) { #expect(questionable.count == 8) }
        else { Issue.record("expected full") }
        // Two failures make a node bad: the newest replacement takes its place.
        table.nodeFailed(far(3).address)
        #expect(table.entry(at: far(3).address) != nil)
        table.nodeFailed(far(3).address)
        #expect(table.entry(at: far(3).address) == nil)
        #expect(table.entry(at: far(101).address) != nil)
        #expect(table.count == 9)
    }

    @Test func refreshTargetsFallInsideTheirBuckets() {
        var generator = SplitMix(state: 7)
        let own = NodeID.random()
        var table = RoutingTable(ownID: own)
        for index in 0..<500 { table.nodeReplied(simulatedNode(index, &generator), now: 0) }
        for index in 0..<table.bucketCount {
            let target = table.randomID(inBucket: index)
            #expect(table.bucketIndex(target) == index)
        }
        #expect(table.refreshTargets(now: 100).isEmpty)
        #expect(table.refreshTargets(now: 1_000).count == table.bucketCount)
    }
}
