import Dispatch
import Metainfo
import PeerWire
import Storage

// MARK: - Piece assembly: requests out, blocks in, hash check and write off the loop

extension SwarmEngine {
    /// Keeps the peer's request pipeline full.
    func requestMore(_ peer: PeerConnection) {
        guard outcome == nil, peer.handshakeDone, !peer.session.peerChoking, peer.session.amInterested else { return }
        // Back-pressure: while hashing and writing lag behind the network, stop asking.
        guard checksInFlight < maxChecksInFlight else { return }
        let room = peer.pipeline.depth - peer.inFlight.count
        // Top up in batches (an eighth of the depth), not a request or two after every read: over uTP
        // each write is a datagram the peer must wake for, and the pipeline stays nearly as full.
        guard room > 0, room >= peer.pipeline.depth / 8 || peer.inFlight.isEmpty else { return }
        let has = peer.has
        let blocks = picker.pick(for: peer.key, count: room, peerHas: { has[$0] }, inFlight: [])
        guard !blocks.isEmpty else { return }
        let sentAt = now
        for block in blocks {
            peer.inFlight[block] = sentAt
            peer.session.send(.request(BlockRequest(index: UInt32(block.piece), begin: UInt32(block.begin), length: UInt32(block.length))))
        }
        peer.flush()
    }

    /// A `piece` message's block, straight from the receive buffer. Must not touch `peer.session`.
    func receivedBlock(index: UInt32, begin: UInt32, _ bytes: UnsafeRawBufferPointer, from peer: PeerConnection) {
        guard let info = lengths.receivedBlock(index: index, begin: begin, length: bytes.count) else {
            // Not a block of ours (wrong offset or length): waste, as a late answer is.
            wasted += Int64(bytes.count)
            return
        }
        let piece = info.piece.value
        let block = PiecePicker.Block(piece: piece, begin: info.begin, length: info.length)
        // The peer's rate counts every block of ours it sent: an endgame copy that lost the race
        // still shows what the peer can give (the choker ranks by it).
        peer.downloadedBytes += Int64(bytes.count)
        peer.bytesThisTick += Int64(bytes.count)
        guard let sentAt = peer.inFlight.removeValue(forKey: block) else {
            // Late answers to cancelled or abandoned requests are normal; count them as waste.
            wasted += Int64(bytes.count)
            return
        }
        let arrived = now
        peer.pipeline.blockArrived(after: arrived - sentAt)
        peer.lastBlockAt = arrived
        peer.snubbed = false
        downloaded += Int64(bytes.count)
        let outcome = picker.received(block, from: peer.key)
        guard outcome.wanted else {
            wasted += Int64(bytes.count)
            return
        }
        let length = lengths.length(of: info.piece)
        // Every byte of the buffer (new or reused) is overwritten by the piece's blocks before the check.
        let buffer = buffers[piece] ?? newPieceBuffer(length)
        buffers[piece] = buffer
        if let source = bytes.baseAddress {
            buffer.bytes.baseAddress!.advanced(by: info.begin).copyMemory(from: source, byteCount: info.length)
        }
        // Endgame: the others asked for this block too; tell them not to bother.
        for key in outcome.alsoRequestedFrom where key != peer.key {
            guard let other = peers[key], other.inFlight.removeValue(forKey: block) != nil else { continue }
            other.send(.cancel(info.request))
        }
        if outcome.pieceComplete, let data = buffers.removeValue(forKey: piece) {
            check(info.piece, data, source: peer.name)
        }
    }

    /// A spare buffer of that length, or a new one.
    func newPieceBuffer(_ length: Int) -> PieceBuffer {
        if let spare = spareBuffers.popLast(), spare.count == length { return spare }
        return PieceBuffer(count: length)
    }

    /// Hash check and write on a worker; the result comes back to the loop.
    func check(_ piece: PieceIndex, _ data: PieceBuffer, source: String) {
        checksInFlight += 1
        pendingChecks.append(PendingCheck(piece: piece, data: data, source: source))
        startCheckJobs()
        // Requests already sent keep coming after `requestMore` stops asking (up to 2 MiB a peer):
        // while the checks lag, they wait in the kernel's socket buffers rather than in ours.
        if checksInFlight >= maxChecksInFlight && !readsPausedForChecks {
            readsPausedForChecks = true
            for peer in peers.values { peer.stream.pausedReading = true }
        }
    }

    /// Reading resumes as soon as the checks have room again.
    private func resumeReadsIfChecksCaughtUp() {
        guard readsPausedForChecks, checksInFlight < maxChecksInFlight else { return }
        readsPausedForChecks = false
        for peer in peers.values { peer.stream.pausedReading = false }
    }

    /// Hands waiting pieces to workers, up to `checkBatchBytes` per job: with small pieces one job
    /// per piece cost a thread hop (and a wake-up of the loop) per 16 KiB.
    private func startCheckJobs() {
        while checkJobs < checkWorkers, !pendingChecks.isEmpty {
            var count = 0, bytes = 0
            while count < pendingChecks.count, count == 0 || bytes + pendingChecks[count].data.count <= Self.checkBatchBytes {
                bytes += pendingChecks[count].data.count
                count += 1
            }
            let batch = Array(pendingChecks.prefix(count))
            pendingChecks.removeFirst(count)
            checkJobs += 1
            let hashes = self.hashes!, store = self.store!
            loop.offload({ () -> [CheckResult] in
                batch.map { item in
                    guard hashes.matches(item.piece, item.data.readOnly) else { return CheckResult(item, good: false, failure: nil) }
                    do { try store.writePiece(item.piece, item.data) } catch { return CheckResult(item, good: true, failure: "\(error)") }
                    return CheckResult(item, good: true, failure: nil)
                }
            }, then: { [self] results in
                checkJobs -= 1
                for result in results {
                    checksInFlight -= 1
                    if spareBuffers.count < spareBufferLimit { spareBuffers.append(result.item.data) }
                    checked(result.item.piece, good: result.good, writeFailure: result.failure, source: result.item.source)
                }
                startCheckJobs()
                resumeReadsIfChecksCaughtUp()
                // Requests paused by back-pressure resume here.
                for peer in orderedPeers { requestMore(peer) }
                feedWebSeeds()
            })
        }
    }

    /// Most piece bytes one check job takes (many small pieces, or one large one).
    static let checkBatchBytes = 1 << 20
    /// Piece bytes waiting for or in the hash check before we stop asking for blocks.
    static let checkBytesInFlight = 4 << 20
    /// Checked pieces' buffers kept for the next pieces; the rest are freed — to the system at once,
    /// see `returnLargeBuffersToTheSystem`. Enough for the pieces in the hash check and those being
    /// assembled: a fresh buffer costs a page fault and a cleared page per 4 KiB (a fifth of the
    /// main thread's time in a fast download). Peak memory stays the same: a buffer goes back only
    /// when one is freed, so buffers held plus buffers in use never exceed the most ever in use.
    static let spareBytes = 8 << 20

    private func checked(_ index: PieceIndex, good: Bool, writeFailure: String?, source: String) {
        if let writeFailure {
            finish(.failure(.storage(writeFailure)))
            return
        }
        let piece = index.value
        guard good else {
            hashFailures += 1
            wasted += Int64(lengths.length(of: index))
            let contributors = picker.failed(piece)
            report(.pieceFailed(piece: piece, peers: contributors.compactMap { peers[$0]?.name }))
            for key in contributors {
                guard let peer = peers[key] else { continue }
                peer.hashFailures += 1
                if contributors.count == 1 || peer.hashFailures >= 2 {
                    ban(peer, reason: "sent data for piece \(piece) that failed its hash check")
                }
            }
            for peer in orderedPeers { requestMore(peer) }
            return
        }
        picker.verified(piece)
        unflushed.append(piece)
        report(.pieceVerified(piece: piece, peer: source))
        for peer in orderedPeers where peer.handshakeDone {
            peer.send(.have(piece: UInt32(piece)))
            if picker.isComplete && peer.session.amInterested { setInterested(peer, false) }
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
        for peer in orderedPeers where peer.has.isComplete { drop(peer, reason: "both complete", redial: false) }
        if !configuration.seedAfterDownload { finish(.success(.complete)) }
    }
}

/// A whole piece waiting for its hash check and write.
struct PendingCheck: Sendable {
    let piece: PieceIndex
    let data: PieceBuffer
    let source: String
}

/// What a check job found for one piece: the hash verdict, and why the write failed if it did.
struct CheckResult: Sendable {
    let item: PendingCheck
    let good: Bool
    let failure: String?
    init(_ item: PendingCheck, good: Bool, failure: String?) {
        self.item = item
        self.good = good
        self.failure = failure
    }
}
