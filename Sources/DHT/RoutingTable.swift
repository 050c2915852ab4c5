import Net

/// The routing table of BEP 5: buckets of at most K nodes, split only around our own id, so it
/// knows many nodes near us and a few far away. Memory is bounded: at most 160 buckets of K nodes
/// plus K replacements each.
///
/// Only nodes that answered one of our queries are added (`nodeReplied`); a node that queried us
/// is not trusted until it answers. One entry per IP and port.
public struct RoutingTable: Sendable {
    public static let k = 8
    /// A node silent this long is questionable: ping it before keeping it over a newcomer.
    public static let questionableAfter: Double = 15 * 60
    /// Failed queries in a row that make a node bad (replaced at once).
    public static let badAfterFailures = 2

    public struct Entry: Sendable, Equatable {
        public var node: NodeInfo
        public var version: [UInt8]?
        public var lastReplied: Double
        public var failures: Int = 0

        public var isBad: Bool { failures >= RoutingTable.badAfterFailures }
        public func isQuestionable(now: Double) -> Bool { isBad || now - lastReplied > RoutingTable.questionableAfter }
    }

    struct Bucket: Sendable {
        var entries: [Entry] = []
        var replacements: [Entry] = []
        var lastChanged: Double
    }

    public enum Insertion: Equatable, Sendable {
        case added, updated
        /// The bucket is full of good nodes: the newcomer waits as a replacement; ping these.
        case full(questionable: [NodeInfo])
        case rejected(String)
    }

    public private(set) var ownID: NodeID
    private var buckets: [Bucket]
    /// Which id sits at an address (one entry per IP and port).
    private var idAtAddress: [SocketAddress: NodeID] = [:]

    public init(ownID: NodeID, now: Double = 0) {
        self.ownID = ownID
        self.buckets = [Bucket(lastChanged: now)]
    }

    public var count: Int { buckets.reduce(0) { $0 + $1.entries.count } }
    public var bucketCount: Int { buckets.count }
    public var replacementCount: Int { buckets.reduce(0) { $0 + $1.replacements.count } }
    public var entries: [Entry] { buckets.flatMap(\.entries) }

    func bucketIndex(_ id: NodeID) -> Int { min(ownID.commonPrefixLength(with: id), buckets.count - 1) }

    public func entry(at address: SocketAddress) -> Entry? {
        guard let id = idAtAddress[address] else { return nil }
        return buckets[bucketIndex(id)].entries.first { $0.node.address == address }
    }

    /// Records that `node` answered one of our queries.
    @discardableResult
    public mutating func nodeReplied(_ node: NodeInfo, version: [UInt8]? = nil, now: Double) -> Insertion {
        guard node.id != ownID else { return .rejected("node uses our own id") }
        guard node.address.port != 0 else { return .rejected("port 0") }
        if let existing = idAtAddress[node.address], existing != node.id {
            // The same address with a new id: the node restarted. Keep one entry per address.
            remove(address: node.address)
        }
        var index = bucketIndex(node.id)
        if let position = buckets[index].entries.firstIndex(where: { $0.node.id == node.id }) {
            guard buckets[index].entries[position].node.address == node.address else {
                return .rejected("id \(node.id) is already at \(buckets[index].entries[position].node.address)")
            }
            buckets[index].entries[position].lastReplied = now
            buckets[index].entries[position].failures = 0
            if version != nil { buckets[index].entries[position].version = version }
            buckets[index].lastChanged = now
            return .updated
        }
        let entry = Entry(node: node, version: version, lastReplied: now)
        while buckets[index].entries.count >= RoutingTable.k, index == buckets.count - 1, buckets.count < 160 {
            split()
            index = bucketIndex(node.id)
        }
        if buckets[index].entries.count < RoutingTable.k {
            buckets[index].entries.append(entry)
            buckets[index].replacements.removeAll { $0.node.address == node.address }
            buckets[index].lastChanged = now
            idAtAddress[node.address] = node.id
            return .added
        }
        if let bad = buckets[index].entries.firstIndex(where: \.isBad) {
            idAtAddress[buckets[index].entries[bad].node.address] = nil
            buckets[index].entries[bad] = entry
            buckets[index].lastChanged = now
            idAtAddress[node.address] = node.id
            return .added
        }
        buckets[index].replacements.removeAll { $0.node.address == node.address || $0.node.id == node.id }
        buckets[index].replacements.append(entry)
        if buckets[index].replacements.count > RoutingTable.k { buckets[index].replacements.removeFirst() }
        return .full(questionable: buckets[index].entries.filter { $0.isQuestionable(now: now) }.map(\.node))
    }

    /// Records a query to `address` that timed out; a bad node gives way to the newest replacement.
    public mutating func nodeFailed(_ address: SocketAddress) {
        guard let id = idAtAddress[address] else { return }
        let index = bucketIndex(id)
        guard let position = buckets[index].entries.firstIndex(where: { $0.node.address == address }) else { return }
        buckets[index].entries[position].failures += 1
        if buckets[index].entries[position].isBad, let replacement = buckets[index].replacements.popLast() {
            idAtAddress[address] = nil
            buckets[index].entries[position] = replacement
            idAtAddress[replacement.node.address] = replacement.node.id
        }
    }

    public mutating func remove(address: SocketAddress) {
        guard let id = idAtAddress.removeValue(forKey: address) else { return }
        let index = bucketIndex(id)
        buckets[index].entries.removeAll { $0.node.address == address }
    }

    /// Moves the nodes of the last bucket that share one more bit with us into a new last bucket.
    private mutating func split() {
        let depth = buckets.count - 1
        let old = buckets[depth]
        var near = Bucket(lastChanged: old.lastChanged)
        var far = Bucket(lastChanged: old.lastChanged)
        for entry in old.entries {
            if ownID.commonPrefixLength(with: entry.node.id) > depth { near.entries.append(entry) } else { far.entries.append(entry) }
        }
        for entry in old.replacements {
            if ownID.commonPrefixLength(with: entry.node.id) > depth { near.replacements.append(entry) } else { far.replacements.append(entry) }
        }
        buckets[depth] = far
        buckets.append(near)
    }

    /// The `count` known nodes closest to `target`, closest first (bad nodes left out).
    public func closest(to target: NodeID, count: Int = RoutingTable.k) -> [NodeInfo] {
        let candidates = buckets.flatMap(\.entries).filter { !$0.isBad }.map(\.node)
        return Array(candidates.sorted { target.isCloser($0.id, than: $1.id) }.prefix(count))
    }

    /// Nodes not heard from for a while, to ping.
    public func questionableNodes(now: Double) -> [NodeInfo] {
        buckets.flatMap(\.entries).filter { $0.isQuestionable(now: now) && !$0.isBad }.map(\.node)
    }

    /// A random target inside each bucket that has not changed for `interval`, for a refresh lookup.
    public func refreshTargets(now: Double, interval: Double = 15 * 60) -> [NodeID] {
        buckets.indices.filter { now - buckets[$0].lastChanged > interval }.map { randomID(inBucket: $0) }
    }

    func randomID(inBucket index: Int) -> NodeID {
        var bytes = NodeID.random().bytes
        let own = ownID.bytes
        // Keep our first `index` bits; for any bucket but the last, flip bit `index` too.
        for bit in 0..<min(index + 1, 160) {
            let mask = UInt8(0x80) >> UInt8(bit % 8)
            let ownBit = own[bit / 8] & mask
            let wanted = bit < index || index == buckets.count - 1 ? ownBit : (ownBit ^ mask)
            if bit == index && index == buckets.count - 1 { break }
            bytes[bit / 8] = (bytes[bit / 8] & ~mask) | wanted
        }
        return NodeID(bytes)!
    }

    /// Marks every bucket changed now (after a refresh lookup covered it, or at start-up).
    public mutating func touchAll(now: Double) {
        for index in buckets.indices { buckets[index].lastChanged = now }
    }

    /// Replaces our id (BEP 42 after learning our external address) and re-files every node.
    public mutating func changeOwnID(_ id: NodeID, now: Double) {
        let all = entries
        self = RoutingTable(ownID: id, now: now)
        for entry in all {
            if case .added = nodeReplied(entry.node, version: entry.version, now: entry.lastReplied) {}
        }
    }
}
