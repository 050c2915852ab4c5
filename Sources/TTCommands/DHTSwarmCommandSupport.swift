import DHT
import FoundationEssentials
import Glibc
import Metainfo
import Net
import Swarm

/// The DHT of `tt download` and `tt seed` (BEP 5): on by default, `--no-dht` turns it off, off for
/// private torrents (BEP 27); the node runs on the engine's loop and its UDP port (the peer port
/// number, shared with uTP). Before the engine starts (a magnet's metadata, the first peers), a node
/// on its own thread and the same port number looks up; the engine's node carries on from its table.
enum DHTSwarmOptions {
    static let options = [
        OptionSpec(["--no-dht"], help: "do not use the DHT (it is off anyway for private torrents)"),
        OptionSpec(["--dht-bootstrap"], value: "HOST:PORT", repeats: true, help: "DHT contact node(s) (default: the public routers)"),
    ]

    /// The node's configuration, or nil when the DHT is off.
    static func configuration(_ invocation: Invocation, isPrivate: Bool, family: SocketAddress.Family) throws(TTError) -> DHTNode.Configuration? {
        let arguments = invocation.arguments
        guard !arguments.has("--no-dht") else { return nil }
        if isPrivate {
            invocation.log("DHT off: the torrent is private (BEP 27)")
            return nil
        }
        var configuration = DHTNode.Configuration()
        configuration.bootstrap = try DHTSession.contacts(arguments.all("--dht-bootstrap"), family: family,
                                                          invocation: invocation, loopbackOnly: configuration.loopbackOnly)
        configuration.statePath = DHTSession.statePath(invocation)
        return configuration
    }

    /// Starts a node on its own thread bound to `listen` (port 0: any; read it back from `udpPort`)
    /// looking up `infoHash`, or nil when the DHT is off. A port that cannot be bound is a warning.
    static func start(_ invocation: Invocation, infoHash: [UInt8], isPrivate: Bool, listen: SocketAddress) throws(TTError) -> SwarmDHT? {
        guard let configuration = try configuration(invocation, isPrivate: isPrivate, family: listen.family) else { return nil }
        do {
            let thread = try DHTThread(bind: listen, configuration: configuration)
            let dht = SwarmDHT(thread: thread, configuration: configuration, infoHash: NodeID(infoHash)!)
            dht.hasContacts = !configuration.bootstrap.isEmpty || !thread.node.savedContacts.isEmpty
            invocation.log("DHT node \(thread.node.ownID.hex) on UDP \(thread.localAddress)")
            return dht
        } catch {
            invocation.warn("DHT off: cannot bind UDP \(listen): \(error)")
            return nil
        }
    }
}

/// A DHT node on its own thread for the time before the engine runs: looks up peers for one torrent.
final class SwarmDHT: @unchecked Sendable {
    let thread: DHTThread
    let configuration: DHTNode.Configuration
    let infoHash: NodeID
    private let lock = Condition()
    private var found: [SocketAddress] = []
    private var lookupsFinished = 0
    private var lastRepliesCount = 0
    private var agent: DHTSwarmAgent?
    /// False when the node knew no one to ask (no --dht-bootstrap, nothing saved).
    var hasContacts = true

    var udpPort: UInt16 { thread.localAddress.port }

    init(thread: DHTThread, configuration: DHTNode.Configuration, infoHash: NodeID) {
        self.thread = thread
        self.configuration = configuration
        self.infoHash = infoHash
        thread.perform { [self] node in
            let agent = DHTSwarmAgent(node: node, infoHash: infoHash, announcePort: nil)
            agent.onPeers = { [self] peers in
                lock.withLock {
                    found += peers
                    lock.broadcast()
                }
            }
            agent.onLookupFinished = { [self] lookup, _ in
                lock.withLock {
                    lookupsFinished += 1
                    lastRepliesCount = lookup.repliesReceived
                    lock.broadcast()
                }
            }
            self.agent = agent
            agent.start()
        }
    }

    /// Blocks until the first lookup finished, `grace` seconds after its first peer, or `timeout`.
    func waitForFirstLookup(timeout: Double, grace: Double) -> (peers: [SocketAddress], nodesReplied: Int) {
        let deadline = monotonicSeconds() + timeout
        lock.lock()
        defer { lock.unlock() }
        var firstPeer: Double?
        while lookupsFinished == 0 {
            if !found.isEmpty, firstPeer == nil { firstPeer = monotonicSeconds() }
            let until = firstPeer.map { min(deadline, $0 + grace) } ?? deadline
            if !lock.wait(until: until) && monotonicSeconds() >= until { break }
        }
        return (found, lastRepliesCount)
    }

    /// Stops the thread (freeing the UDP port for the engine) and hands over what the node learned.
    func handOver() -> DHTComponent {
        thread.perform { [self] _ in agent?.stop() }
        let state = thread.stop()
        return DHTComponent(configuration: configuration, infoHash: infoHash, carrying: state,
                            initialPeers: lock.withLock { found })
    }
}

/// The DHT as a part of the engine: its node on the engine's datagram port and loop; peers it finds
/// join the swarm with source "dht"; it announces the engine's listening port; peers' BEP 5 `port`
/// messages are pinged into the routing table.
final class DHTComponent: SwarmComponent {
    let configuration: DHTNode.Configuration
    let infoHash: NodeID
    private var carried: NodeState?
    private let initialPeers: [SocketAddress]
    private(set) var node: DHTNode?
    private var agent: DHTSwarmAgent?
    /// Called on the loop when the node is up (for logs).
    var onStart: ((DHTNode) -> Void)?

    init(configuration: DHTNode.Configuration, infoHash: NodeID, carrying state: NodeState? = nil, initialPeers: [SocketAddress] = []) {
        self.configuration = configuration
        self.infoHash = infoHash
        self.carried = state
        self.initialPeers = initialPeers
    }

    func start(_ engine: SwarmEngine) {
        guard let port = engine.datagramPort else { return }
        let node = DHTNode(port: port, configuration: configuration, ownID: carried?.ownID)
        if let carried, carried.family == port.family { node.state = carried }
        carried = nil
        let agent = DHTSwarmAgent(node: node, infoHash: infoHash, announcePort: engine.listenAddress?.port)
        agent.onPeers = { [weak engine] peers in engine?.addPeers(peers, source: .dht) }
        if !initialPeers.isEmpty { engine.addPeers(initialPeers, source: .dht) }
        if let listen = engine.listenAddress, listen.ipBytes.contains(where: { $0 != 0 }) { agent.advertiseSelf(listen) }
        self.node = node
        self.agent = agent
        onStart?(node)
        agent.start()
    }

    func stop() {
        agent?.stop()
        node?.save()
        node?.close()
    }

    func peer(_ peer: ConnectedPeer, announcedDHTPort port: UInt16) {
        guard port != 0, let address = SocketAddress(ipBytes: peer.address.ipBytes, port: port) else { return }
        agent?.nodeSeen(address)
    }
}
