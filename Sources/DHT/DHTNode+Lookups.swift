import Net

extension DHTNode {
    public enum LookupKind: Sendable { case findNode, getPeers }

    /// What happened to one `announce_peer`.
    public struct AnnounceResult: Sendable {
        public var node: NodeInfo
        public var failure: QueryFailure?
        public var accepted: Bool { failure == nil }
    }

    /// Nodes to start a lookup from: the table's closest, saved nodes, and (while the table is
    /// nearly empty) the bootstrap contacts.
    func startingLookup(_ target: NodeID) -> Lookup {
        var excluded: Set<SocketAddress> = []
        if let local = localAddress {
            excluded.insert(local)
            if let loop4 = SocketAddress(ip: "127.0.0.1", port: local.port) { excluded.insert(loop4) }
        }
        var lookup = Lookup(target: target, seeds: state.table.closest(to: target, count: 16), ownID: ownID, excluding: excluded)
        lookup.queryTimeout = configuration.queryTimeout
        lookup.add(Array(savedContacts.sorted { target.isCloser($0.id, than: $1.id) }.prefix(16)))
        if state.table.count < RoutingTable.k { lookup.addContacts(configuration.bootstrap) }
        return lookup
    }

    /// An iterative `find_node` or `get_peers` lookup for `target`. `onPeers` hears each new batch of
    /// peers with the node that gave them; `completion` gets the finished lookup (closest nodes, tokens).
    public func lookup(_ target: NodeID, kind: LookupKind, onPeers: (([SocketAddress], NodeInfo) -> Void)? = nil,
                       completion: @escaping (Lookup) -> Void) {
        let run = LookupRun(lookup: startingLookup(target), kind: kind, onPeers: onPeers, completion: completion)
        step(run)
    }

    final class LookupRun {
        var lookup: Lookup
        let kind: LookupKind
        let onPeers: (([SocketAddress], NodeInfo) -> Void)?
        var completion: ((Lookup) -> Void)?
        var stepScheduled = false
        init(lookup: Lookup, kind: LookupKind, onPeers: (([SocketAddress], NodeInfo) -> Void)?, completion: @escaping (Lookup) -> Void) {
            self.lookup = lookup
            self.kind = kind
            self.onPeers = onPeers
            self.completion = completion
        }
    }

    private func step(_ run: LookupRun) {
        for node in run.lookup.nextQueries(now: monotonicSeconds()) {
            let query: KRPCQuery = run.kind == .findNode
                ? .findNode(id: ownID, target: run.lookup.target, want: [])
                : .getPeers(id: ownID, infoHash: run.lookup.target, want: [])
            send(query, to: node.address, timeout: run.lookup.queryTimeout) { [weak self] result in
                guard let self else { return }
                switch result {
                case .success(let (response, message)):
                    let before = run.lookup.peers.count
                    run.lookup.replied(from: node.address, id: response.id, nodes: response.allNodes.filter { $0.address.family == self.port.family },
                                       values: response.values, token: response.token, version: message.version)
                    if run.lookup.peers.count > before, let onPeers = run.onPeers {
                        let fresh = run.lookup.peers[before...]
                        onPeers(fresh.map(\.peer), fresh.first!.from)
                    }
                case .failure:
                    run.lookup.failed(node.address)
                }
                self.step(run)
            }
        }
        if run.lookup.isFinished, let completion = run.completion {
            run.completion = nil
            completion(run.lookup)
        } else if let due = run.lookup.nextTimeout, run.completion != nil, !run.stepScheduled {
            // Wake when a query turns slow, so its slot goes to the next candidate.
            run.stepScheduled = true
            loop.schedule(after: max(0.01, due - monotonicSeconds())) { [weak self] in
                run.stepScheduled = false
                self?.step(run)
            }
        }
    }

    /// A `get_peers` lookup, then `announce_peer` with each token to the closest nodes that gave one.
    public func announce(_ infoHash: NodeID, port announced: UInt16, impliedPort: Bool = false, seed: Bool = false,
                         onPeers: (([SocketAddress], NodeInfo) -> Void)? = nil,
                         completion: @escaping (Lookup, [AnnounceResult]) -> Void) {
        lookup(infoHash, kind: .getPeers, onPeers: onPeers) { [weak self] lookup in
            guard let self else { return }
            let targets = lookup.closestReplied().filter { $0.token != nil }
            guard !targets.isEmpty else { completion(lookup, []); return }
            var results: [AnnounceResult] = []
            for candidate in targets {
                let query = KRPCQuery.announcePeer(id: self.ownID, infoHash: infoHash, port: announced, token: candidate.token!,
                                                   impliedPort: impliedPort, seed: seed)
                self.send(query, to: candidate.node.address) { result in
                    if case .failure(let failure) = result {
                        results.append(AnnounceResult(node: candidate.node, failure: failure))
                    } else {
                        results.append(AnnounceResult(node: candidate.node, failure: nil))
                    }
                    if results.count == targets.count { completion(lookup, results) }
                }
            }
        }
    }

    /// Fills the routing table: a lookup for our own id from the contacts and saved nodes.
    public func bootstrap(completion: @escaping (Lookup) -> Void) {
        lookup(ownID, kind: .findNode, completion: completion)
    }
}
