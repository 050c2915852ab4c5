import Metainfo
import Net
import PeerWire
import Swarm
import Tracker

/// What a census asks and how it reaches peers.
public struct CensusConfiguration {
    public var infoHashes: InfoHashes
    /// Known when the census has the torrent itself (not a magnet or a bare hash).
    public var lengths: Lengths?
    public var trackerTiers: [[String]] = []
    /// The magnet link's `x.pe` peers and `--peer` peers.
    public var magnetPeers: [SocketAddress] = []
    public var givenPeers: [SocketAddress] = []
    /// How long the census gathers and listens, seconds.
    public var duration: Double = 10
    public var maxPeers = 200
    public var connectTimeout: Double = 4
    public var trackerTimeout: Double = 8
    /// Ways to reach a peer, tried in order until a handshake completes.
    public var transports: [CensusTransport]
    public var peerID: PeerID
    public var clientVersion: String
    /// Other sources (e.g. the DHT): started on the census loop, they hand peers to `add`.
    public var extraSources: [CensusExtraSource] = []
    /// Send requests to trackers from this local IP.
    public var localIP: String?

    public init(infoHashes: InfoHashes, transports: [CensusTransport], peerID: PeerID, clientVersion: String) {
        self.infoHashes = infoHashes
        self.transports = transports
        self.peerID = peerID
        self.clientVersion = clientVersion
    }
}

/// A source of peers besides trackers (the DHT), driven on the census loop.
public struct CensusExtraSource {
    public var kind: String
    public var name: String
    /// Starts the source; it calls `found` with peers as they come and `done` (once) with an error or nil.
    public var start: (_ loop: EventLoop, _ found: @escaping ([SocketAddress]) -> Void, _ done: @escaping (String?) -> Void) -> Void
    /// Called when the census ends, whether or not the source is done (close sockets, save state).
    public var stop: () -> Void

    public init(kind: String, name: String,
                start: @escaping (EventLoop, @escaping ([SocketAddress]) -> Void, @escaping (String?) -> Void) -> Void,
                stop: @escaping () -> Void = {}) {
        self.kind = kind
        self.name = name
        self.start = start
        self.stop = stop
    }
}

/// `tt swarm`: gathers a torrent's peers from every source and reaches each of them concurrently,
/// without downloading or uploading a piece, then sums up what the swarm holds.
public final class Census {
    /// Progress, as it happens: a source answered, a peer was reached (or given up on).
    public enum Event {
        case source(CensusSourceReport)
        case peer(CensusPeerReport)
    }

    public let configuration: CensusConfiguration
    private let loop = EventLoop()
    private var sources: [CensusSourceReport] = []
    private var order: [SocketAddress] = []
    private var known: [SocketAddress: CensusPeerReport] = [:]
    private var probes: [SocketAddress: CensusProbe] = [:]
    private var pendingSources = 0
    private var start = 0.0
    private var deadline = 0.0
    private var over = false

    public init(configuration: CensusConfiguration) {
        self.configuration = configuration
    }

    /// Runs the census to its end and returns the report; `progress` sees each step on the way.
    public func run(progress: @escaping (Event) -> Void = { _ in }) -> CensusReport {
        start = loop.now
        deadline = start + configuration.duration
        var session = PeerSession.Configuration(infoHash: configuration.infoHashes.wire, peerID: configuration.peerID)
        session.clientVersion = configuration.clientVersion
        session.lengths = configuration.lengths
        session.extensionNames = [PEXMessage.name]
        let probeConfiguration = session

        func add(_ peers: [SocketAddress], source: String) {
            for address in peers {
                if var existing = known[address] {
                    if !existing.sources.contains(source) { existing.sources.append(source); known[address] = existing }
                    if let probe = probes[address], probe.finished { known[address]?.attempts = probe.report.attempts }
                    continue
                }
                guard known.count < configuration.maxPeers, !over else { continue }
                let report = CensusPeerReport(address: address, sources: [source])
                known[address] = report
                order.append(address)
                let probe = CensusProbe(report: report, loop: loop, configuration: probeConfiguration, transports: configuration.transports,
                                        connectTimeout: configuration.connectTimeout, deadline: deadline)
                probe.onPEXPeers = { peers in add(peers, source: PeerSource.pex.rawValue) }
                probe.onFinished = { [self] probe in
                    var final = probe.report
                    final.sources = known[probe.report.address]?.sources ?? final.sources
                    known[probe.report.address] = final
                    progress(.peer(final))
                    finishIfDone()
                }
                probes[address] = probe
                probe.start()
            }
        }

        func finishIfDone() {
            if pendingSources == 0 && probes.values.allSatisfy(\.finished) { loop.stop() }
        }

        func answered(_ report: CensusSourceReport) {
            var report = report
            report.elapsed = loop.now - start
            sources.append(report)
            progress(.source(report))
            add(report.peers, source: report.kind)
            pendingSources -= 1
            finishIfDone()
        }

        // Sources that answer at once.
        if !configuration.magnetPeers.isEmpty {
            var report = CensusSourceReport(kind: PeerSource.magnet.rawValue, name: "magnet link x.pe")
            report.peers = configuration.magnetPeers
            pendingSources += 1
            answered(report)
        }
        if !configuration.givenPeers.isEmpty {
            var report = CensusSourceReport(kind: PeerSource.peerOption.rawValue, name: "--peer")
            report.peers = configuration.givenPeers
            pendingSources += 1
            answered(report)
        }
        // Every tracker of every tier, each on a worker (the tracker client blocks).
        let trackers = configuration.trackerTiers.flatMap { $0 }
        let client = trackerClient()
        let infoHash = configuration.infoHashes.wire
        let peerID = configuration.peerID
        // Trackers record the port we announce; a random one we never listen on keeps our entry (and the
        // `stopped` that removes it) from ever standing for a real peer.
        let port = UInt16.random(in: 49152...65535)
        for url in trackers {
            pendingSources += 1
            loop.offload({ Self.ask(url, client: client, infoHash: infoHash, peerID: peerID, port: port) }, then: { answered($0) })
        }
        // Other sources report what they found so far if the census ends first.
        final class Pending { var report: CensusSourceReport; var done = false; init(_ report: CensusSourceReport) { self.report = report } }
        var pendingExtras: [Pending] = []
        for source in configuration.extraSources {
            pendingSources += 1
            let pending = Pending(CensusSourceReport(kind: source.kind, name: source.name))
            pendingExtras.append(pending)
            source.start(loop, { peers in
                pending.report.peers += peers
                add(peers, source: source.kind)
            }, { error in
                guard !pending.done else { return }
                pending.done = true
                pending.report.error = error
                answered(pending.report)
            })
        }
        let end = loop.schedule(at: deadline + 0.5) { [self] in
            // Sources still out are reported as such; probes stop where they are.
            over = true
            for probe in probes.values { probe.stop() }
            loop.stop()
        }
        finishIfDone()
        if !(pendingSources == 0 && probes.isEmpty) { loop.run() }
        loop.cancel(end)
        over = true
        for probe in probes.values where !probe.finished { probe.stop() }
        for source in configuration.extraSources { source.stop() }
        for pending in pendingExtras where !pending.done {
            pending.done = true
            pending.report.error = "still looking when the census ended"
            pending.report.elapsed = loop.now - start
            sources.append(pending.report)
        }
        for url in trackers where !sources.contains(where: { $0.name == url }) {
            var report = CensusSourceReport(kind: PeerSource.tracker.rawValue, name: url)
            report.error = "no answer within the census"
            sources.append(report)
        }
        // Leave the trackers' swarms as we found them (best effort, in the background of the exit).
        for url in trackers where sources.contains(where: { $0.name == url && $0.error == nil }) {
            Self.leave(url, client: client, infoHash: infoHash, peerID: peerID, port: port)
        }
        let peers = order.compactMap { known[$0] }
        let pieceCount = configuration.lengths?.pieceCount
        return CensusReport(infoHashes: configuration.infoHashes, pieceCount: pieceCount, sources: sources, peers: peers,
                            summary: CensusSummary(sources: sources, peers: peers, pieceCount: pieceCount),
                            duration: loop.now - start)
    }

    private func trackerClient() -> TrackerClient {
        var options = TrackerClient.Options()
        options.timeout = min(configuration.trackerTimeout, max(1, configuration.duration))
        options.udpRetransmitBase = 2
        options.localIP = configuration.localIP
        return TrackerClient(options: options)
    }

    /// One tracker: a scrape first (its counts do not include us), then an announce for peers. Without
    /// a scrape the announce's counts are used, less the leecher our own announce added.
    static func ask(_ url: String, client: TrackerClient, infoHash: [UInt8], peerID: PeerID, port: UInt16) -> CensusSourceReport {
        var report = CensusSourceReport(kind: PeerSource.tracker.rawValue, name: url)
        let scraped = try? client.scrape(url, infoHashes: [infoHash]).first
        let request = AnnounceRequest(infoHash: infoHash, peerID: peerID.bytes, port: port, left: 1, event: .started, numWant: 200)
        do {
            let response = try client.announce(url, request)
            report.peers = response.peers.compactMap { SocketAddress(ip: $0.ip, port: $0.port) }
            report.seeders = scraped?.complete ?? response.complete
            report.leechers = scraped?.incomplete ?? response.incomplete.map { max(0, $0 - 1) }
            report.downloaded = scraped?.downloaded ?? response.downloaded
        } catch {
            report.error = error.description
        }
        return report
    }

    static func leave(_ url: String, client: TrackerClient, infoHash: [UInt8], peerID: PeerID, port: UInt16) {
        let request = AnnounceRequest(infoHash: infoHash, peerID: peerID.bytes, port: port, left: 1, event: .stopped, numWant: 0)
        _ = try? client.announce(url, request)
    }
}
