import Census
import DHT
import FoundationEssentials
import Glibc
import JSON
import Metainfo
import MSE
import Net
import PeerWire
import Swarm
import UTP

/// `tt swarm`: a census of a torrent's swarm — every source of peers, every peer reached, what they run and hold.
struct SwarmCommand: Command {
    static let spec = CommandSpec(
        name: "swarm",
        summary: "a census of a torrent's swarm: who is there, what they run, what they have, how to reach them",
        usage: "tt swarm TORRENT|MAGNET|HASH [--duration S] [--max-peers N] [--peer HOST:PORT…] [--json [--progress]]",
        options: [
            OptionSpec(["--duration"], value: "S", help: "how long to gather peers and listen to them (default 10)"),
            OptionSpec(["--max-peers"], value: "N", help: "reach at most this many peers (default 200)"),
            OptionSpec(["--peer", "-p"], value: "HOST:PORT", repeats: true, help: "a peer to include (repeatable)"),
            OptionSpec(["--tracker"], value: "URL", repeats: true, help: "ask this tracker instead of the torrent's (repeatable)"),
            OptionSpec(["--transport"], value: "tcp|utp|auto",
                       help: "reach peers over TCP, uTP, or both (auto, the default: TCP, then uTP for peers TCP cannot reach)"),
            EncryptionOption.spec(default: .prefer),
            OptionSpec(["--progress"], help: "with --json: JSON Lines events as sources answer and peers are reached"),
            PeerOptions.connectTimeout, PeerOptions.bind,
        ] + DHTSwarmOptions.options,
        positionals: 1...1,
        discussion: """
        Asks every tracker in every tier (announce and scrape), takes the magnet link's x.pe peers, the
        peers given with --peer and those the peers name over PEX, then reaches every peer at once —
        over TCP and, for peers TCP cannot reach, uTP — without downloading or uploading anything: it
        sends a handshake, an extension handshake, have_none and interested, and listens for what the
        peer holds and whether it unchokes us within --duration. It reports each source, each peer (how
        it was reached or why not, client, extensions, pieces, round trip) and a summary: seeders and
        leechers reached against the trackers' counts, clients by share, the availability of each piece
        and whether the reachable peers could complete the torrent. Exit 0 when the census ran, even if
        nobody answered.
        """,
        examples: ["tt swarm x.torrent", "tt swarm --json x.torrent | jq '.summary'",
                   "tt swarm --json --progress 'magnet:?xt=urn:btih:…' | jq -c 'select(.event == \"peer\")'"])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let arguments = invocation.arguments
        let input = try TorrentInput.load(arguments.positionals[0], invocation.environment, allowHashOnly: true)
        let duration = try PeerOptions.seconds(invocation, "--duration", default: 10)
        let connectTimeout = try PeerOptions.seconds(invocation, "--connect-timeout", default: min(4, duration))
        var maxPeers = 200
        if let text = arguments.value("--max-peers") {
            guard let number = Int(text), number > 0, number <= 100_000 else { throw .usage("--max-peers needs a positive number, got '\(text)'") }
            maxPeers = number
        }
        let given = try arguments.all("--peer").map { text throws(TTError) in try PeerOptions.address(text) }
        let local = try PeerOptions.bind(invocation)
        let transportText = arguments.value("--transport") ?? "auto"
        guard let choice = TransportChoice(rawValue: transportText) else {
            throw .usage("--transport must be tcp, utp or auto, got '\(transportText)'")
        }
        let tcp: any PeerDialer = TCPDialer(local: local)
        let utp = UTPDialer(local: local)
        // Every way to reach a peer, in order: per carrier plaintext, then RC4 (MSE) for the peers that
        // hang up on plaintext; --encryption narrows it.
        let policy = try EncryptionOption.parse(invocation, default: .prefer)
        let infoHash = input.infoHashes.wire
        var transports: [CensusTransport] = []
        for (name, carrier) in [("tcp", tcp), ("utp", utp as any PeerDialer)] where (name == "tcp" ? choice != .utp : choice != .tcp) {
            if policy != .require { transports.append(CensusTransport(transport: name, encryption: "plaintext", dialer: carrier)) }
            if policy != .off {
                let encrypted = MSEDialer(policy: .require, infoHash: infoHash, inner: carrier, handshakeTimeout: connectTimeout)
                transports.append(CensusTransport(transport: name, encryption: "rc4", dialer: encrypted))
            }
        }

        var configuration = CensusConfiguration(infoHashes: input.infoHashes, transports: transports,
                                                peerID: PeerOptions.ourPeerID, clientVersion: PeerOptions.ourVersion)
        configuration.duration = duration
        configuration.maxPeers = maxPeers
        configuration.connectTimeout = connectTimeout
        configuration.givenPeers = given
        configuration.localIP = local?.ip
        let trackers = arguments.all("--tracker")
        switch input {
        case .torrent(let torrent, _):
            configuration.lengths = Lengths(layout: torrent.layout)
            configuration.trackerTiers = trackers.isEmpty ? torrent.trackerTiers : trackers.map { [$0] }
        case .magnet(let magnet):
            configuration.trackerTiers = trackers.isEmpty ? magnet.trackers.map { [$0] } : trackers.map { [$0] }
            configuration.magnetPeers = magnet.peers.compactMap { try? SocketAddress.resolve($0) }
        case .infoHash:
            configuration.trackerTiers = trackers.map { [$0] }
        }

        if let source = try dhtSource(invocation, input: input, local: local) { configuration.extraSources.append(source) }

        let progress = invocation.json && arguments.has("--progress")
        let live = !invocation.json && invocation.environment.stderrIsTerminal && invocation.verbosity >= .normal
        var reached = 0, tried = 0
        let census = Census(configuration: configuration)
        let report = census.run { event in
            if progress { invocation.environment.writeJSON(CensusViews.event(event, pieceCount: configuration.lengths?.pieceCount)) }
            if case .peer(let peer) = event {
                tried += 1
                if peer.reached { reached += 1 }
            }
            if live { invocation.environment.writeError("\r\u{1B}[Kswarm: \(reached) reached of \(tried) tried…") }
        }
        if live { invocation.environment.writeError("\r\u{1B}[K") }
        if progress {
            invocation.environment.writeJSON(.object([JSONField("event", .string("summary"))] + CensusViews.json(report).objectFields))
        } else if invocation.json {
            invocation.outputJSON(CensusViews.json(report))
        } else {
            invocation.output(CensusViews.text(report))
        }
        return .success
    }

    /// The DHT as a census source (BEP 5 get_peers, read-only per BEP 43), unless --no-dht or a private torrent.
    static func dhtSource(_ invocation: Invocation, input: TorrentInput, local: SocketAddress?) throws(TTError) -> CensusExtraSource? {
        let family = local?.family ?? .ipv4
        guard var dht = try DHTSwarmOptions.configuration(invocation, isPrivate: input.torrent?.isPrivate ?? false, family: family),
              !dht.bootstrap.isEmpty || dht.statePath != nil, let target = NodeID(input.infoHashes.wire) else { return nil }
        dht.readOnly = true
        final class Running { var node: DHTNode? }
        let running = Running()
        let bind = local.flatMap { SocketAddress(ipBytes: $0.ipBytes, port: 0) } ?? .any(family)
        return CensusExtraSource(kind: PeerSource.dht.rawValue, name: "DHT get_peers", start: { loop, found, done in
            let port: DatagramPort
            do throws(NetError) { port = try DatagramPort(loop: loop, bind: bind) } catch { return done("cannot open a UDP port: \(error)") }
            let node = DHTNode(port: port, configuration: dht)
            running.node = node
            node.lookup(target, kind: .getPeers, onPeers: { peers, _ in found(peers) }) { lookup in
                done(lookup.repliesReceived == 0 ? "no DHT node answered" : nil)
            }
        }, stop: {
            running.node?.close()
            running.node?.port.close()
        })
    }
}
