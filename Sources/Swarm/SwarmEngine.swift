import Dispatch
import FoundationEssentials
import Glibc
import Metainfo
import Net
import PeerWire
import Storage
import Tracker

/// Downloads a torrent from many peers on one event loop, serving what it has while it goes,
/// and optionally seeds afterwards.
///
/// Threads: the loop's thread owns every peer, the picker and all bookkeeping. Hash checks, piece
/// writes and upload reads run on worker queues and post their results back to the loop; flushes
/// and resume-state saves run on one serial queue, so the state never names a piece whose bytes
/// were not fsynced first. The parts live in extensions, one job each: start-up and recheck
/// (`+Startup`), the roster of peers (`+Peers`, `PeerRoster`), wire events (`+Wire`), piece
/// assembly (`+Pieces`), uploads and choking (`+Uploads`), trackers (`+Trackers`) and
/// checkpoints (`+Checkpoint`).
///
/// Everything the engine touches outside itself is injected: the loop (and so its clock), the
/// dialer that returns byte streams, the randomness; simulations run it in-process.
public final class SwarmEngine {
    public let configuration: SwarmConfiguration
    let report: (SwarmEvent) -> Void

    /// The loop everything runs on; components attach their sockets and timers here.
    public let loop: EventLoop
    var listener: TCPListener?
    /// The UDP port with the listener's number, shared by the DHT and uTP (nil without a listener).
    public private(set) var datagramPort: DatagramPort?
    var components: [SwarmComponent] = []
    var random: any RandomNumberGenerator

    var layout: FileLayout!
    var lengths: Lengths!
    var hashes: PieceHashes!
    var store: PieceStore!
    var picker: PiecePicker!
    var contentPath = ""
    var resumePath = ""
    /// The files chosen for download, as the resume state records them (nil: all).
    var selectedFiles: [Int]?
    /// Bytes of the wanted pieces: the download's total (all data unless files were left out).
    var wantedBytes: Int64 = 0

    var peers: [Int: PeerConnection] = [:]
    /// BEP 19 web seeds fetching pieces beside the peers (`+WebSeeds`).
    var webSeeds: [WebSeedWorker] = []
    var nextKey = 0
    var roster = PeerRoster()
    var peersSeen: Set<SocketAddress> = []

    /// Blocks of pieces being assembled.
    var buffers: [Int: PieceBuffer] = [:]
    /// Piece buffers back from the hash check, reused so memory stays flat instead of following
    /// the allocator's high-water mark.
    var spareBuffers: [PieceBuffer] = []
    /// Pieces handed to the hash check at most at once; past that we stop asking for more blocks.
    /// Counted in pieces but meant as bytes: small pieces get many (set with the layout).
    var maxChecksInFlight = ProcessInfo.processInfo.activeProcessorCount + 1
    var spareBufferLimit = 2
    /// True while peers' reads are paused because the hash checks lag (see `check`).
    var readsPausedForChecks = false
    /// Pieces waiting for a check job, oldest first.
    var pendingChecks: [PendingCheck] = []
    /// Check jobs running on workers (at most `checkWorkers`).
    var checkJobs = 0
    let checkWorkers = max(2, ProcessInfo.processInfo.activeProcessorCount)
    /// Verified and written, waiting for the next flush.
    var unflushed: [Int] = []
    /// Verified, written and fsynced: what the resume state may claim.
    var durable: Bitfield
    var saveInFlight = false
    var checksInFlight = 0
    var readsInFlight = 0
    /// Whole pieces read for uploading (sized once the layout is known).
    var uploadCache = UploadCache(spanLength: 0)
    let ioQueue = DispatchQueue(label: "tt.swarm.io")
    var trackerClient = TrackerClient()
    var announcer: AnnounceScheduler

    var started = 0.0
    var idleSince = 0.0
    var downloaded: Int64 = 0
    var uploaded: Int64 = 0
    var wasted: Int64 = 0
    var hashFailures = 0
    var completedAnnounced = false
    let choker: Choker
    var optimistic: Choker.Optimistic?
    var outcome: Result<SwarmSummary.Outcome, SwarmError>?
    var stopRequested = false
    var quarters = 0
    var ticks = 0

    public init(configuration: SwarmConfiguration, loop: EventLoop = EventLoop(), report: @escaping (SwarmEvent) -> Void) {
        self.configuration = configuration
        self.loop = loop
        self.report = report
        self.random = configuration.random
        self.choker = Choker(slots: configuration.uploadSlots)
        self.durable = Bitfield(pieceCount: 0)
        var tiers = configuration.useTrackers ? configuration.torrent.trackerTiers : []
        if !configuration.extraTrackers.isEmpty { tiers.append(configuration.extraTrackers) }
        self.announcer = AnnounceScheduler(tiers: TrackerTiers(tiers))
    }

    /// The engine's clock: the loop's (virtual in simulations).
    var now: Double { loop.now }

    // MARK: - Plug points (call on the loop's thread)

    /// Adds a component (DHT node, uTP multiplexer, PEX) before `run`.
    public func add(_ component: SwarmComponent) { components.append(component) }

    /// Peers learned at run time (a tracker, DHT, PEX, …): dialled as slots allow.
    public func addPeers(_ addresses: [SocketAddress], source: PeerSource) {
        var added = false
        for address in addresses where roster.add(address, source: source) { added = true }
        if added && outcome == nil { connectMore() }
    }

    /// A stream some listener accepted (TCP here; uTP from its multiplexer): the peer speaks first.
    public func accept(_ stream: any ByteStream, source: PeerSource = .incoming) {
        guard outcome == nil, peers.count < configuration.maxPeers + 10, !roster.banned.contains(stream.remote) else {
            stream.close()
            return
        }
        guard let acceptor = configuration.acceptor else {
            attach(stream, source: source, initiator: false)
            return
        }
        acceptor.accept(stream, loop: loop) { [self] ready in
            guard outcome == nil, peers.count < configuration.maxPeers + 10 else { ready.close(); return }
            attach(ready, source: source, initiator: false)
        }
    }

    /// Every peer in connection order: loops that send go through this, so a run's writes do not
    /// depend on the hash seed (simulations replay exactly).
    var orderedPeers: [PeerConnection] { peers.keys.sorted().compactMap { peers[$0] } }

    /// Peers past their handshake, as components see them.
    public var connectedPeers: [ConnectedPeer] { orderedPeers.filter(\.handshakeDone).map { $0.snapshot() } }

    /// Sends a payload of extension `name` to a connected peer; false when it does not speak it or is gone.
    @discardableResult
    public func send(extension name: String, payload: [UInt8], to peerID: Int) -> Bool {
        guard let peer = peers[peerID], peer.session.sendExtension(name, payload: payload) else { return false }
        peer.flush()
        return true
    }

    /// Where peers reach us (nil without a listener).
    public var listenAddress: SocketAddress? { listener?.localAddress }

    /// Asks the engine to stop: state is saved and `run` returns `.interrupted`. From another
    /// thread, hand it over with `loop.execute`.
    public func interrupt() {
        loop.assertInLoop()
        finish(.success(.interrupted))
    }

    // MARK: - Run

    /// Runs until complete (or interrupted, or failed); with `seedAfterDownload`, until interrupted.
    public func run(handleSignals: Bool = true) throws(SwarmError) -> SwarmSummary {
        started = now
        idleSince = started
        try prepare()
        if handleSignals {
            loop.onSignal([SIGINT, SIGTERM]) { [self] signal in
                // Stopping a seed with SIGTERM is the normal end of its job, not an interruption.
                finish(.success(configuration.serveOnly && signal == SIGTERM ? .stopped : .interrupted))
            }
        }
        if let duration = configuration.duration {
            loop.schedule(after: duration) { [self] in finish(.success(configuration.serveOnly ? .stopped : .interrupted)) }
        }
        openListener()
        for component in components { component.start(self) }
        for address in configuration.peers { roster.add(address, source: .peerOption) }
        if picker.isComplete && !configuration.serveOnly {
            report(.completed(progress()))
            if !configuration.seedAfterDownload { finish(.success(.complete)) }
        }
        if outcome == nil {
            announce(event: .started)
            connectMore()
            startWebSeeds()
            schedulePeriodic()
        }
        while outcome == nil || saveInFlight || checksInFlight > 0 || readsInFlight > 0 {
            loop.runOnce(timeout: 1)
            if outcome != nil && !stopRequested { stopRequested = true; shutDown() }
        }
        listener?.close()
        datagramPort?.close()
        switch outcome! {
        case .failure(let error): throw error
        case .success(let result):
            let summary = SwarmSummary(outcome: result, progress: progress(), wastedBytes: wasted, hashFailures: hashFailures,
                                       bannedPeers: roster.banned.count, peersSeen: peersSeen.count, resumePath: resumePath)
            report(.finished(summary))
            return summary
        }
    }

    /// The TCP listener and the UDP port of the same number.
    private func openListener() {
        guard let address = configuration.listen else { return }
        do {
            let listener = try TCPListener(bind: address)
            self.listener = listener
            roster.listenPort = listener.localAddress.port
            if address.isUnspecified { roster.loopbackIsOurs = true } else { roster.localIPs.insert(address.ip) }
            // Announce from the address we listen on: trackers record the source address.
            if !address.isUnspecified {
                var options = TrackerClient.Options()
                options.localIP = address.ip
                trackerClient = TrackerClient(options: options)
            }
            loop.watch(listener.fileDescriptor) { [self] _ in acceptPeers() }
            if configuration.openDatagramPort, let udp = SocketAddress(ip: address.ip, port: listener.localAddress.port) {
                datagramPort = try? DatagramPort(loop: loop, bind: udp)
            }
            // Reported once uTP's port is open too: whoever reads the event (tests started on port 0) can dial either.
            report(.listening(listener.localAddress))
        } catch {
            report(.trackerFailed(tracker: "listen", message: "cannot listen on \(address): \(error); incoming peers disabled"))
        }
    }

    private func acceptPeers() {
        guard let listener else { return }
        while let connection = try? listener.acceptNext() {
            accept(StreamChannel(loop: loop, connection: connection), source: .incoming)
        }
    }

    func finish(_ result: Result<SwarmSummary.Outcome, SwarmError>) {
        guard outcome == nil else { return }
        outcome = result
    }

    /// Closes every peer and saves what is verified; checks still running finish first.
    private func shutDown() {
        for peer in Array(peers.values) {
            peer.stream.close()
            peers[peer.key] = nil
            if peer.announced { for component in components { component.peerDisconnected(peer.snapshot()) } }
        }
        for component in components { component.stop() }
        listener.map { loop.unwatch($0.fileDescriptor) }
        // Wait for in-flight checks, then one last synchronous save.
        while checksInFlight > 0 { loop.runOnce(timeout: 0.1) }
        if case .failure(.storage) = outcome! { return }
        if case .success(.complete) = outcome! {
            // Complete: every byte is written; waiting for the disk to flush the last of them would only
            // let the state claim them. It records what is already flushed, and a later run re-checks the
            // rest quickly (as `cp` does, we leave the page cache to the kernel).
            unflushed.removeAll()
            while saveInFlight { loop.runOnce(timeout: 0.1) }
            recordDurable()
            return
        }
        saveState(force: true, synchronously: true)
        if case .success(let result) = outcome!, result != .complete || configuration.seedAfterDownload {
            announceStopped()
        }
    }

    func progress() -> SwarmProgress {
        SwarmProgress(piecesHave: picker.haveCount, pieceCount: layout.pieceCount, bytesHave: bytesOf(picker.have),
                      totalBytes: configuration.serveOnly ? layout.dataLength : wantedBytes, downloaded: downloaded, uploaded: uploaded,
                      downloadRate: peers.values.reduce(0) { $0 + $1.downloadRate } + webSeeds.reduce(0) { $0 + $1.rate(now: now) },
                      uploadRate: peers.values.reduce(0) { $0 + $1.uploadRate },
                      peers: peers.values.filter(\.handshakeDone).count, seconds: now - started)
    }

    // MARK: - Timers

    /// A progress report four times a second (for a smooth bar); the bookkeeping tick once a second.
    func schedulePeriodic() {
        loop.schedule(after: 0.25) { [self] in
            guard outcome == nil else { return }
            quarters += 1
            if quarters % 4 == 0 { tick() } else { report(.progress(progress())) }
            schedulePeriodic()
        }
    }

    private func tick() {
        ticks += 1
        let now = self.now
        for peer in orderedPeers {
            peer.tick()
            checkSnub(peer, now: now)
        }
        for peer in orderedPeers { requestMore(peer) }
        feedWebSeeds()
        if ticks % 10 == 0 { rechoke() }
        if !unflushed.isEmpty && ticks % max(1, configuration.checkpointInterval) == 0 { saveState(force: false, synchronously: false) }
        connectMore()
        if announcer.isDue(now: now, wanted: !picker.isComplete || configuration.serveOnly || configuration.seedAfterDownload) {
            announce(event: nil)
        }
        report(.progress(progress()))
        checkStall(now)
    }

    private func checkStall(_ now: Double) {
        if configuration.serveOnly { return }
        if !peers.isEmpty || roster.isConnecting || picker.isComplete || webSeeds.contains(where: { !$0.dropped }) { idleSince = now; return }
        let noSources = !roster.hasRetryable && !announcer.hasTrackers
        if noSources || now - idleSince > configuration.stallTimeout {
            let reasons = roster.lastErrors
            var message = "no peers to download from"
            if !reasons.isEmpty { message += ": " + reasons.prefix(3).joined(separator: "; ") }
            else if let error = announcer.lastError { message += ": \(error)" }
            else if roster.isEmpty && !announcer.hasTrackers { message += " (no trackers and no --peer)" }
            else if roster.isEmpty { message += " (the trackers returned none)" }
            finish(.failure(.noPeers(message)))
        }
    }
}
