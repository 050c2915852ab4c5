import DHT
import Foundation
import Metainfo
import Net

/// The DHT of `tt download` and `tt seed` (BEP 5): on by default, `--no-dht` turns it off, off for
/// private torrents (BEP 27); the node listens on the same UDP port number as the peer port.
enum DHTSwarmOptions {
    static let options = [
        OptionSpec(["--no-dht"], help: "do not use the DHT (it is off anyway for private torrents)"),
        OptionSpec(["--dht-bootstrap"], value: "HOST:PORT", repeats: true, help: "DHT contact node(s) (default: the public routers)"),
    ]

    /// Starts a DHT node bound to `listen` (port 0: any; read it back from `port`) for `infoHash`,
    /// or nil when the DHT is off. A port that cannot be bound is a warning, not a failure.
    static func start(_ invocation: Invocation, infoHash: [UInt8], isPrivate: Bool, listen: SocketAddress,
                      announcePort: UInt16?) throws(TTError) -> SwarmDHT? {
        let arguments = invocation.arguments
        guard !arguments.has("--no-dht") else { return nil }
        if isPrivate {
            invocation.log("DHT off: the torrent is private (BEP 27)")
            return nil
        }
        var configuration = DHTNode.Configuration()
        configuration.bootstrap = try DHTSession.contacts(arguments.all("--dht-bootstrap"), family: listen.family,
                                                          invocation: invocation, loopbackOnly: configuration.loopbackOnly)
        configuration.statePath = DHTSession.statePath(invocation)
        do {
            let thread = try DHTThread(bind: listen, configuration: configuration)
            let dht = SwarmDHT(thread: thread, infoHash: NodeID(infoHash)!, announcePort: announcePort ?? thread.localAddress.port)
            dht.hasContacts = !configuration.bootstrap.isEmpty || !thread.node.savedContacts.isEmpty
            invocation.log("DHT node \(thread.node.ownID.hex) on UDP \(thread.localAddress)")
            return dht
        } catch {
            invocation.warn("DHT off: cannot bind UDP \(listen): \(error)")
            return nil
        }
    }
}

/// A running DHT for one torrent, on its own thread: finds peers, announces ours, answers nodes.
final class SwarmDHT: @unchecked Sendable {
    let thread: DHTThread
    let infoHash: NodeID
    private let lock = NSCondition()
    private var found: [SocketAddress] = []
    private var lookupsFinished = 0
    private var lastRepliesCount = 0
    /// Called on the DHT thread with each batch of new peers (after `waitForFirstLookup`).
    private var sink: (([SocketAddress]) -> Void)?

    var udpPort: UInt16 { thread.localAddress.port }
    /// False when the node knew no one to ask (no --dht-bootstrap, nothing saved).
    var hasContacts = true

    init(thread: DHTThread, infoHash: NodeID, announcePort: UInt16) {
        self.thread = thread
        self.infoHash = infoHash
        thread.perform { [self] node in
            let agent = DHTSwarmAgent(node: node, infoHash: infoHash, announcePort: announcePort)
            agent.onPeers = { [self] peers in
                let deliver = lock.withLock { () -> (([SocketAddress]) -> Void)? in
                    found += peers
                    lock.broadcast()
                    return sink
                }
                deliver?(peers)
            }
            agent.onLookupFinished = { [self] lookup, _ in
                lock.withLock {
                    lookupsFinished += 1
                    lastRepliesCount = lookup.repliesReceived
                    lock.broadcast()
                }
            }
            agents.append(agent)
            agent.start()
        }
    }

    /// Kept alive on the DHT thread.
    private var agents: [DHTSwarmAgent] = []

    /// Blocks until the first lookup finished (or `timeout`); the peers it found and how many nodes answered.
    func waitForFirstLookup(timeout: Double) -> (peers: [SocketAddress], nodesReplied: Int) {
        let deadline = Date().addingTimeInterval(timeout)
        lock.lock()
        defer { lock.unlock() }
        // Done at the end of the first lookup, or half a second after its first peer.
        var firstPeer: Date?
        while lookupsFinished == 0 {
            if !found.isEmpty, firstPeer == nil { firstPeer = Date() }
            let until = firstPeer.map { min(deadline, $0.addingTimeInterval(0.5)) } ?? deadline
            if !lock.wait(until: until) && Date() >= until { break }
        }
        return (found, lastRepliesCount)
    }

    /// Later peers go to `sink` (on the DHT thread).
    func forwardPeers(to sink: @escaping ([SocketAddress]) -> Void) {
        lock.withLock { self.sink = sink }
    }

    /// A peer's BEP 5 `port` message: ping its node so it may join the routing table.
    func nodeSeen(_ address: SocketAddress) {
        thread.perform { [self] _ in agents.first?.nodeSeen(address) }
    }

    func stop() {
        thread.perform { [self] _ in for agent in agents { agent.stop() } }
        thread.stop()
    }
}
