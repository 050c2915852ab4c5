import DHT
import FoundationEssentials
import Glibc
import JSON
import Metainfo
import Net
import Swarm

/// `tt seed`: check the data once, then serve it to any peer — the swarm engine in serve-only
/// mode, so seeding and `download --seed` share the serving and choking code.
struct SeedCommand: Command {
    static let spec = CommandSpec(
        name: "seed",
        summary: "serve a torrent's data to peers (checks it first; announces to trackers)",
        usage: "tt seed TORRENT DATA [--port N] [--bind IP] [--transport tcp|utp|auto] [--tracker URL…] [--peer HOST:PORT…] [--encryption off|prefer|require] [--json]",
        options: [
            OptionSpec(["--port", "-p"], value: "N", help: "TCP port to listen on (default 6881; 0 picks a free one)"),
            OptionSpec(["--bind"], value: "IP", help: "address to listen on and dial peers from (default 0.0.0.0; '::' for IPv6)"),
            PeerOptions.engineTransport,
            OptionSpec(["--tracker", "-a"], value: "URL", repeats: true,
                       help: "announce to this tracker (repeatable; default: the torrent's trackers)"),
            OptionSpec(["--peer"], value: "HOST:PORT", repeats: true,
                       help: "dial this peer and serve it (repeatable; for leechers that accept connections but make none)"),
            OptionSpec(["--no-announce"], help: "do not announce, even to the torrent's trackers"),
            OptionSpec(["--max-peers"], value: "N", help: "most peers served at once (default 64)"),
            OptionSpec(["--duration"], value: "SECONDS", help: "stop after this long (default: until Ctrl-C or SIGTERM)"),
            OptionSpec(["--skip-check"], help: "trust the data without hashing it first"),
            EncryptionOption.spec(default: .prefer),
        ] + DHTSwarmOptions.options,
        positionals: 2...2,
        discussion: """
        DATA is the file itself (single-file torrents), the torrent's root folder (multi-file), or the
        folder it was saved into ('tt download -o DIR' writes DIR/<name>); it is opened read-only. Every piece is hashed once on all cores; pieces that do not match are not
        offered. Then it serves any peer on one event loop: handshake, extension handshake, bitfield
        (or have_all), requests read from disk, choking per BEP 3 by upload rate with an optimistic
        unchoke. Peers named with --peer, and those trackers return, are dialled too, so a leecher
        that only accepts connections is served as well. With --json it prints the JSON Lines events of 'tt download' (started, listening,
        peer_connected, peer_dropped, tracker_announced, progress, finished).
        Stops on SIGTERM (exit 0) or Ctrl-C (exit 130), after announcing 'stopped'.
        """,
        examples: ["tt seed x.torrent ./x --port 6881",
                   "tt seed --json x.torrent ./x --port 0 | jq -c 'select(.event==\"listening\")'"])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let arguments = invocation.arguments
        let environment = invocation.environment
        let torrentArgument = arguments.positionals[0]
        let bytes = try TorrentInput.readInput(torrentArgument, environment)
        let torrent: Torrent
        do { torrent = try Torrent(bytes: bytes) } catch { throw TTError(metainfo: error, source: torrentArgument) }
        guard torrent.version != .v2 else {
            throw TTError(.dataError, kind: "unsupported", "\(torrentArgument): v2-only torrents cannot be seeded yet")
        }
        // The data itself, or the folder `tt download -o` saved it into (DataLocation).
        let location = try DataLocation.resolve(arguments.positionals[1], path: environment.path(arguments.positionals[1]), torrent: torrent)
        if let error = location.notFoundError { throw error }
        if let choice = location.choice { invocation.note(choice) }
        let dataPath = location.contentPath
        let port = try arguments.integer("--port", in: 0...65535) ?? 6881
        let bind = arguments.value("--bind") ?? "0.0.0.0"
        guard let listen = SocketAddress(ip: bind, port: UInt16(port)) else {
            throw .usage("--bind needs a numeric IP address, got '\(bind)'")
        }

        var configuration = SwarmConfiguration(torrent: torrent, torrentBytes: bytes, output: PathName.deletingLast(dataPath))
        configuration.serveOnly = true
        configuration.contentPath = dataPath
        configuration.listen = listen
        configuration.maxPeers = try arguments.integer("--max-peers", in: 1...10000) ?? 64
        configuration.trustData = arguments.has("--skip-check")
        configuration.peers = try arguments.all("--peer").map { text throws(TTError) in try PeerOptions.address(text) }
        if arguments.value("--duration") != nil { configuration.duration = try PeerOptions.seconds(invocation, "--duration", default: 0) }
        if arguments.has("--no-announce") {
            configuration.useTrackers = false
        } else if !arguments.all("--tracker").isEmpty {
            configuration.useTrackers = false
            configuration.extraTrackers = arguments.all("--tracker")
        }

        let transport = UTPComponent(mode: try PeerOptions.engineTransport(invocation), local: SocketAddress(ip: bind, port: 0))
        configuration.dialer = transport.dialer
        // After the carrier's dialer: MSE wraps whatever dialer is there.
        EncryptionOption.apply(try EncryptionOption.parse(invocation, default: .prefer), to: &configuration, invocation: invocation)
        // The DHT node takes the peer port number on UDP and announces it (BEP 5); private torrents: off.
        let dht = try DHTSwarmOptions.configuration(invocation, isPrivate: torrent.isPrivate, family: listen.family)
        configuration.advertisesDHT = dht != nil  // DHT reserved bit and BEP 5 'port' to peers

        let view = SeedView(invocation: invocation, torrent: torrent)
        let summary: SwarmSummary
        let engine = SwarmEngine(configuration: configuration) { event in view.show(event) }
        engine.add(transport)
        engine.add(PEXComponent(isPrivate: torrent.isPrivate))
        if let dht {
            let component = DHTComponent(configuration: dht, infoHash: NodeID(torrent.infoHashes.wire)!)
            component.onStart = { node in invocation.log("DHT node \(node.ownID.hex) on UDP \(node.localAddress?.description ?? "?")") }
            engine.add(component)
        }
        do {
            summary = try engine.run()
        } catch {
            throw TTError(swarm: error)
        }
        return summary.outcome == .interrupted ? .interrupted : .success
    }
}

/// Seed output: the download's JSON Lines with --json; otherwise a few lines of talk and a summary.
final class SeedView: @unchecked Sendable {
    let invocation: Invocation
    let torrent: Torrent

    init(invocation: Invocation, torrent: Torrent) {
        self.invocation = invocation
        self.torrent = torrent
    }

    func show(_ event: SwarmEvent) {
        if invocation.json {
            if case .progress = event { return }  // a seed's progress is its upload, in `finished`
            if let json = DownloadView.json(event, torrent: torrent) { invocation.outputJSON(json) }
            return
        }
        switch event {
        case .started(let info):
            invocation.note("checked \(info.name): \(info.piecesHave)/\(info.pieceCount) pieces good")
            if info.piecesHave < info.pieceCount {
                invocation.warn("\(info.pieceCount - info.piecesHave) of \(info.pieceCount) pieces do not match the torrent and will not be served")
            }
        case .listening(let address):
            invocation.note("seeding \(torrent.name) on \(address) (info hash \(torrent.infoHashes.v1Hex ?? "-"))")
        case .peerConnected(let address, let client, _, _): invocation.log("peer \(address) connected (\(client ?? "unknown client"))")
        case .peerDropped(let address, let reason, _): invocation.log("peer \(address) left: \(reason)")
        case .trackerAnnounced(let tracker, let peers): invocation.log("tracker \(tracker): \(peers) peers")
        case .trackerFailed(_, let message): invocation.warn(message)
        case .finished(let summary):
            let progress = summary.progress
            invocation.output("uploaded \(Format.bytes(progress.uploaded)) to \(summary.peersSeen) peer\(summary.peersSeen == 1 ? "" : "s") in \(Format.seconds(progress.seconds))")
        default: break
        }
    }
}
