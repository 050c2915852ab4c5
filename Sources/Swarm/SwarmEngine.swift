import Dispatch
import Foundation
import Metainfo
import Net
import PeerWire
import Storage
import Tracker

/// Downloads a torrent from many peers on one event loop, serving what it has while it goes,
/// and optionally seeds afterwards.
///
/// Threads: the loop's thread owns every peer, the picker and all bookkeeping. Hash checks and
/// piece writes run on worker queues and post their results back through a `Mailbox`; flushes
/// and resume-state saves run on one serial queue, so the state never names a piece whose bytes
/// were not fsynced first.
public final class SwarmEngine: @unchecked Sendable {
    public let configuration: SwarmConfiguration
    private let report: (SwarmEvent) -> Void

    private let loop = EventLoop()
    private var mailbox: Mailbox!
    private var listener: TCPListener?
    private var layout: FileLayout!
    private var hashes: PieceHashes!
    private var store: PieceStore!
    private var picker: PiecePicker!
    private var contentPath = ""
    private var resumePath = ""

    private var peers: [Int: PeerConnection] = [:]
    private var nextKey = 0
    private var candidates: [SocketAddress: Candidate] = [:]
    private var connecting: Set<SocketAddress> = []
    private var peersSeen: Set<SocketAddress> = []
    private var banned: Set<SocketAddress> = []

    /// Blocks of pieces being assembled.
    private var buffers: [Int: [UInt8]] = [:]
    /// Piece buffers back from the hash check, reused so memory stays flat instead of following
    /// the allocator's high-water mark.
    private var spareBuffers: [[UInt8]] = []
    /// Pieces handed to the hash check at most at once; past that we stop asking for more blocks.
    private let maxChecksInFlight = 2 * ProcessInfo.processInfo.activeProcessorCount + 2
    /// Verified and written, waiting for the next flush.
    private var unflushed: [Int] = []
    /// Verified, written and fsynced: what the resume state may claim.
    private var durable: Bitfield
    private var saveInFlight = false
    private var checksInFlight = 0
    private let ioQueue = DispatchQueue(label: "tt.swarm.io")
    private var trackerClient = TrackerClient()
    private var trackerTiers: TrackerTiers
    private var announceInFlight = false
    private var nextAnnounce: Double = 0
    private var trackerInterval: Double = 1800
    /// The latest tracker failure, for the message when no peer can be found.
    private var lastTrackerError: String?

    private var started = monotonicSeconds()
    private var idleSince = monotonicSeconds()
    private var downloaded: Int64 = 0
    private var uploaded: Int64 = 0
    private var wasted: Int64 = 0
    private var hashFailures = 0
    private var completedAnnounced = false
    private var optimistic: Int?
    private var lastOptimisticRotation: Double = 0
    private var outcome: Result<SwarmSummary.Outcome, SwarmError>?
    private var stopRequested = false

    struct Candidate {
        var attempts = 0
        var nextTry: Double = 0
        var lastError: String?
    }

    public init(configuration: SwarmConfiguration, report: @escaping (SwarmEvent) -> Void) {
        self.configuration = configuration
        self.report = report
        self.durable = Bitfield(pieceCount: 0)
        var tiers = configuration.useTrackers ? configuration.torrent.trackerTiers : []
        if !configuration.extraTrackers.isEmpty { tiers.append(configuration.extraTrackers) }
        self.trackerTiers = TrackerTiers(tiers)
    }

    /// Asks the engine to stop (thread-safe): state is saved and `run` returns `.interrupted`.
    public func interrupt() {
        mailbox?.post { [self] in finish(.success(.interrupted)) }
    }

    // MARK: - Run

    /// Runs until complete (or interrupted, or failed); with `seedAfterDownload`, until interrupted.
    public func run(handleSignals: Bool = true) throws(SwarmError) -> SwarmSummary {
        try prepare()
        mailbox = Mailbox(loop: loop)
        if handleSignals {
            loop.onSignal([SIGINT, SIGTERM]) { [self] signal in
                // Stopping a seed with SIGTERM is the normal end of its job, not an interruption.
                finish(.success(configuration.serveOnly && signal == SIGTERM ? .stopped : .interrupted))
            }
        }
        if let duration = configuration.duration {
            loop.schedule(after: duration) { [self] in finish(.success(configuration.serveOnly ? .stopped : .interrupted)) }
        }
        if let address = configuration.listen {
            do {
                let listener = try TCPListener(bind: address)
                self.listener = listener
                // Announce from the address we listen on: trackers record the source address.
                if !address.ipBytes.allSatisfy({ $0 == 0 }) {
                    var options = TrackerClient.Options()
                    options.localIP = address.ip
                    trackerClient = TrackerClient(options: options)
                }
                loop.watch(listener.fileDescriptor) { [self] _ in acceptPeers() }
                report(.listening(listener.localAddress))
            } catch {
                report(.trackerFailed(tracker: "listen", message: "cannot listen on \(address): \(error); incoming peers disabled"))
            }
        }
        for address in configuration.peers { candidates[address] = Candidate() }
        if picker.isComplete && !configuration.serveOnly {
            report(.completed(progress()))
            if !configuration.seedAfterDownload { finish(.success(.complete)) }
        }
        if outcome == nil {
            announce(event: .started)
            connectMore()
            schedulePeriodic()
        }
        while outcome == nil || saveInFlight || checksInFlight > 0 {
            loop.runOnce(timeout: 1)
            if outcome != nil && !stopRequested { stopRequested = true; shutDown() }
        }
        mailbox.close(loop: loop)
        listener?.close()
        switch outcome! {
        case .failure(let error): throw error
        case .success(let result):
            let summary = SwarmSummary(outcome: result, progress: progress(), wastedBytes: wasted, hashFailures: hashFailures,
                                       bannedPeers: banned.count, peersSeen: peersSeen.count, resumePath: resumePath)
            report(.finished(summary))
            return summary
        }
    }

    /// Opens storage, reads the resume state and re-checks whatever else is on disk.
    private func prepare() throws(SwarmError) {
        let torrent = configuration.torrent
        if torrent.version == .v2 {
            // BEP 52 pieces stop at file ends, so request lengths differ from the v1 arithmetic.
            throw .badTorrent("\(torrent.name): v2-only torrents cannot be downloaded yet (v1 and hybrid can)")
        }
        if let unsafe = torrent.unsafePaths.first {
            throw .badTorrent("refusing \(torrent.name): unsafe path \"\(unsafe.path)\" (\(unsafe.reason.rawValue))")
        }
        do {
            layout = try FileLayout(torrent: torrent)
            hashes = try PieceHashes(torrent: torrent, layout: layout)
            if let path = configuration.contentPath {
                contentPath = path
            } else {
                contentPath = try PieceStore.contentPath(output: configuration.output, layout: layout)
            }
        } catch {
            throw Self.map(error)
        }
        let pieceCount = layout.pieceCount
        resumePath = ResumeState.path(output: configuration.output, infoHashes: torrent.infoHashes)
        var trusted = Bitfield(pieceCount: pieceCount)
        if configuration.serveOnly {
            try prepareToServe()
            return
        }
        var resumeProblem: String?
        if configuration.resume {
            let loaded = ResumeState.loadForResume(path: resumePath, key: ResumeState.key(torrent.infoHashes), pieceCount: pieceCount)
            if let state = loaded.state { trusted = state.verified }
            resumeProblem = loaded.problem
        }
        // Files that already hold data before we create anything: their pieces get re-checked.
        let existing: [Bool] = layout.files.indices.map { index in
            guard !layout.files[index].isPadding else { return true }
            let path = layout.isMultiFile ? contentPath + "/" + layout.files[index].displayPath : contentPath
            var info = stat()
            return stat(path, &info) == 0 && info.st_size > 0
        }
        do {
            try FileManager.default.createDirectory(atPath: configuration.output, withIntermediateDirectories: true)
        } catch {
            throw .storage("\(configuration.output): cannot create the folder: \(error.localizedDescription)")
        }
        do {
            store = try PieceStore(layout: layout, contentPath: contentPath, access: .readWrite(.sparse))
        } catch {
            throw Self.map(error)
        }
        var have = [Bool](repeating: false, count: pieceCount)
        var toCheck: [Int] = []
        for piece in 0..<pieceCount {
            if trusted[piece] { have[piece] = true; continue }
            let spans = layout.spans(of: layout.pieces.index(piece)!)
            if !spans.isEmpty && spans.allSatisfy({ existing[$0.file] }) { toCheck.append(piece) }
        }
        let rechecked = recheck(toCheck)
        for piece in rechecked { have[piece] = true }
        durable = trusted
        for piece in rechecked { durable[piece] = true }
        picker = PiecePicker(layout: layout.pieces, have: have)
        let bytesHave = bytesOf(have)
        report(.started(.init(name: torrent.name, contentPath: contentPath, pieceCount: pieceCount,
                              piecesHave: picker.haveCount, piecesTrusted: trusted.setCount, piecesRechecked: rechecked.count,
                              totalBytes: layout.dataLength, bytesLeft: layout.dataLength - bytesHave, resumeProblem: resumeProblem)))
        if !rechecked.isEmpty { saveState(force: true, synchronously: true) }
    }

    /// Serve-only: the data is opened read-only and checked (or trusted); nothing is created or recorded.
    private func prepareToServe() throws(SwarmError) {
        let torrent = configuration.torrent
        do {
            store = try PieceStore(layout: layout, contentPath: contentPath, access: .read)
        } catch {
            throw Self.map(error)
        }
        let pieceCount = layout.pieceCount
        var have = [Bool](repeating: configuration.trustData, count: pieceCount)
        if !configuration.trustData {
            for piece in recheck(Array(0..<pieceCount)) { have[piece] = true }
        }
        picker = PiecePicker(layout: layout.pieces, have: have)
        report(.started(.init(name: torrent.name, contentPath: contentPath, pieceCount: pieceCount,
                              piecesHave: picker.haveCount, piecesTrusted: configuration.trustData ? pieceCount : 0,
                              piecesRechecked: configuration.trustData ? 0 : picker.haveCount,
                              totalBytes: layout.dataLength, bytesLeft: layout.dataLength - bytesOf(have))))
        if picker.haveCount == 0 && pieceCount > 0 {
            throw .nothingToServe("\(contentPath): no piece matches \(torrent.name); nothing to serve")
        }
    }

    /// Hashes pieces found on disk on all cores; returns the good ones.
    private func recheck(_ pieces: [Int]) -> [Int] {
        guard !pieces.isEmpty else { return [] }
        let results = UnsafeMutableBufferPointer<Bool>.allocate(capacity: pieces.count)
        results.initialize(repeating: false)
        defer { results.deallocate() }
        nonisolated(unsafe) let output = results
        let store = self.store!, hashes = self.hashes!, layout = self.layout!
        DispatchQueue.concurrentPerform(iterations: pieces.count) { index in
            let piece = layout.pieces.index(pieces[index])!
            if let bytes = try? store.readPiece(piece) { output[index] = hashes.matches(piece, bytes) }
        }
        return pieces.indices.filter { results[$0] }.map { pieces[$0] }
    }

    private func bytesOf(_ have: [Bool]) -> Int64 {
        var total: Int64 = 0
        for piece in have.indices where have[piece] { total += Int64(layout.length(of: layout.pieces.index(piece)!)) }
        return total
    }

    static func map(_ error: StorageError) -> SwarmError {
        switch error {
        case .unsafePath, .badTorrent: return .badTorrent(error.description)
        default: return .storage(error.description)
        }
    }

    // MARK: - Timers

    /// A progress report four times a second (for a smooth bar); the bookkeeping tick once a second.
    private func schedulePeriodic() {
        loop.schedule(after: 0.25) { [self] in
            guard outcome == nil else { return }
            quarters += 1
            if quarters % 4 == 0 { tick() } else { report(.progress(progress())) }
            schedulePeriodic()
        }
    }

    private var quarters = 0

    private var ticks = 0

    private func tick() {
        ticks += 1
        let now = monotonicSeconds()
        for peer in peers.values {
            peer.tick()
            // Snubbed: asked for blocks and got nothing for too long; give its blocks to others.
            if !peer.inFlight.isEmpty && now - peer.lastBlockAt > configuration.snubTimeout {
                if peer.snubbed && now - peer.lastBlockAt > configuration.snubTimeout * 2 {
                    drop(peer, reason: "sent nothing for \(Int(now - peer.lastBlockAt)) s")
                    continue
                }
                if !peer.snubbed {
                    peer.snubbed = true
                    for block in peer.inFlight { picker.abandoned(block, by: peer.key) }
                    peer.inFlight.removeAll()
                }
            }
        }
        for peer in peers.values { requestMore(peer) }
        if ticks % 10 == 0 { rechoke() }
        if !unflushed.isEmpty && ticks % max(1, configuration.checkpointInterval) == 0 { saveState(force: false, synchronously: false) }
        connectMore()
        if !announceInFlight && !trackerTiers.all.isEmpty && now >= nextAnnounce && (!picker.isComplete || configuration.serveOnly) {
            announce(event: nil)
        }
        report(.progress(progress()))
        checkStall(now)
    }

    private func checkStall(_ now: Double) {
        if configuration.serveOnly { return }
        if !peers.isEmpty || !connecting.isEmpty || picker.isComplete { idleSince = now; return }
        let retryable = candidates.contains { !banned.contains($0.key) && $0.value.attempts < 3 }
        let noSources = !retryable && trackerTiers.all.isEmpty
        if noSources || now - idleSince > configuration.stallTimeout {
            let reasons = candidates.compactMap { entry in entry.value.lastError.map { "\(entry.key): \($0)" } }
            var message = "no peers to download from"
            if !reasons.isEmpty { message += ": " + reasons.sorted().prefix(3).joined(separator: "; ") }
            else if let lastTrackerError { message += ": \(lastTrackerError)" }
            else if candidates.isEmpty && trackerTiers.all.isEmpty { message += " (no trackers and no --peer)" }
            else if candidates.isEmpty { message += " (the trackers returned none)" }
            finish(.failure(.noPeers(message)))
        }
    }

    // MARK: - Trackers

    private func announce(event: AnnounceRequest.Event?) {
        guard !trackerTiers.all.isEmpty, !announceInFlight else { return }
        announceInFlight = true
        let request = AnnounceRequest(infoHash: configuration.torrent.infoHashes.wire, peerID: configuration.peerID.bytes,
                                      port: listener?.localAddress.port ?? 6881, uploaded: uploaded, downloaded: downloaded,
                                      left: max(0, layout.dataLength - bytesOf(picker.have)), event: event ?? .none, numWant: 80)
        let tiersAtStart = trackerTiers
        let client = trackerClient
        nonisolated(unsafe) let engine = self
        DispatchQueue.global().async {
            var tiers = tiersAtStart
            let result = tiers.first { url throws(TrackerError) in try client.announce(url, request) }
            let reordered = tiers
            engine.mailbox.post {
                engine.announceInFlight = false
                engine.trackerTiers = reordered
                switch result {
                case .success(let answer):
                    let interval = Double(answer.value.interval ?? 1800)
                    engine.trackerInterval = interval
                    // Few peers: ask again sooner (but never more often than the tracker allows).
                    let floor = Double(answer.value.minInterval ?? 30)
                    let wantsPeers = engine.peers.count < 5 && !engine.picker.isComplete && !engine.configuration.serveOnly
                    engine.nextAnnounce = monotonicSeconds() + (wantsPeers ? max(floor, 30) : interval)
                    engine.report(.trackerAnnounced(tracker: answer.tracker, peers: answer.value.peers.count))
                    for peer in answer.value.peers {
                        guard let address = SocketAddress(ip: peer.ip, port: peer.port) else { continue }
                        if engine.candidates[address] == nil { engine.candidates[address] = Candidate() }
                    }
                    engine.connectMore()
                case .failure(let errors):
                    engine.nextAnnounce = monotonicSeconds() + 30
                    engine.lastTrackerError = errors.errors.last?.description
                    for error in errors.errors { engine.report(.trackerFailed(tracker: "", message: error.description)) }
                }
            }
        }
    }

    // MARK: - Connections

    private func connectMore() {
        guard outcome == nil, !picker.isComplete, !configuration.serveOnly else { return }
        let now = monotonicSeconds()
        let own = listener?.localAddress
        let ready = candidates.filter { address, candidate in
            !banned.contains(address) && candidate.attempts < 3 && candidate.nextTry <= now && !connecting.contains(address)
                && !peers.values.contains { $0.address == address } && address != own
        }.keys.shuffled()
        for address in ready {
            guard peers.count + connecting.count < configuration.maxPeers else { return }
            connecting.insert(address)
            candidates[address]!.attempts += 1
            StreamChannel.connect(loop: loop, to: address, timeout: configuration.connectTimeout) { [self] result in
                connecting.remove(address)
                switch result {
                case .success(let channel):
                    guard outcome == nil else { channel.close(); return }
                    candidates[address]?.attempts = 0
                    attach(channel, address: address, incoming: false)
                case .failure(let error):
                    let attempts = candidates[address]?.attempts ?? 1
                    candidates[address]?.nextTry = monotonicSeconds() + Double(1 << min(attempts, 6))
                    candidates[address]?.lastError = error.description
                }
            }
        }
    }

    private func acceptPeers() {
        guard let listener else { return }
        while let connection = try? listener.acceptNext() {
            guard outcome == nil, peers.count < configuration.maxPeers + 10, !banned.contains(connection.remote) else {
                connection.close()
                continue
            }
            attach(StreamChannel(loop: loop, connection: connection), address: connection.remote, incoming: true)
        }
    }

    private func attach(_ channel: StreamChannel, address: SocketAddress, incoming: Bool) {
        nextKey += 1
        let peer = PeerConnection(key: nextKey, address: address, channel: channel, incoming: incoming,
                                  pieceCount: layout.pieceCount, now: monotonicSeconds())
        peers[peer.key] = peer
        channel.onData = { [weak self, weak peer] bytes in
            guard let self, let peer else { return }
            self.received(bytes, from: peer)
        }
        channel.onClose = { [weak self, weak peer] error in
            guard let self, let peer else { return }
            self.drop(peer, reason: error?.description ?? "closed the connection", closeChannel: false)
        }
        channel.onDrained = { [weak self, weak peer] in
            guard let self, let peer else { return }
            self.serveUploads(peer)
        }
        channel.start()
        if !incoming { sendHandshake(peer) }
    }

    private func sendHandshake(_ peer: PeerConnection) {
        let reserved = ReservedBits([ReservedBits.extensionProtocol, ReservedBits.fast])
        let ours = Handshake(reserved: reserved, infoHash: configuration.torrent.infoHashes.wire, peerID: configuration.peerID)
        peer.channel.write(ours.encoded())
    }

    private func drop(_ peer: PeerConnection, reason: String, closeChannel: Bool = true) {
        guard peers.removeValue(forKey: peer.key) != nil else { return }
        if closeChannel { peer.channel.close() }
        picker.peerGone(peer.key)
        picker.peerLeft { peer.has[$0] }
        peer.inFlight.removeAll()
        if optimistic == peer.key { optimistic = nil }
        report(.peerDropped(address: peer.address, reason: reason))
        if outcome == nil {
            candidates[peer.address, default: Candidate()].nextTry = monotonicSeconds() + 5
            for other in peers.values { requestMore(other) }
        }
    }

    private func ban(_ peer: PeerConnection, reason: String) {
        banned.insert(peer.address)
        report(.peerBanned(address: peer.address, reason: reason))
        drop(peer, reason: "banned: \(reason)")
    }

    // MARK: - Wire

    private func received(_ bytes: ArraySlice<UInt8>, from peer: PeerConnection) {
        peer.decoder.append(bytes)
        do {
            while peers[peer.key] != nil {
                // Blocks go straight from the receive buffer into their piece.
                if peer.decoder.nextPieceBlock({ index, begin, block in
                    receivedBlock(piece: Int(index), begin: Int(begin), block, from: peer)
                }) { continue }
                guard let frame = try peer.decoder.next() else { break }
                switch frame {
                case .handshake(let handshake): try handle(handshake, from: peer)
                case .message(let message, _): try handle(message, from: peer)
                }
            }
        } catch let error as PeerWireError {
            drop(peer, reason: error.description)
            return
        } catch {
            drop(peer, reason: "\(error)")
            return
        }
        // One top-up per read, not per block: requests go out together in one write.
        if peers[peer.key] != nil { requestMore(peer) }
    }

    private func handle(_ handshake: Handshake, from peer: PeerConnection) throws {
        guard handshake.infoHash == configuration.torrent.infoHashes.wire else {
            drop(peer, reason: "wrong info hash \(handshake.infoHash.map { String(format: "%02x", $0) }.joined())")
            return
        }
        guard handshake.peerID != configuration.peerID else {
            // We reached ourselves (a tracker handed out our own address).
            candidates[peer.address]?.attempts = 99
            drop(peer, reason: "connected to ourselves")
            return
        }
        peer.handshake = handshake
        peer.fast = handshake.reserved.supportsFast
        peersSeen.insert(peer.address)
        if peer.incoming { sendHandshake(peer) }
        var out: [UInt8] = []
        if handshake.reserved.supportsExtensions {
            // We serve the info dictionary (BEP 9), so magnet links work against us.
            let ext = ExtensionHandshake(messages: ["ut_metadata": Self.metadataID], version: configuration.clientVersion,
                                         listenPort: listener.map { Int($0.localAddress.port) }, requestQueue: 500,
                                         metadataSize: configuration.torrent.infoBytes.count)
            ext.message.encode(into: &out)
        }
        if picker.haveCount == 0 && peer.fast {
            PeerMessage.haveNone.encode(into: &out)
        } else if picker.isComplete && peer.fast {
            PeerMessage.haveAll.encode(into: &out)
        } else if picker.haveCount > 0 {
            var field = Bitfield(pieceCount: layout.pieceCount)
            for piece in 0..<layout.pieceCount where picker.have[piece] { field.set(piece) }
            PeerMessage.bitfield(field.bytes).encode(into: &out)
        }
        peer.channel.write(out)
        peer.sentBitfield = true
        report(.peerConnected(address: peer.address, client: handshake.peerID.client, incoming: peer.incoming))
        // A free upload slot goes to a newcomer at once; the choker sorts it out every 10 s.
    }

    private func handle(_ message: PeerMessage, from peer: PeerConnection) throws {
        switch message {
        case .keepAlive: break
        case .choke:
            peer.peerChoking = true
            for block in peer.inFlight { picker.abandoned(block, by: peer.key) }
            peer.inFlight.removeAll()
        case .unchoke:
            peer.peerChoking = false
            requestMore(peer)
        case .interested:
            peer.peerInterested = true
            if peer.amChoking && unchokedCount < configuration.uploadSlots + 1 { unchoke(peer) }
        case .notInterested:
            peer.peerInterested = false
        case .have(let index):
            guard Int(index) < layout.pieceCount else { throw PeerWireError.pieceOutOfRange(message: "have", index: index, pieceCount: layout.pieceCount) }
            if !peer.has[Int(index)] {
                peer.has.set(Int(index))
                picker.peerHas(Int(index))
                if !peer.amInterested && !picker.have[Int(index)] && !configuration.serveOnly { setInterested(peer, true) }
                requestMore(peer)
            }
        case .bitfield(let bytes):
            let field = try Bitfield.decoding(bytes, pieceCount: layout.pieceCount)
            picker.peerLeft { peer.has[$0] }
            peer.has = field
            picker.peerHas { field[$0] }
            updateInterest(peer)
        case .haveAll:
            picker.peerLeft { peer.has[$0] }
            peer.has = Bitfield(pieceCount: layout.pieceCount, all: true)
            picker.peerHas { _ in true }
            updateInterest(peer)
        case .haveNone:
            picker.peerLeft { peer.has[$0] }
            peer.has = Bitfield(pieceCount: layout.pieceCount)
        case .request(let request):
            try queueUpload(request, for: peer)
        case .cancel(let request):
            peer.uploadQueue.removeAll { $0 == request }
        case .piece(let index, let begin, let block):
            block.withUnsafeBytes { receivedBlock(piece: Int(index), begin: Int(begin), $0, from: peer) }
        case .reject(let request):
            let block = PiecePicker.Block(piece: Int(request.index), begin: Int(request.begin), length: Int(request.length))
            if peer.inFlight.remove(block) != nil { picker.abandoned(block, by: peer.key) }
        case .extended(let id, let payload):
            if id == 0 {
                peer.extensions = try? ExtensionHandshake(decoding: payload)
            } else if id == UInt8(Self.metadataID) {
                try serveMetadata(payload, to: peer)
            }
        case .port, .suggest, .allowedFast:
            break
        }
    }

    /// Our id for `ut_metadata` messages peers send us.
    static let metadataID = 3

    /// Answers a BEP 9 request with a piece of the info dictionary (rejects need the peer's id too).
    private func serveMetadata(_ payload: [UInt8], to peer: PeerConnection) throws {
        guard case .request(let piece) = try MetadataMessage(decoding: payload),
              let theirID = peer.extensions?.messages["ut_metadata"], theirID > 0, theirID < 256 else { return }
        let info = configuration.torrent.infoBytes
        let start = piece * MetadataMessage.pieceSize
        let reply: MetadataMessage = start < info.count
            ? .data(piece: piece, totalSize: info.count, bytes: Array(info[start..<min(info.count, start + MetadataMessage.pieceSize)]))
            : .reject(piece: piece)
        peer.send(.extended(id: UInt8(theirID), payload: reply.encoded()))
    }

    private func updateInterest(_ peer: PeerConnection) {
        guard !configuration.serveOnly else { return }
        let wants = picker.wantsSomething { peer.has[$0] }
        if wants != peer.amInterested { setInterested(peer, wants) }
        if wants { requestMore(peer) }
    }

    private func setInterested(_ peer: PeerConnection, _ interested: Bool) {
        peer.amInterested = interested
        peer.send(interested ? .interested : .notInterested)
    }

    /// Keeps the peer's request pipeline full.
    private func requestMore(_ peer: PeerConnection) {
        guard outcome == nil, peer.handshake != nil, !peer.peerChoking, peer.amInterested else { return }
        // Back-pressure: while hashing and writing lag behind the network, stop asking.
        guard checksInFlight < maxChecksInFlight else { return }
        let room = peer.queueDepth - peer.inFlight.count
        guard room > 0 else { return }
        let blocks = picker.pick(for: peer.key, count: room, peerHas: { peer.has[$0] }, inFlight: peer.inFlight)
        guard !blocks.isEmpty else { return }
        var out: [UInt8] = []
        out.reserveCapacity(blocks.count * 17)
        for block in blocks {
            peer.inFlight.insert(block)
            PeerMessage.request(BlockRequest(index: UInt32(block.piece), begin: UInt32(block.begin), length: UInt32(block.length))).encode(into: &out)
        }
        peer.channel.write(out)
    }

    private func receivedBlock(piece: Int, begin: Int, _ bytes: UnsafeRawBufferPointer, from peer: PeerConnection) {
        let block = PiecePicker.Block(piece: piece, begin: begin, length: bytes.count)
        guard peer.inFlight.remove(block) != nil else {
            // Late answers to cancelled or abandoned requests are normal; count them as waste.
            wasted += Int64(bytes.count)
            return
        }
        peer.lastBlockAt = monotonicSeconds()
        peer.snubbed = false
        peer.downloadedBytes += Int64(bytes.count)
        peer.bytesThisTick += Int64(bytes.count)
        downloaded += Int64(bytes.count)
        let outcome = picker.received(block, from: peer.key)
        guard outcome.wanted else {
            wasted += Int64(bytes.count)
            return
        }
        let length = layout.length(of: layout.pieces.index(piece)!)
        if buffers[piece] == nil {
            if var spare = spareBuffers.popLast() {
                // Reused storage: every byte is overwritten by the piece's blocks before the check.
                if spare.count != length { spare = [UInt8](repeating: 0, count: length) }
                buffers[piece] = spare
            } else {
                buffers[piece] = [UInt8](repeating: 0, count: length)
            }
        }
        guard begin + bytes.count <= length else { return }  // the picker only hands out in-range blocks
        buffers[piece]!.withUnsafeMutableBytes { raw in
            raw.baseAddress!.advanced(by: begin).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        // Endgame: the others asked for this block too; tell them not to bother.
        for key in outcome.alsoRequestedFrom {
            guard let other = peers[key], other.inFlight.remove(block) != nil else { continue }
            other.send(.cancel(BlockRequest(index: UInt32(piece), begin: UInt32(begin), length: UInt32(bytes.count))))
        }
        if outcome.pieceComplete, let data = buffers.removeValue(forKey: piece) {
            check(piece, data, from: peer)
        }
    }

    /// Hash check and write on a worker; the result comes back to the loop.
    private func check(_ piece: Int, _ data: [UInt8], from peer: PeerConnection) {
        checksInFlight += 1
        let index = layout.pieces.index(piece)!
        let hashes = self.hashes!, store = self.store!
        let source = peer.name
        nonisolated(unsafe) let engine = self
        DispatchQueue.global().async {
            var failure: String?
            let good = hashes.matches(index, data)
            if good {
                do { try store.writePiece(index, data) } catch { failure = "\(error)" }
            }
            engine.mailbox.post {
                engine.checksInFlight -= 1
                if engine.spareBuffers.count < engine.maxChecksInFlight + 4 { engine.spareBuffers.append(data) }
                engine.checked(piece, good: good, writeFailure: failure, source: source)
                // Requests paused by back-pressure resume here.
                for peer in engine.peers.values { engine.requestMore(peer) }
            }
        }
    }

    private func checked(_ piece: Int, good: Bool, writeFailure: String?, source: String) {
        if let writeFailure {
            finish(.failure(.storage(writeFailure)))
            return
        }
        guard good else {
            hashFailures += 1
            wasted += Int64(layout.length(of: layout.pieces.index(piece)!))
            let contributors = picker.failed(piece)
            report(.pieceFailed(piece: piece, peers: contributors.compactMap { peers[$0]?.name }))
            for key in contributors {
                guard let peer = peers[key] else { continue }
                peer.hashFailures += 1
                if contributors.count == 1 || peer.hashFailures >= 2 {
                    ban(peer, reason: "sent data for piece \(piece) that failed its hash check")
                }
            }
            for peer in peers.values { requestMore(peer) }
            return
        }
        picker.verified(piece)
        unflushed.append(piece)
        report(.pieceVerified(piece: piece, peer: source))
        for peer in peers.values where peer.handshake != nil {
            peer.send(.have(piece: UInt32(piece)))
            if picker.isComplete && peer.amInterested { setInterested(peer, false) }
        }
        if picker.isComplete { completed() }
    }

    private func completed() {
        report(.completed(progress()))
        if !completedAnnounced {
            completedAnnounced = true
            announce(event: .completed)
        }
        // Seeds do not download: drop peers that are seeds too.
        for peer in peers.values where peer.has.isComplete { drop(peer, reason: "both complete") }
        if !configuration.seedAfterDownload { finish(.success(.complete)) }
    }

    // MARK: - Uploads and choking

    private var unchokedCount: Int { peers.values.filter { !$0.amChoking }.count }

    private func unchoke(_ peer: PeerConnection) {
        guard peer.amChoking else { return }
        peer.amChoking = false
        peer.send(.unchoke)
    }

    private func choke(_ peer: PeerConnection) {
        guard !peer.amChoking else { return }
        peer.amChoking = true
        peer.uploadQueue.removeAll()
        peer.send(.choke)
    }

    /// BEP 3 choking: the best `uploadSlots` interested peers by rate (what they give us while we
    /// download, what they take as we seed), plus one optimistic unchoke rotated every 30 s.
    private func rechoke() {
        let now = monotonicSeconds()
        let interested = peers.values.filter { $0.peerInterested && $0.handshake != nil }
        let seeding = picker.isComplete || configuration.serveOnly
        let ranked = interested.sorted { seeding ? $0.uploadRate > $1.uploadRate : $0.downloadRate > $1.downloadRate }
        var keep = Set(ranked.prefix(configuration.uploadSlots).map(\.key))
        if optimistic == nil || now - lastOptimisticRotation >= 30 {
            optimistic = ranked.dropFirst(configuration.uploadSlots).randomElement()?.key
            lastOptimisticRotation = now
        }
        if let optimistic { keep.insert(optimistic) }
        for peer in peers.values {
            if keep.contains(peer.key) { unchoke(peer) } else { choke(peer) }
        }
    }

    private func queueUpload(_ request: BlockRequest, for peer: PeerConnection) throws {
        let piece = Int(request.index)
        guard piece < layout.pieceCount, request.length > 0, request.length <= 128 * 1024,
              Int(request.begin) + Int(request.length) <= layout.length(of: layout.pieces.index(piece)!) else {
            throw PeerWireError.badRequest(index: request.index, begin: request.begin, length: request.length, reason: "out of range")
        }
        guard !peer.amChoking, picker.have[piece] else {
            if peer.fast { peer.send(.reject(request)) }
            return
        }
        guard peer.uploadQueue.count < 1000 else { return }
        peer.uploadQueue.append(request)
        serveUploads(peer)
    }

    /// Serves queued requests while the socket keeps up (at most ~1 MiB buffered per peer).
    private func serveUploads(_ peer: PeerConnection) {
        while !peer.uploadQueue.isEmpty && peer.channel.bufferedBytes < 1 << 20 && peers[peer.key] != nil {
            let request = peer.uploadQueue.removeFirst()
            let offset = layout.pieces.offset(of: layout.pieces.index(Int(request.index))!) + Int64(request.begin)
            var block = [UInt8](repeating: 0, count: Int(request.length))
            let ok = (try? block.withUnsafeMutableBytes { try store.read(offset: offset, into: $0) }) ?? false
            guard ok else { drop(peer, reason: "could not read piece \(request.index) to serve it"); return }
            peer.send(.piece(index: request.index, begin: request.begin, block: block))
            peer.uploadedBytes += Int64(block.count)
            peer.uploadedThisTick += Int64(block.count)
            uploaded += Int64(block.count)
        }
    }

    // MARK: - State

    /// Records the pieces already flushed, without flushing anything more.
    private func recordDurable() {
        guard !configuration.serveOnly else { return }
        let resume = ResumeState(infoHashHex: ResumeState.key(configuration.torrent.infoHashes), name: layout.name,
                                 torrentBytes: configuration.torrentBytes, verified: durable)
        do { _ = try resume.save(output: configuration.output) } catch { finish(.failure(.storage("\(error)"))) }
    }

    /// Flushes written pieces, then records them (never the other way round).
    private func saveState(force: Bool, synchronously: Bool) {
        guard !configuration.serveOnly, force || !unflushed.isEmpty else { return }
        guard !saveInFlight || synchronously else { return }
        let batch = unflushed
        unflushed.removeAll()
        var state = durable
        for piece in batch { state[piece] = true }
        let resume = ResumeState(infoHashHex: ResumeState.key(configuration.torrent.infoHashes), name: layout.name,
                                 torrentBytes: configuration.torrentBytes, verified: state)
        let store = self.store!, output = configuration.output
        let work: @Sendable () -> String? = {
            do {
                try store.flush()
                _ = try resume.save(output: output)
                return nil
            } catch {
                return "\(error)"
            }
        }
        if synchronously {
            let failure = ioQueue.sync(execute: work)
            if let failure { finish(.failure(.storage(failure))) } else { durable = state }
            return
        }
        saveInFlight = true
        nonisolated(unsafe) let engine = self
        ioQueue.async {
            let failure = work()
            engine.mailbox.post {
                engine.saveInFlight = false
                if let failure {
                    engine.finish(.failure(.storage(failure)))
                } else {
                    for piece in batch { engine.durable[piece] = true }
                }
            }
        }
    }

    private func finish(_ result: Result<SwarmSummary.Outcome, SwarmError>) {
        guard outcome == nil else { return }
        outcome = result
    }

    /// Closes every peer and saves what is verified; checks still running finish first.
    private func shutDown() {
        for peer in Array(peers.values) {
            peer.channel.close()
            peers[peer.key] = nil
        }
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
        if !trackerTiers.all.isEmpty, case .success(let result) = outcome!,
           result != .complete || configuration.seedAfterDownload {
            // Best effort, bounded: tell the tracker we left.
            var options = trackerClient.options
            options.timeout = 2
            let client = TrackerClient(options: options)
            var tiers = trackerTiers
            let request = AnnounceRequest(infoHash: configuration.torrent.infoHashes.wire, peerID: configuration.peerID.bytes,
                                          port: listener?.localAddress.port ?? 6881, uploaded: uploaded, downloaded: downloaded,
                                          left: max(0, layout.dataLength - bytesOf(picker.have)), event: .stopped)
            _ = tiers.first { url throws(TrackerError) in try client.announce(url, request) }
        }
    }

    private func progress() -> SwarmProgress {
        let now = monotonicSeconds()
        return SwarmProgress(piecesHave: picker.haveCount, pieceCount: layout.pieceCount, bytesHave: bytesOf(picker.have),
                             totalBytes: layout.dataLength, downloaded: downloaded, uploaded: uploaded,
                             downloadRate: peers.values.reduce(0) { $0 + $1.downloadRate },
                             uploadRate: peers.values.reduce(0) { $0 + $1.uploadRate },
                             peers: peers.values.filter { $0.handshake != nil }.count, seconds: now - started)
    }
}
