import Foundation
import Metainfo
import Net
import PeerWire
import Swarm

/// The engine in-process on a simulated network: a virtual-clock loop, simulated peers, a seeded
/// RNG, and a log of everything the engine sent to each peer (decoded at the engine's end, at the
/// moment it was written) and every event it reported.
final class SimulatedSwarm: PeerDialer {
    let seed: UInt64
    let loop = EventLoop(clock: .virtual(start: 1000))
    let network: SimulatedNetwork
    let torrent: SimulatedTorrent
    var random: SeededGenerator
    private(set) var peers: [SimulatedPeer] = []
    private var byAddress: [SocketAddress: SimulatedPeer] = [:]
    /// What the engine wrote to each peer, with the virtual time it wrote it.
    private(set) var sent: [SocketAddress: [(time: Double, message: PeerMessage)]] = [:]
    /// The same, all peers in the order the engine wrote it.
    private(set) var allSent: [(time: Double, to: SocketAddress, message: PeerMessage)] = []
    private(set) var events: [(time: Double, event: SwarmEvent)] = []
    /// When each connection the engine dialled was handed to it.
    private(set) var opened: [SocketAddress: [Double]] = [:]
    let directory: String
    private(set) var engine: SwarmEngine!

    init(seed: UInt64, length: Int, pieceLength: Int) throws {
        self.seed = seed
        random = SeededGenerator(seed: seed)
        network = SimulatedNetwork(loop: loop)
        torrent = try SimulatedTorrent(length: length, pieceLength: pieceLength, seed: seed)
        directory = NSTemporaryDirectory() + "tt-sim-\(seed)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        network.listen(at: SimulatedNetwork.engineAddress) { [unowned self] stream in
            tap(stream)
            engine.accept(stream, source: .incoming)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// A peer the engine dials (`--peer`); `host` sets its rates and latency.
    @discardableResult
    func addPeer(_ behaviour: SimulatedPeer.Behaviour, host: SimulatedNetwork.Host) -> SimulatedPeer {
        let peer = SimulatedPeer(index: peers.count, behaviour: behaviour, torrent: torrent, loop: loop)
        peers.append(peer)
        byAddress[peer.address] = peer
        network.listen(at: peer.address, host) { [unowned peer] stream in peer.attach(stream, dialled: false) }
        return peer
    }

    /// A peer that dials the engine `after` seconds into the run.
    @discardableResult
    func addIncomingPeer(_ behaviour: SimulatedPeer.Behaviour, host: SimulatedNetwork.Host, after delay: Double) -> SimulatedPeer {
        let peer = SimulatedPeer(index: peers.count, behaviour: behaviour, torrent: torrent, loop: loop)
        peers.append(peer)
        byAddress[peer.address] = peer
        network.add(peer.address, host)
        loop.schedule(after: delay) { [unowned self, unowned peer] in
            network.dial(SimulatedNetwork.engineAddress, from: peer.address, timeout: 10) { result in
                if case .success(let stream) = result { peer.attach(stream, dialled: true) }
            }
        }
        return peer
    }

    func peer(at address: SocketAddress) -> SimulatedPeer? { byAddress[address] }

    /// The engine's dialer: the simulated network, with the engine's end tapped.
    func dial(_ address: SocketAddress, loop: EventLoop, timeout: Double,
              completion: @escaping (Result<any ByteStream, NetError>) -> Void) {
        network.dial(address, from: SimulatedNetwork.engineAddress, timeout: timeout) { [unowned self] result in
            if case .success(let stream) = result {
                tap(stream)
                opened[address, default: []].append(loop.now)
            }
            completion(result.map { $0 as any ByteStream })
        }
    }

    private func tap(_ stream: SimulatedStream) {
        var decoder = FrameDecoder(expectingHandshake: true)
        let remote = stream.remote
        stream.onWrite = { [unowned self] bytes in
            decoder.append(bytes)
            while let frame = try? decoder.next() {
                if case .message(var message, _) = frame {
                    // Blocks are logged without their bytes.
                    if case .piece(let index, let begin, _) = message { message = .piece(index: index, begin: begin, block: []) }
                    sent[remote, default: []].append((loop.now, message))
                    allSent.append((loop.now, remote, message))
                }
            }
        }
    }

    /// A download (or, with `serve`, a seed of the torrent's data) with the engine's defaults
    /// apart from what a simulation must fix: no listener, trackers or UDP; the simulated dialer;
    /// the seeded RNG. `configure` changes the rest.
    func makeEngine(serve: Bool = false, configure: (inout SwarmConfiguration) -> Void = { _ in }) throws {
        var configuration = SwarmConfiguration(torrent: torrent.torrent, torrentBytes: torrent.bytes, output: directory + "/out")
        configuration.listen = nil
        configuration.useTrackers = false
        configuration.openDatagramPort = false
        configuration.dialer = self
        configuration.random = random.fork()
        configuration.peers = peers.filter { !$0.behaviour.dialsEngine }.map(\.address)
        if serve {
            let path = directory + "/" + torrent.torrent.name
            precondition(FileManager.default.createFile(atPath: path, contents: Data(torrent.data)), "cannot create a test file")
            configuration.serveOnly = true
            configuration.contentPath = path
            configuration.trustData = true
        }
        configure(&configuration)
        engine = SwarmEngine(configuration: configuration, loop: loop) { [unowned self] event in
            events.append((loop.now, event))
        }
    }

    /// Runs the engine to its end (or `limit` virtual seconds, then interrupts it).
    func run(limit: Double = 3600) throws -> SwarmSummary {
        let engine = self.engine!
        loop.schedule(after: limit) { engine.interrupt() }
        return try engine.run(handleSignals: false)
    }

    /// The downloaded file's bytes.
    var downloaded: [UInt8]? {
        FileManager.default.contents(atPath: directory + "/out/" + torrent.torrent.name).map { [UInt8]($0) }
    }

    // MARK: - Reading the logs

    func sent(to peer: SimulatedPeer) -> [(time: Double, message: PeerMessage)] { sent[peer.address] ?? [] }

    func requests(to peer: SimulatedPeer) -> [(time: Double, request: BlockRequest)] {
        sent(to: peer).compactMap { if case .request(let r) = $0.message { return ($0.time, r) } else { return nil } }
    }

    func cancels(to peer: SimulatedPeer) -> [(time: Double, request: BlockRequest)] {
        sent(to: peer).compactMap { if case .cancel(let r) = $0.message { return ($0.time, r) } else { return nil } }
    }

    /// (time, unchoked?) as the engine decided, at the moment it wrote the message.
    func chokeChanges(to peer: SimulatedPeer) -> [(time: Double, unchoked: Bool)] {
        sent(to: peer).compactMap {
            switch $0.message {
            case .unchoke: return ($0.time, true)
            case .choke: return ($0.time, false)
            default: return nil
            }
        }
    }

    var banned: [String] {
        events.compactMap { if case .peerBanned(let address, _, _) = $0.event { return address.description } else { return nil } }
    }

    var dropped: [(time: Double, address: String, reason: String)] {
        events.compactMap { if case .peerDropped(let address, let reason, _) = $0.event { return ($0.time, address.description, reason) } else { return nil } }
    }

    var failedPieces: [(time: Double, piece: Int, peers: [String])] {
        events.compactMap { if case .pieceFailed(let piece, let peers) = $0.event { return ($0.time, piece, peers) } else { return nil } }
    }

    var verifiedPieces: [(time: Double, piece: Int, peer: String?)] {
        events.compactMap { if case .pieceVerified(let piece, let peer) = $0.event { return ($0.time, piece, peer) } else { return nil } }
    }
}

extension SimulatedSwarm {
    /// Choke decisions as (time, peer, unchoked?), a dropped peer counting as choked.
    private var chokeTimeline: [(time: Double, peer: SocketAddress, unchoked: Bool)] {
        var timeline: [(time: Double, peer: SocketAddress, unchoked: Bool)] = allSent.compactMap {
            switch $0.message {
            case .unchoke: return ($0.time, $0.to, true)
            case .choke: return ($0.time, $0.to, false)
            default: return nil
            }
        }
        for drop in dropped {
            if let address = try? SocketAddress(parsing: drop.address) { timeline.append((drop.time, address, false)) }
        }
        // Stable: at one instant, messages before drops, each in the order it happened.
        return timeline.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
    }

    /// The peers the engine had unchoked just after each of `times`.
    func unchoked(after times: [Double]) -> [Set<SocketAddress>] {
        let timeline = chokeTimeline
        return times.map { time in
            var state = Set<SocketAddress>()
            for entry in timeline where entry.time <= time + 1e-6 {
                if entry.unchoked { state.insert(entry.peer) } else { state.remove(entry.peer) }
            }
            return state
        }
    }

    /// The most peers unchoked at once at any moment from `start` on (changes at the same instant
    /// are one decision).
    func mostUnchoked(from start: Double) -> Int {
        let timeline = chokeTimeline
        var state = Set<SocketAddress>()
        var most = 0
        var index = 0
        while index < timeline.count {
            let time = timeline[index].time
            while index < timeline.count && timeline[index].time == time {
                if timeline[index].unchoked { state.insert(timeline[index].peer) } else { state.remove(timeline[index].peer) }
                index += 1
            }
            if time >= start { most = max(most, state.count) }
        }
        return most
    }
}
