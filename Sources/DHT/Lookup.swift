import Net

/// An iterative Kademlia lookup (BEP 5) as a state machine without I/O: the node feeds it replies,
/// failures and the time, and asks it which nodes to query next.
///
/// Keeps at most `alpha` queries in flight, always to the closest candidates not yet asked, and
/// finishes when the `k` closest candidates that did not fail have all answered (or nothing is
/// left to ask). A query unanswered after `queryTimeout` counts as failed. Memory is bounded by
/// `maxCandidates`, however many nodes replies name.
public struct Lookup: Sendable {
    public enum State: Sendable, Equatable { case fresh, inFlight(since: Double), replied, failed }

    public struct Candidate: Sendable {
        public var node: NodeInfo
        public var state: State
        public var token: [UInt8]?
        public var version: [UInt8]?
        /// A contact given by address alone (a bootstrap node): its id is a placeholder until it answers.
        public var isContact = false
    }

    public let target: NodeID
    public var alpha = 3
    public var k = RoutingTable.k
    public var queryTimeout: Double = 2
    /// A query unanswered this long no longer holds one of the `alpha` slots (its reply still counts).
    public var slowAfter: Double = 0.75
    public var maxCandidates = 256
    public var maxQueries = 200

    public private(set) var candidates: [Candidate] = []
    /// Peers in the order they were learned, with the node that gave each.
    public private(set) var peers: [(peer: SocketAddress, from: NodeInfo)] = []
    public private(set) var queriesSent = 0
    public private(set) var repliesReceived = 0
    private var seenPeers: Set<SocketAddress> = []
    private var ownID: NodeID?
    private var excludedAddresses: Set<SocketAddress>

    public init(target: NodeID, seeds: [NodeInfo], ownID: NodeID? = nil, excluding: Set<SocketAddress> = []) {
        self.target = target
        self.ownID = ownID
        self.excludedAddresses = excluding
        add(seeds)
    }

    /// Adds contacts known only by address; they are asked first, and placed by the id they give.
    public mutating func addContacts(_ addresses: [SocketAddress]) {
        for address in addresses where !excludedAddresses.contains(address) && !candidates.contains(where: { $0.node.address == address }) {
            var candidate = Candidate(node: NodeInfo(id: target, address: address), state: .fresh)
            candidate.isContact = true
            candidates.insert(candidate, at: 0)
        }
    }

    /// Adds nodes a reply named; ignores duplicates (by address or id), ourselves and excess.
    public mutating func add(_ nodes: [NodeInfo]) {
        for node in nodes {
            guard node.id != ownID, node.address.port != 0, !excludedAddresses.contains(node.address),
                  !candidates.contains(where: { $0.node.address == node.address || (!$0.isContact && $0.node.id == node.id) }) else { continue }
            let position = candidates.firstIndex { target.isCloser(node.id, than: $0.node.id) } ?? candidates.count
            // Full: a node farther than every candidate is not worth keeping.
            if candidates.count >= maxCandidates && position == candidates.count { continue }
            candidates.insert(Candidate(node: node, state: .fresh), at: position)
            // Drop the farthest fresh candidate beyond the bound; asked ones stay (their replies still match).
            if candidates.count > maxCandidates, let last = candidates.lastIndex(where: { $0.state == .fresh }) {
                candidates.remove(at: last)
            }
        }
    }

    /// Marks queries older than `queryTimeout` as failed and returns the nodes to query now.
    public mutating func nextQueries(now: Double) -> [NodeInfo] {
        for index in candidates.indices {
            if case .inFlight(let since) = candidates[index].state, now - since >= queryTimeout {
                candidates[index].state = .failed
            }
        }
        // Slow queries give their slot to the next candidate, as libtorrent's traversals do.
        var inFlight = candidates.filter { if case .inFlight(let since) = $0.state { return now - since < slowAfter } else { return false } }.count
        var chosen: [NodeInfo] = []
        var alive = 0
        for index in candidates.indices {
            guard inFlight < alpha, queriesSent < maxQueries else { break }
            if candidates[index].state == .failed { continue }
            alive += 1
            if alive > k { break }
            if candidates[index].state == .fresh {
                candidates[index].state = .inFlight(since: now)
                chosen.append(candidates[index].node)
                inFlight += 1
                queriesSent += 1
            }
        }
        return chosen
    }

    /// The earliest time a query in flight times out (when to call `nextQueries` again).
    public var nextTimeout: Double? {
        candidates.compactMap { candidate -> Double? in
            guard case .inFlight(let since) = candidate.state else { return nil }
            return since + slowAfter  // the earlier of the two deadlines that change what to send
        }.min()
    }

    /// A reply from `address`: its id, the nodes it named, peers and a token (get_peers).
    public mutating func replied(from address: SocketAddress, id: NodeID, nodes: [NodeInfo], values: [SocketAddress] = [],
                                 token: [UInt8]? = nil, version: [UInt8]? = nil) {
        guard let index = candidates.firstIndex(where: { $0.node.address == address }) else { return }
        if case .inFlight = candidates[index].state {} else if candidates[index].state != .failed { return }
        repliesReceived += 1
        var candidate = candidates.remove(at: index)
        candidate.state = .replied
        candidate.isContact = false
        candidate.node.id = id  // the id it claims, which may differ from what another node said
        candidate.token = token
        candidate.version = version
        if id == ownID || candidates.contains(where: { $0.node.id == id && !$0.isContact }) {
            candidate.state = .failed  // our own id (a liar, or us), or an id another address already has
        }
        let position = candidates.firstIndex { target.isCloser(candidate.node.id, than: $0.node.id) } ?? candidates.count
        candidates.insert(candidate, at: position)
        for peer in values where peer.port != 0 && seenPeers.insert(peer).inserted && peers.count < 10_000 {
            peers.append((peer, candidate.node))
        }
        add(nodes)
    }

    /// The query to `address` failed (error reply, unreachable, or timeout).
    public mutating func failed(_ address: SocketAddress) {
        guard let index = candidates.firstIndex(where: { $0.node.address == address }) else { return }
        candidates[index].state = .failed
    }

    /// True when the `k` closest live candidates have all answered, or nothing more can be asked.
    public var isFinished: Bool {
        var alive = 0
        for candidate in candidates where candidate.state != .failed {
            alive += 1
            if alive > k { break }
            switch candidate.state {
            case .fresh: if queriesSent < maxQueries { return false }
            case .inFlight: return false
            default: break
            }
        }
        return true
    }

    /// The closest nodes that answered, closest first (with their tokens, for announce_peer).
    public func closestReplied(_ count: Int? = nil) -> [Candidate] {
        Array(candidates.filter { $0.state == .replied }.prefix(count ?? k))
    }
}
