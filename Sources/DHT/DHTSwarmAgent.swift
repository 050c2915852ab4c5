import Net

/// The DHT side of one torrent in a download or seed (BEP 5): look up peers, announce ourselves,
/// repeat; answer other nodes (through the node) with ourselves as a peer. Runs on the node's loop.
public final class DHTSwarmAgent {
    public let node: DHTNode
    public let infoHash: NodeID
    /// The peer port to announce; nil while there is none (nothing is announced).
    public var announcePort: UInt16?
    /// Called on the loop with each batch of new peers.
    public var onPeers: (([SocketAddress]) -> Void)?
    /// Called on the loop after each lookup (and its announces) finished.
    public var onLookupFinished: ((Lookup, [DHTNode.AnnounceResult]) -> Void)?
    /// Seconds between lookups once peers are known, and while none are.
    public var interval: Double = 5 * 60
    public var retryInterval: Double = 10
    public private(set) var peersFound: Set<SocketAddress> = []
    public private(set) var lookups = 0
    private var timer: EventLoop.TimerID?
    private var running = false

    public init(node: DHTNode, infoHash: NodeID, announcePort: UInt16?) {
        self.node = node
        self.infoHash = infoHash
        self.announcePort = announcePort
    }

    /// Bootstraps the node when its table is empty, then looks up (and announces) at once.
    public func start() {
        guard !running else { return }
        running = true
        node.startMaintenance()
        lookUp()
    }

    public func stop() {
        running = false
        if let timer { node.loop.cancel(timer) }
    }

    /// A peer's BEP 5 `port` message: its DHT node is pinged, and enters the table if it answers.
    public func nodeSeen(_ address: SocketAddress) {
        node.ping(address) { _ in }
    }

    /// Our own peer address, stored in our node's peer store so nodes asking us find us.
    public func advertiseSelf(_ address: SocketAddress) {
        node.state.store.add(address, for: infoHash, seed: true, now: monotonicSeconds())
    }

    /// Our peer address: the bound IP, or (bound to a wildcard) the address other nodes report.
    func ownAddress(port: UInt16) -> SocketAddress? {
        guard let local = node.localAddress else { return nil }
        if local.ipBytes.contains(where: { $0 != 0 }) { return SocketAddress(ipBytes: local.ipBytes, port: port) }
        return node.externalAddress.flatMap { SocketAddress(ipBytes: $0.ipBytes, port: port) }
    }

    private func lookUp() {
        guard running else { return }
        lookups += 1
        let found: ([SocketAddress], NodeInfo) -> Void = { [weak self] peers, _ in
            guard let self else { return }
            let fresh = peers.filter { self.peersFound.insert($0).inserted }
            if !fresh.isEmpty { self.onPeers?(fresh) }
        }
        let done: (Lookup, [DHTNode.AnnounceResult]) -> Void = { [weak self] lookup, results in
            guard let self, self.running else { return }
            // BEP 42: once replies told us our address, take an id derived from it (not for ro nodes).
            if self.lookups == 1, !self.node.configuration.readOnly { self.node.adoptSecureID() }
            self.onLookupFinished?(lookup, results)
            if let port = self.announcePort, let own = self.ownAddress(port: port) { self.advertiseSelf(own) }
            let wait = self.peersFound.isEmpty || lookup.repliesReceived == 0 ? self.retryInterval : self.interval
            self.timer = self.node.loop.schedule(after: wait) { [weak self] in self?.lookUp() }
        }
        if let port = announcePort {
            node.announce(infoHash, port: port, onPeers: found, completion: done)
        } else {
            node.lookup(infoHash, kind: .getPeers, onPeers: found) { done($0, []) }
        }
    }
}
