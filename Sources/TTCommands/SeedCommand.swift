import Bencode
import Foundation
import JSON
import Metainfo
import Net
import PeerWire
import Synchronization
import Tracker

/// `tt seed`: check the data once, then serve the torrent to any peer that connects.
struct SeedCommand: Command {
    static let spec = CommandSpec(
        name: "seed",
        summary: "serve a torrent's data to peers (checks it first; announces to trackers)",
        usage: "tt seed TORRENT DATA [--port N] [--bind IP] [--tracker URL…] [--json]",
        options: [
            OptionSpec(["--port", "-p"], value: "N", help: "TCP port to listen on (default 6881; 0 picks a free one)"),
            OptionSpec(["--bind"], value: "IP", help: "address to listen on (default 0.0.0.0; '::' for IPv6)"),
            OptionSpec(["--tracker", "-a"], value: "URL", repeats: true,
                       help: "announce to this tracker (repeatable; default: the torrent's trackers)"),
            OptionSpec(["--no-announce"], help: "do not announce, even to the torrent's trackers"),
            OptionSpec(["--max-peers"], value: "N", help: "most peers served at once (default 64)"),
            OptionSpec(["--duration"], value: "SECONDS", help: "stop after this long (default: until Ctrl-C or SIGTERM)"),
            OptionSpec(["--skip-check"], help: "trust the data without hashing it first"),
        ],
        positionals: 2...2,
        discussion: """
        DATA is the file itself (single-file torrents) or the torrent's root folder (multi-file).
        Every piece is hashed once; pieces that do not match are not offered. Then it listens and
        serves any peer on one event loop: handshake, extension handshake, bitfield (or have_all),
        unchoke, and requests read from disk. With --json it prints JSON Lines events (listening,
        peer_connected, peer_disconnected, announce, …) ending with a summary event.
        Stops on SIGTERM (exit 0) or Ctrl-C (exit 130), after announcing 'stopped'.
        """,
        examples: ["tt seed x.torrent ./x --port 6881",
                   "tt seed --json x.torrent ./x --port 0 | jq -c 'select(.event==\"listening\")'"])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let arguments = invocation.arguments
        let environment = invocation.environment
        let torrentArgument = arguments.positionals[0]
        let dataArgument = arguments.positionals[1]
        let torrent = try TorrentInput.loadTorrent(torrentArgument, environment)
        guard torrent.version != .v2 else {
            throw TTError(.dataError, kind: "unsupported", "\(torrentArgument): v2-only torrents cannot be seeded yet")
        }
        let port = try arguments.integer("--port", in: 0...65535) ?? 6881
        let maxPeers = try arguments.integer("--max-peers", in: 1...10000) ?? 64
        let bindText = arguments.value("--bind") ?? "0.0.0.0"
        guard let bindAddress = SocketAddress(ip: bindText, port: UInt16(port)) else {
            throw .usage("--bind needs a numeric IP address, got '\(bindText)'")
        }
        var duration: Double?
        if arguments.value("--duration") != nil { duration = try PeerOptions.seconds(invocation, "--duration", default: 0) }
        let trackers = arguments.has("--no-announce") ? [] : (arguments.all("--tracker").isEmpty ? torrent.trackers : arguments.all("--tracker"))

        let events = SeedEvents(invocation: invocation)
        let data = try PeerSeedData(torrent: torrent, dataPath: environment.path(dataArgument), displayPath: dataArgument)
        let checkStart = monotonicSeconds()
        let have: Bitfield
        if arguments.has("--skip-check") {
            have = Bitfield(pieceCount: torrent.pieceCount, all: true)
        } else {
            let bar = ProgressBar(environment: environment, enabled: invocation.verbosity >= .normal && !invocation.json, label: "checking")
            have = data.check { done, total in bar.update(done: Int64(done), total: Int64(total)) }
            bar.finish()
        }
        events.emit("checked", [JSONField("pieces", .int(torrent.pieceCount)), JSONField("have", .int(have.setCount)),
                                JSONField("bad", .int(torrent.pieceCount - have.setCount)),
                                JSONField("check_time", .double(FetchPieceCommand.round6(monotonicSeconds() - checkStart)))],
                    text: "checked \(torrent.name): \(have.setCount)/\(torrent.pieceCount) pieces good")
        if have.setCount < torrent.pieceCount {
            invocation.warn("\(torrent.pieceCount - have.setCount) of \(torrent.pieceCount) pieces do not match the torrent and will not be served")
        }
        guard have.setCount > 0 || torrent.pieceCount == 0 else {
            throw TTError(.checkFailed, kind: "no_valid_pieces", "\(dataArgument): no piece matches \(torrentArgument); nothing to seed")
        }

        let listener: TCPListener
        do { listener = try TCPListener(bind: bindAddress) } catch { throw TTError(net: error) }
        let server = SeedServer(torrent: torrent, data: data, have: have, listener: listener, maxPeers: maxPeers, events: events,
                                verbose: invocation.verbosity >= .verbose)
        events.emit("listening", [JSONField("addr", .string(listener.localAddress.description)),
                                  JSONField("port", .int(Int(listener.localAddress.port))),
                                  JSONField("info_hash", .optional(torrent.infoHashes.v1Hex)),
                                  JSONField("name", .string(torrent.name))],
                    text: "seeding \(torrent.name) on \(listener.localAddress) (info hash \(torrent.infoHashes.v1Hex ?? "-"))")

        let announcer = trackers.isEmpty ? nil
            : SeedAnnouncer(trackers: trackers, infoHash: torrent.infoHashes.wire, peerID: server.peerID.bytes,
                            port: listener.localAddress.port, events: events, uploaded: { server.uploadedTotal.load(ordering: .relaxed) })
        announcer?.start()

        let interrupted = server.run(duration: duration)
        announcer?.stop()
        events.emit("summary", [JSONField("uploaded", .int(server.uploadedTotal.load(ordering: .relaxed))),
                                JSONField("peers", .int(server.peersSeen)),
                                JSONField("blocks", .int(server.blocksServed)),
                                JSONField("duration", .double(FetchPieceCommand.round6(server.elapsed)))],
                    text: "uploaded \(Format.bytes(server.uploadedTotal.load(ordering: .relaxed))) to \(server.peersSeen) peers in \(Format.seconds(server.elapsed))",
                    result: true)
        return interrupted ? .interrupted : .success
    }
}

/// Seed events: JSON Lines on stdout with --json, else notes on stderr (and the summary on stdout).
final class SeedEvents: @unchecked Sendable {
    let invocation: Invocation
    let start = monotonicSeconds()
    init(invocation: Invocation) { self.invocation = invocation }

    func emit(_ name: String, _ fields: [JSONField], text: String? = nil, result: Bool = false, verboseOnly: Bool = false) {
        if invocation.json {
            invocation.outputJSON(.object([JSONField("event", .string(name)),
                                           JSONField("time", .double(FetchPieceCommand.round6(monotonicSeconds() - start)))] + fields))
        } else if let text {
            if result { invocation.output(text) } else if verboseOnly { invocation.log(text) } else { invocation.note(text) }
        }
    }
}

/// The serving loop: one listener and every peer connection on one `EventLoop`.
final class SeedServer: @unchecked Sendable {
    final class Peer {
        let channel: StreamChannel
        var session: SeedSession
        var lastReceived = monotonicSeconds()
        var lastSent = monotonicSeconds()
        var announced = false
        init(channel: StreamChannel, session: SeedSession) {
            self.channel = channel
            self.session = session
        }
    }

    let torrent: Torrent
    let data: PeerSeedData
    let have: Bitfield
    let listener: TCPListener
    let maxPeers: Int
    let events: SeedEvents
    let verbose: Bool
    let peerID = PeerOptions.ourPeerID
    let loop = EventLoop()
    private var peers: [ObjectIdentifier: Peer] = [:]
    let uploadedTotal = Atomic<Int64>(0)
    private(set) var peersSeen = 0
    private(set) var blocksServed = 0
    private let started = monotonicSeconds()
    var elapsed: Double { monotonicSeconds() - started }

    /// Keep this much queued in the socket buffer per peer; read more from disk only below it.
    static let highWater = 512 * 1024
    static let handshakeTimeout = 30.0
    static let idleTimeout = 180.0

    init(torrent: Torrent, data: PeerSeedData, have: Bitfield, listener: TCPListener, maxPeers: Int, events: SeedEvents, verbose: Bool) {
        self.torrent = torrent
        self.data = data
        self.have = have
        self.listener = listener
        self.maxPeers = maxPeers
        self.events = events
        self.verbose = verbose
    }

    /// Serves until a signal or `duration`; true when stopped by SIGINT.
    func run(duration: Double?) -> Bool {
        var interrupted = false
        loop.onSignal([SIGINT, SIGTERM]) { [loop] signal in
            interrupted = signal == SIGINT
            loop.stop()
        }
        if let duration { loop.schedule(after: duration) { [loop] in loop.stop() } }
        loop.watch(listener.fileDescriptor) { [weak self] _ in self?.acceptAll() }
        scheduleHousekeeping()
        loop.run()
        for peer in peers.values { peer.channel.close() }
        peers = [:]
        listener.close()
        return interrupted
    }

    private func scheduleHousekeeping() {
        loop.schedule(after: 5) { [weak self] in
            guard let self else { return }
            let now = monotonicSeconds()
            for peer in peers.values {
                let limit = peer.session.peerHandshake == nil ? Self.handshakeTimeout : Self.idleTimeout
                if now - peer.lastReceived > limit {
                    drop(peer, reason: "idle for \(Int(now - peer.lastReceived)) s")
                } else if peer.session.peerHandshake != nil && now - peer.lastSent > 60 {
                    peer.channel.write(PeerMessage.keepAlive.encoded())
                    peer.lastSent = now
                }
            }
            scheduleHousekeeping()
        }
    }

    private func acceptAll() {
        while true {
            let connection: TCPConnection?
            do { connection = try listener.acceptNext() } catch { events.emit("error", [JSONField("message", .string(error.description))], text: "tt: warning: \(error)"); return }
            guard let connection else { return }
            guard peers.count < maxPeers else {
                events.emit("peer_refused", [JSONField("peer", PeerWireViews.peer(connection.remote)), JSONField("reason", .string("too many peers"))],
                            text: "refused \(connection.remote): too many peers", verboseOnly: true)
                connection.close()
                continue
            }
            adopt(connection)
        }
    }

    private func adopt(_ connection: TCPConnection) {
        let channel = StreamChannel(loop: loop, connection: connection)
        let configuration = SeedSession.Configuration(
            infoHash: torrent.infoHashes.wire, peerID: peerID, layout: torrent.layout, have: have,
            clientVersion: PeerOptions.ourVersion, listenPort: Int(listener.localAddress.port),
            metadataSize: torrent.infoBytes.count)
        let data = self.data
        let peer = Peer(channel: channel, session: SeedSession(configuration: configuration) { piece, begin, length in
            try data.readBlock(piece, begin, length)
        })
        let key = ObjectIdentifier(peer)
        peers[key] = peer
        peersSeen += 1
        events.emit("peer_connected", [JSONField("peer", PeerWireViews.peer(channel.remote))],
                    text: "peer \(channel.remote) connected", verboseOnly: true)
        channel.onData = { [weak self, weak peer] bytes in
            guard let self, let peer else { return }
            peer.lastReceived = monotonicSeconds()
            do throws(PeerWireError) {
                try peer.session.receive(bytes)
            } catch {
                drop(peer, reason: error.description)
                return
            }
            for event in peer.session.takeEvents() {
                if case .handshake(let handshake) = event {
                    events.emit("peer_handshake", [JSONField("peer", PeerWireViews.peer(channel.remote))] + PeerWireViews.peerIDFields(handshake.peerID),
                                text: "peer \(channel.remote) is \(handshake.peerID.client ?? handshake.peerID.printable)", verboseOnly: true)
                }
            }
            pump(peer)
        }
        channel.onDrained = { [weak self, weak peer] in
            guard let self, let peer else { return }
            pump(peer)
        }
        channel.onClose = { [weak self, weak peer] error in
            guard let self, let peer else { return }
            finish(peer, reason: error.map { $0.description } ?? "peer closed the connection")
        }
        channel.start()
    }

    private func pump(_ peer: Peer) {
        while peer.channel.isOpen && peer.channel.bufferedBytes < Self.highWater && peer.session.hasOutput {
            let before = peer.session.uploadedBytes
            let blocksBefore = peer.session.blocksServed
            let bytes: [UInt8]
            do throws(PeerWireError) {
                bytes = try peer.session.nextOutput(budget: 256 * 1024)
            } catch {
                drop(peer, reason: error.description)
                return
            }
            if bytes.isEmpty { break }
            peer.channel.write(bytes)
            peer.lastSent = monotonicSeconds()
            uploadedTotal.add(peer.session.uploadedBytes - before, ordering: .relaxed)
            blocksServed += peer.session.blocksServed - blocksBefore
        }
    }

    private func drop(_ peer: Peer, reason: String) {
        peer.channel.close()
        finish(peer, reason: reason)
    }

    private func finish(_ peer: Peer, reason: String) {
        guard peers.removeValue(forKey: ObjectIdentifier(peer)) != nil else { return }
        events.emit("peer_disconnected", [JSONField("peer", PeerWireViews.peer(peer.channel.remote)),
                                          JSONField("uploaded", .int(peer.session.uploadedBytes)),
                                          JSONField("blocks", .int(peer.session.blocksServed)),
                                          JSONField("reason", .string(reason))],
                    text: "peer \(peer.channel.remote) left after \(Format.bytes(peer.session.uploadedBytes)): \(reason)", verboseOnly: true)
    }
}

/// Announces to trackers from a background thread: started, then every interval, stopped at the end.
final class SeedAnnouncer: @unchecked Sendable {
    let trackers: [String]
    let infoHash: [UInt8]
    let peerID: [UInt8]
    let port: UInt16
    let events: SeedEvents
    let uploaded: @Sendable () -> Int64
    private let stopping = Mutex<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    init(trackers: [String], infoHash: [UInt8], peerID: [UInt8], port: UInt16, events: SeedEvents, uploaded: @escaping @Sendable () -> Int64) {
        self.trackers = trackers
        self.infoHash = infoHash
        self.peerID = peerID
        self.port = port
        self.events = events
        self.uploaded = uploaded
    }

    func start() {
        Thread.detachNewThread { [self] in
            var interval = 1800.0
            var event = AnnounceRequest.Event.started
            while true {
                interval = announceAll(event) ?? interval
                event = .none
                if wake.wait(timeout: .now() + max(30, interval)) == .success || stopping.withLock({ $0 }) { break }
            }
            _ = announceAll(.stopped, timeout: 3)
            done.signal()
        }
    }

    func stop() {
        stopping.withLock { $0 = true }
        wake.signal()
        _ = done.wait(timeout: .now() + 10)
    }

    /// Announces to every tracker; returns the smallest interval any gave.
    private func announceAll(_ event: AnnounceRequest.Event, timeout: Double = 15) -> Double? {
        var options = TrackerClient.Options()
        options.timeout = timeout
        let client = TrackerClient(options: options)
        var smallest: Double?
        for url in trackers {
            let request = AnnounceRequest(infoHash: infoHash, peerID: peerID, port: port, uploaded: uploaded(), downloaded: 0,
                                          left: 0, event: event, numWant: event == .stopped ? 0 : 50)
            do {
                let response = try client.announce(url, request)
                if let interval = response.interval { smallest = min(smallest ?? .infinity, Double(interval)) }
                events.emit("announce", [JSONField("tracker", .string(url)), JSONField("announce_event", .string(event.rawValue.isEmpty ? "none" : event.rawValue)),
                                         JSONField("peers", .int(response.peers.count)), JSONField("interval", .optional(response.interval))],
                            text: "announced to \(url)\(event == .none ? "" : " (\(event.rawValue))"): \(response.peers.count) peers", verboseOnly: true)
            } catch {
                events.emit("announce_error", [JSONField("tracker", .string(url)), JSONField("message", .string("\(error)"))],
                            text: "tt: warning: announce to \(url) failed: \(error)")
            }
        }
        return smallest
    }
}
