import DHT
import FoundationEssentials
import Glibc
import JSON
import Metainfo
import Net
import PeerWire
import Swarm

/// `tt download`: a whole torrent from many peers, with resume and a progress bar.
struct DownloadCommand: Command {
    static let spec = CommandSpec(
        name: "download",
        summary: "download a whole torrent from many peers (resume, progress, multi-file)",
        usage: "tt download TORRENT|MAGNET|- [-o DIR] [--peer HOST:PORT…] [--seed] [--encryption off|prefer|require] [--json]",
        options: [
            OptionSpec(["--output", "-o"], value: "DIR", help: "where to put the data (DIR/<name>); default: the current folder"),
            OptionSpec(["--peer"], value: "HOST:PORT", repeats: true, help: "a peer to connect to (works without any tracker)"),
            OptionSpec(["--tracker"], value: "URL", repeats: true, help: "an extra tracker, after the torrent's own"),
            EncryptionOption.spec(default: .prefer),
            OptionSpec(["--no-trackers"], help: "do not announce to the torrent's trackers"),
            OptionSpec(["--max-peers"], value: "N", help: "most peers connected at once (default 50)"),
            OptionSpec(["--port"], value: "N", help: "port to accept peers on (default: any free port)"),
            OptionSpec(["--bind"], value: "ADDR", help: "address to accept peers on and dial them from (default 0.0.0.0)"),
            PeerOptions.engineTransport,
            OptionSpec(["--no-resume"], help: "ignore saved state and re-check everything on disk"),
            OptionSpec(["--seed"], help: "keep serving after the download completes, until Ctrl-C"),
            OptionSpec(["--stall-timeout"], value: "SECONDS", help: "give up after this long with no peer to try (default 60)"),
            OptionSpec(["--peer-timeout"], value: "SECONDS", help: "a peer silent this long while we wait is snubbed (default 30)"),
            OptionSpec(["--checkpoint"], value: "SECONDS", help: "flush and record verified pieces this often (default 10)"),
            FileSelectionOptions.files, FileSelectionOptions.only,
            OptionSpec(["--webseed"], value: "URL", repeats: true, help: "a web seed (BEP 19) besides the torrent's url-list (repeatable)"),
            OptionSpec(["--no-webseeds"], help: "do not use the torrent's web seeds"),
        ] + DHTSwarmOptions.options,
        positionals: 1...1,
        discussion: """
        A magnet link works too: the info dictionary is fetched from peers (BEP 9; from --peer, the link's
        x.pe and its trackers) and checked against the link's info hash before anything else happens.
        Pieces are picked rarest-first, hash-checked, written, and recorded in DIR/.tt/<info hash>.resume only
        after they are flushed to disk; a new run (even after kill -9) resumes from there and re-checks any other
        data it finds. --files 0,3-5 and --only GLOB (and a magnet's BEP 53 so=) download some files only, by
        the index 'tt info' shows; the others are not created, and bytes of theirs that share a piece with a
        chosen file are kept in DIR/.tt/<info hash>.parts until they are chosen too. With --json every event is a JSON Lines object (started, peer_connected, piece_verified,
        progress each second, finished). Ctrl-C saves state and exits 130.
        """,
        examples: ["tt download x.torrent -o downloads/", "tt download x.torrent --peer 127.0.0.1:6881 --no-trackers --json | jq -c ."])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let arguments = invocation.arguments
        let environment = invocation.environment
        let source = arguments.positionals[0]
        var peers: [SocketAddress] = []
        for text in arguments.all("--peer") {
            do { peers.append(try SocketAddress.resolve(text)) } catch {
                throw TTError(.usage, kind: "usage", "--peer \(text): \(error)")
            }
        }
        let port = try arguments.integer("--port", in: 0...65_535) ?? 0
        let bind = arguments.value("--bind") ?? "0.0.0.0"
        guard var listen = SocketAddress(ip: bind, port: UInt16(port)) else { throw .usage("--bind needs an IP address, got '\(bind)'") }
        let bytes: [UInt8]
        var dht: SwarmDHT?
        if source.hasPrefix("magnet:") {
            let magnet: MagnetLink
            do { magnet = try MagnetLink(parsing: source) } catch { throw TTError(metainfo: error, source: "magnet link") }
            dht = try DHTSwarmOptions.start(invocation, infoHash: magnet.infoHashes.wire, isPrivate: false, listen: listen)
            do { bytes = try torrentFromMagnet(source, peers: peers, dht: dht, invocation: invocation) } catch {
                _ = dht?.handOver()
                throw error
            }
        } else {
            bytes = try TorrentInput.readInput(source, environment)
        }
        let torrent: Torrent
        do { torrent = try Torrent(bytes: bytes) } catch {
            _ = dht?.handOver()
            throw TTError(metainfo: error, source: source == "-" ? "stdin" : source)
        }
        if torrent.isPrivate, let running = dht {
            _ = running.handOver()  // BEP 27: a private torrent's peers come from its trackers only
            dht = nil
        } else if dht == nil {
            dht = try DHTSwarmOptions.start(invocation, infoHash: torrent.infoHashes.wire, isPrivate: torrent.isPrivate, listen: listen)
        }
        // The peer port number is the DHT node's UDP port (BEP 5 'port'; one port number for both).
        if let dht, listen.port == 0 { listen = SocketAddress(ipBytes: listen.ipBytes, port: dht.udpPort)! }
        var dhtPeers: [SocketAddress] = []
        if let dht {
            // Other sources present: do not hold the start for the lookup at all (it held every
            // `--peer` download 2 s on a DHT with no one to ask); the engine's own node keeps looking
            // and its peers join as they come. With no other source, the first lookup is waited for.
            let others = !peers.isEmpty || (!arguments.has("--no-trackers") && !torrent.trackers.isEmpty) || !arguments.all("--tracker").isEmpty
            let (found, replied) = dht.waitForFirstLookup(timeout: others ? 0 : 15, grace: 0)
            dhtPeers = found
            invocation.log("DHT: \(found.count) peer\(found.count == 1 ? "" : "s") from \(replied) node\(replied == 1 ? "" : "s")")
        }
        let dhtHadContacts = dht?.hasContacts ?? false
        // The engine's own node (on its UDP port and loop) carries on from here.
        let component = dht?.handOver()

        var configuration = SwarmConfiguration(torrent: torrent, torrentBytes: bytes,
                                               output: environment.path(arguments.value("--output") ?? "."))
        configuration.selection = try FileSelectionOptions.selection(arguments, torrent: torrent,
                                                                     magnetSelect: FileSelectionOptions.selectOnly(inMagnet: source))
        if let selection = configuration.selection {
            invocation.log("downloading files \(selection.selected.sorted().map(String.init).joined(separator: ",")) of \(torrent.files.count)")
        }
        configuration.peers = peers
        configuration.webSeeds = (arguments.has("--no-webseeds") ? [] : torrent.webSeeds) + arguments.all("--webseed")
        configuration.useTrackers = !arguments.has("--no-trackers")
        configuration.extraTrackers = arguments.all("--tracker")
        configuration.maxPeers = try arguments.integer("--max-peers", in: 1...1000) ?? 50
        configuration.resume = !arguments.has("--no-resume")
        configuration.seedAfterDownload = arguments.has("--seed")
        if let seconds = try arguments.integer("--stall-timeout", in: 1...86_400) { configuration.stallTimeout = Double(seconds) }
        if let seconds = try arguments.integer("--peer-timeout", in: 1...3600) { configuration.snubTimeout = Double(seconds) }
        if let seconds = try arguments.integer("--checkpoint", in: 1...3600) { configuration.checkpointInterval = seconds }
        configuration.listen = listen
        // DHT reserved bit and BEP 5 'port' to peers — only when our node knows someone: Transmission
        // seeds measurably slower to a peer advertising one (measured on loopback), for nothing when it knows no one.
        configuration.advertisesDHT = component != nil && dhtHadContacts
        if configuration.peers.isEmpty && dhtPeers.isEmpty && (!configuration.useTrackers || torrent.trackers.isEmpty)
            && configuration.extraTrackers.isEmpty && configuration.webSeeds.isEmpty {
            let why = torrent.trackers.isEmpty ? "the torrent names no tracker" : "--no-trackers was given"
            if dhtHadContacts { throw TTError(.unavailable, kind: "no_peers", "no peers found: \(why), no web seed, and the DHT found none") }
            throw .usage("no way to find peers: \(why) and no web seed; give --peer HOST:PORT, --tracker URL, --webseed URL or --dht-bootstrap HOST:PORT")
        }

        let view = DownloadView(invocation: invocation, torrent: torrent)
        let transport = UTPComponent(mode: try PeerOptions.engineTransport(invocation), local: SocketAddress(ip: bind, port: 0))
        configuration.dialer = transport.dialer
        // After the carrier's dialer: MSE wraps whatever dialer is there.
        EncryptionOption.apply(try EncryptionOption.parse(invocation, default: .prefer), to: &configuration, invocation: invocation)
        let engine = SwarmEngine(configuration: configuration) { event in view.show(event) }
        engine.add(transport)
        engine.add(PEXComponent(isPrivate: torrent.isPrivate))
        if let component { engine.add(component) }
        let summary: SwarmSummary
        do {
            summary = try engine.run()
        } catch {
            view.finishBar()
            throw TTError(swarm: error)
        }
        view.finishBar()
        return summary.outcome == .interrupted ? .interrupted : .success
    }
}

extension DownloadCommand {
    /// A magnet link becomes a torrent: peers from `--peer`, the link's `x.pe` and its trackers are asked
    /// for the info dictionary (BEP 9), which must hash to the link's info hash.
    static func torrentFromMagnet(_ link: String, peers given: [SocketAddress], dht: SwarmDHT?, invocation: Invocation) throws(TTError) -> [UInt8] {
        let magnet: MagnetLink
        do { magnet = try MagnetLink(parsing: link) } catch { throw TTError(metainfo: error, source: "magnet link") }
        let trackers = magnet.trackers + invocation.arguments.all("--tracker")
        var peers = MetadataFetcher.candidatePeers(for: magnet, given: given,
                                                   trackers: invocation.arguments.has("--no-trackers") ? [] : trackers) {
            invocation.log($0)
        }
        if let dht {
            // A few peers to try for the metadata, without waiting for the end of the lookup.
            let (found, replied) = dht.waitForFirstLookup(timeout: 15, grace: 0.25)
            invocation.log("DHT: \(found.count) peer\(found.count == 1 ? "" : "s") from \(replied) node\(replied == 1 ? "" : "s")")
            for peer in found where !peers.contains(peer) { peers.append(peer) }
        }
        guard !peers.isEmpty else {
            throw TTError(.unavailable, kind: "no_peers", "no peer to fetch the metadata from: the magnet link names no tracker or peer that answered"
                          + (dht == nil ? "" : " and the DHT found none") + "; give --peer HOST:PORT")
        }
        invocation.note("fetching the metadata (BEP 9) from \(peers.count) peer\(peers.count == 1 ? "" : "s")…")
        let fetcher = MetadataFetcher(infoHashes: magnet.infoHashes, peerID: PeerID.ours(), clientVersion: ClientIdentity.name)
        switch fetcher.fetch(from: peers) {
        case .failure(let error):
            throw TTError(.unavailable, kind: "no_metadata", error.description)
        case .success(let info):
            return MetadataFetcher.torrentBytes(info: info, trackers: trackers)
        }
    }
}

/// Renders swarm events: JSON Lines with --json; otherwise a bar on a TTY or occasional lines.
final class DownloadView: @unchecked Sendable {
    let invocation: Invocation
    let torrent: Torrent
    let bar: ProgressBar
    private var lastLine = Date.distantPast
    private var lastJSONProgress = Date.distantPast

    init(invocation: Invocation, torrent: Torrent) {
        self.invocation = invocation
        self.torrent = torrent
        self.bar = ProgressBar(environment: invocation.environment, enabled: invocation.verbosity >= .normal && !invocation.json, label: "")
    }

    func finishBar() { bar.finish() }

    func show(_ event: SwarmEvent) {
        if invocation.json {
            if case .started(let info) = event, let problem = info.resumeProblem { invocation.warn(problem) }
            // JSON Lines carry one progress event a second (the engine reports four).
            if case .progress = event {
                guard Date().timeIntervalSince(lastJSONProgress) >= 0.95 else { return }
                lastJSONProgress = Date()
            }
            if let json = Self.json(event, torrent: torrent) { invocation.outputJSON(json) }
            return
        }
        switch event {
        case .started(let info):
            if let problem = info.resumeProblem { bar.finish(); invocation.warn(problem) }
            invocation.note("\(info.name): \(Format.bytes(info.totalBytes)) in \(info.pieceCount) pieces → \(info.contentPath)"
                + (info.piecesHave > 0 ? " (\(info.piecesHave) pieces already here: \(info.piecesTrusted) from saved state, \(info.piecesRechecked) re-checked)" : ""))
        case .peerConnected(let address, let client, _, _): invocation.log("peer \(address) connected (\(client ?? "unknown client"))")
        case .peerDropped(let address, let reason, _): invocation.log("peer \(address) dropped: \(reason)")
        case .peerBanned(let address, let reason, _): bar.finish(); invocation.warn("banned peer \(address): \(reason)")
        case .pieceFailed(let piece, let peers): invocation.log("piece \(piece) failed its hash check (from \(peers.joined(separator: ", ")))")
        case .trackerAnnounced(let tracker, let peers): invocation.log("tracker \(tracker): \(peers) peers")
        case .trackerFailed(_, let message): invocation.log("tracker: \(message)")
        case .listening(let address): invocation.log("accepting peers on \(address)")
        case .pieceVerified: break
        case .webSeedAdded(let url): invocation.log("web seed \(url)")
        case .webSeedDropped(let url, let reason): bar.finish(); invocation.warn("dropped web seed \(url): \(reason)")
        case .progress(let progress):
            if invocation.environment.stderrIsTerminal {
                bar.update(done: progress.bytesHave, total: progress.totalBytes, suffix: Self.suffix(progress))
            } else if invocation.verbosity >= .normal && Date().timeIntervalSince(lastLine) >= 5 {
                lastLine = Date()
                let percent = progress.totalBytes > 0 ? Int(Double(progress.bytesHave) * 100 / Double(progress.totalBytes)) : 100
                invocation.note("\(percent)% ↓\(Format.rate(progress.downloadRate))" + Self.suffix(progress))
            }
        case .completed(let progress):
            bar.finish()
            invocation.note("complete: \(Format.bytes(progress.totalBytes)) in \(Format.seconds(progress.seconds))")
        case .finished(let summary):
            bar.finish()
            let progress = summary.progress
            if summary.outcome == .interrupted {
                invocation.note("interrupted: \(progress.piecesHave)/\(progress.pieceCount) pieces saved; run again to resume")
            }
            let rate = progress.seconds > 0 ? Double(progress.downloaded) / progress.seconds : 0
            invocation.output("\(torrent.name): \(summary.outcome.rawValue), \(progress.piecesHave)/\(progress.pieceCount) pieces, "
                + "\(Format.bytes(progress.downloaded)) down at \(Format.rate(rate)), \(Format.bytes(progress.uploaded)) up, "
                + "\(summary.peersSeen) peer\(summary.peersSeen == 1 ? "" : "s"), \(summary.hashFailures) bad pieces")
        }
    }

    /// What follows the bar (which shows percent, bytes and the average download rate).
    static func suffix(_ progress: SwarmProgress) -> String {
        var text = " ↑\(Format.rate(progress.uploadRate)) \(progress.peers) peer\(progress.peers == 1 ? "" : "s")"
            + " \(progress.piecesHave)/\(progress.pieceCount) pieces"
        if let eta = progress.eta { text += " ETA \(Format.seconds(eta))" }
        return text
    }

    static func progressFields(_ progress: SwarmProgress) -> [JSONField] {
        [
            JSONField("pieces_have", .int(progress.piecesHave)),
            JSONField("piece_count", .int(progress.pieceCount)),
            JSONField("bytes_have", .int(progress.bytesHave)),
            JSONField("bytes_total", .int(progress.totalBytes)),
            JSONField("downloaded", .int(progress.downloaded)),
            JSONField("uploaded", .int(progress.uploaded)),
            JSONField("download_rate", .double(progress.downloadRate.rounded())),
            JSONField("upload_rate", .double(progress.uploadRate.rounded())),
            JSONField("peers", .int(progress.peers)),
            JSONField("eta", progress.eta.map { .double($0.rounded()) } ?? .null),
            JSONField("seconds", .double((progress.seconds * 1000).rounded() / 1000)),
        ]
    }

    static func json(_ event: SwarmEvent, torrent: Torrent) -> JSONValue? {
        func make(_ name: String, _ fields: [JSONField]) -> JSONValue { .object([JSONField("event", .string(name))] + fields) }
        switch event {
        case .started(let info):
            return make("started", [
                JSONField("name", .string(info.name)),
                JSONField("info_hash", .optional(torrent.infoHashes.v1Hex)),
                JSONField("info_hash_v2", .optional(torrent.infoHashes.v2Hex)),
                JSONField("path", .string(info.contentPath)),
                JSONField("piece_count", .int(info.pieceCount)),
                JSONField("pieces_have", .int(info.piecesHave)),
                JSONField("pieces_from_state", .int(info.piecesTrusted)),
                JSONField("pieces_rechecked", .int(info.piecesRechecked)),
                JSONField("resume_warning", .optional(info.resumeProblem)),
                JSONField("bytes_total", .int(info.totalBytes)),
                JSONField("bytes_left", .int(info.bytesLeft)),
            ])
        case .listening(let address): return make("listening", PeerView.fields(address))
        case .trackerAnnounced(let tracker, let peers):
            return make("tracker_announced", [JSONField("tracker", .string(tracker)), JSONField("peers", .int(peers))])
        case .trackerFailed(let tracker, let message):
            return make("tracker_failed", [JSONField("tracker", .string(tracker)), JSONField("message", .string(message))])
        case .peerConnected(let address, let client, let incoming, let tag):
            return make("peer_connected", PeerView.fields(address) + [JSONField("client", .optional(client)), JSONField("incoming", .bool(incoming))]
                        + PeerView.fields(tag))
        case .peerDropped(let address, let reason, let tag):
            return make("peer_dropped", PeerView.fields(address) + [JSONField("reason", .string(reason))] + PeerView.fields(tag))
        case .peerBanned(let address, let reason, let tag):
            return make("peer_banned", PeerView.fields(address) + [JSONField("reason", .string(reason))] + PeerView.fields(tag))
        case .pieceVerified(let piece, let source):
            // A web seed's pieces name its URL; peers' their address.
            let fromWebSeed = source.map { $0.hasPrefix("http://") || $0.hasPrefix("https://") } ?? false
            return make("piece_verified", [JSONField("piece", .int(piece)), JSONField("peer", .optional(source))]
                        + (fromWebSeed ? [JSONField("source", .string("webseed"))] : []))
        case .webSeedAdded(let url):
            return make("webseed_added", [JSONField("url", .string(url)), JSONField("source", .string("webseed"))])
        case .webSeedDropped(let url, let reason):
            return make("webseed_dropped", [JSONField("url", .string(url)), JSONField("reason", .string(reason)),
                                            JSONField("source", .string("webseed"))])
        case .pieceFailed(let piece, let peers):
            return make("piece_failed", [JSONField("piece", .int(piece)), JSONField("peers", .array(peers.map(JSONValue.string)))])
        case .progress(let progress): return make("progress", progressFields(progress))
        case .completed(let progress): return make("completed", progressFields(progress))
        case .finished(let summary):
            return make("finished", [
                JSONField("outcome", .string(summary.outcome.rawValue)),
                JSONField("hash_failures", .int(summary.hashFailures)),
                JSONField("wasted", .int(summary.wastedBytes)),
                JSONField("banned_peers", .int(summary.bannedPeers)),
                JSONField("peers_seen", .int(summary.peersSeen)),
                JSONField("resume_state", .string(summary.resumePath)),
            ] + progressFields(summary.progress))
        }
    }
}
