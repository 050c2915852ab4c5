import Dispatch
import Metainfo
import PeerWire
import Storage

// MARK: - Uploads (disk reads off the loop) and choking

extension SwarmEngine {
    var unchokedCount: Int { peers.values.filter { !$0.session.amChoking }.count }

    func unchoke(_ peer: PeerConnection) {
        guard peer.session.amChoking else { return }
        peer.send(.unchoke)
    }

    func choke(_ peer: PeerConnection) {
        guard !peer.session.amChoking else { return }
        peer.uploadQueue.removeAll()
        peer.send(.choke)
    }

    /// BEP 3 choking, decided by the pure `Choker`: the best `uploadSlots` interested peers by rate
    /// (what they give us while we download, what they take as we seed) plus one optimistic unchoke
    /// kept 30 s. Runs every 10 s and when a peer becomes interested.
    func rechoke() {
        let candidates = orderedPeers.filter(\.handshakeDone).map { peer in
            Choker.Peer(key: peer.key, downloadRate: peer.downloadRate, uploadRate: peer.uploadRate,
                        interested: peer.session.peerInterested, snubbed: peer.snubbed, unchoked: !peer.session.amChoking,
                        connectedAt: peer.connectedAt)
        }
        let decision = choker.decide(peers: candidates, seeding: picker.isComplete || configuration.serveOnly, now: now,
                                     current: optimistic, using: &random)
        optimistic = decision.optimistic
        let keep = decision.unchoked
        for peer in orderedPeers {
            if keep.contains(peer.key) { unchoke(peer) } else { choke(peer) }
        }
    }

    /// Snubbed: asked for blocks and got nothing for too long; its blocks go to others, and after
    /// twice as long it is dropped.
    func checkSnub(_ peer: PeerConnection, now: Double) {
        guard !peer.inFlight.isEmpty, now - peer.lastBlockAt > configuration.snubTimeout else { return }
        if peer.snubbed && now - peer.lastBlockAt > configuration.snubTimeout * 2 {
            drop(peer, reason: "sent nothing for \(Int(now - peer.lastBlockAt)) s")
            return
        }
        if !peer.snubbed {
            peer.snubbed = true
            // One request at a time from now on, not a full pipeline again before the next tick.
            peer.pipeline.resize(rate: 0, peerQueue: nil, snubbed: true)
            abandonAll(peer)
        }
    }

    /// A request the session has checked against the torrent.
    func queueUpload(_ request: BlockRequest, for peer: PeerConnection) {
        guard let block = try? lengths.validate(request) else { return }
        guard !peer.session.amChoking, picker.have[block.piece.value] else {
            if peer.session.fast { peer.send(.reject(request)) }
            return
        }
        guard peer.uploadQueue.count < 1000 else { return }
        // Served once the whole read is decoded (`received`), so requests that came together are read together.
        peer.uploadQueue.append(block)
    }

    /// Sends queued blocks while the stream keeps up (about 1 MiB buffered per peer), in the order
    /// asked. Blocks come from spans of pieces (up to 256 KiB) held in `uploadCache`; spans not held
    /// are read off the loop (so a slow disk never stalls other peers) and the peers waiting for them
    /// go on when they are in.
    func serveUploads(_ peer: PeerConnection) {
        guard peers[peer.key] != nil, outcome == nil, !peer.session.amChoking else { return }
        // Each block goes out as its header and a slice of the cached span: no copy on our side.
        var chunks: [ArraySlice<UInt8>] = []
        var queuedBytes = 0
        var served = 0
        while served < peer.uploadQueue.count, peer.stream.bufferedBytes + queuedBytes < 1 << 20 {
            let block = peer.uploadQueue[served]
            let span = uploadSpan(of: block)
            let bytes: ArraySlice<UInt8>
            if block.begin + block.length > span.begin + span.length {
                // A block across two spans (no client we know asks so): read on the loop, as it is.
                guard let read = readStraddling(block) else { drop(peer, reason: "could not read \(block) to serve it"); return }
                bytes = read[...]
            } else if let held = uploadCache.bytes(of: span.key) {
                bytes = held[(block.begin - span.begin)..<(block.begin - span.begin + block.length)]
                // Entering a span: read the next one of the piece now, so it is in before it is asked for.
                if block.begin == span.begin, let next = span.next(pieceLength: lengths.length(of: block.piece)) { readForUpload([next]) }
            } else {
                readForUpload(spansWaited(by: peer.uploadQueue[served...]))
                // In the page cache it was read at once, and this block goes out now.
                guard let held = uploadCache.bytes(of: span.key) else { break }
                bytes = held[(block.begin - span.begin)..<(block.begin - span.begin + block.length)]
            }
            served += 1
            chunks.append(PeerMessage.pieceHeader(index: UInt32(block.piece.value), begin: UInt32(block.begin), blockLength: block.length)[...])
            chunks.append(bytes)
            queuedBytes += 13 + block.length
            peer.uploadedBytes += Int64(block.length)
            peer.uploadedThisTick += Int64(block.length)
            uploaded += Int64(block.length)
        }
        // One shift of the queue per call, not one per block.
        peer.uploadQueue.removeFirst(served)
        guard !chunks.isEmpty else { return }
        peer.flush()  // what the session queued first goes first
        peer.stream.write(chunks: chunks)
    }

    /// The part of a piece read for uploading at once: 256 KiB (a whole piece when smaller), so a
    /// peer asking for a 4 MiB piece gets its first blocks after a 256 KiB read, not a 4 MiB one.
    struct UploadSpan: Hashable {
        let key: Int
        let piece: PieceIndex
        /// Offset in the piece.
        let begin: Int
        let length: Int

        /// The span after this one in the same piece, if any.
        func next(pieceLength: Int) -> UploadSpan? {
            let begin = self.begin + length
            guard begin < pieceLength else { return nil }
            return UploadSpan(key: key + 1, piece: piece, begin: begin, length: min(length, pieceLength - begin))
        }
    }

    static let uploadSpanLength = 256 << 10

    func uploadSpan(of block: BlockInfo) -> UploadSpan {
        let pieceLength = lengths.length(of: block.piece)
        let spanLength = min(Self.uploadSpanLength, layout.pieces.pieceLength)
        let spansPerPiece = (layout.pieces.pieceLength + spanLength - 1) / spanLength
        let index = block.begin / spanLength
        let begin = index * spanLength
        return UploadSpan(key: block.piece.value * spansPerPiece + index, piece: block.piece, begin: begin,
                          length: min(spanLength, pieceLength - begin))
    }

    private func readStraddling(_ block: BlockInfo) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: block.length)
        let offset = lengths.offset(of: block.piece) + Int64(block.begin)
        let store: PieceStore = self.store
        let complete = bytes.withUnsafeMutableBytes { raw in (try? store.read(offset: offset, into: raw)) ?? false }
        return complete ? bytes : nil
    }

    /// The spans `queue` waits for, the first one and those after it, up to `uploadReadBatch` bytes.
    private func spansWaited(by queue: ArraySlice<BlockInfo>) -> [UploadSpan] {
        var spans: [UploadSpan] = []
        var seen: Set<Int> = []
        var bytes = 0
        for block in queue where bytes < uploadReadBatch {
            let span = uploadSpan(of: block)
            guard seen.insert(span.key).inserted else { continue }
            spans.append(span)
            bytes += span.length
        }
        return spans
    }

    /// Reads the spans the cache neither holds nor is reading: at once those in the page cache, the
    /// others in one job off the loop, which then serves every peer waiting. A thread hop per span
    /// cost more than the read itself when the data is cached (as a seeder's usually is); one job per
    /// piece cost a hop per request with small pieces (16 KiB pieces: one per block).
    private func readForUpload(_ wanted: [UploadSpan]) {
        var spans: [UploadSpan] = []
        var buffers: [[UInt8]] = []
        for span in wanted where uploadCache.beginRead(span.key) {
            var buffer = uploadCache.buffer(length: span.length)
            let offset = lengths.offset(of: span.piece) + Int64(span.begin)
            let store: PieceStore = self.store
            if buffer.withUnsafeMutableBytes({ store.readIfCached(offset: offset, into: $0) }) {
                uploadCache.endRead(span.key, bytes: buffer)
            } else {
                spans.append(span)
                buffers.append(buffer)
            }
        }
        guard !spans.isEmpty else { return }
        readsInFlight += 1
        let store = self.store!, lengths: Lengths = self.lengths, batch = spans
        let box = ReadBuffers(buffers)
        buffers = []  // the box holds the only reference, so reading into it copies nothing
        loop.offload({ () -> [[UInt8]?] in
            batch.indices.map { at in
                let offset = lengths.offset(of: batch[at].piece) + Int64(batch[at].begin)
                let complete = box.storage[at].withUnsafeMutableBytes { raw in (try? store.read(offset: offset, into: raw)) ?? false }
                return complete ? box.storage[at] : nil
            }
        }, then: { [self] results in
            readsInFlight -= 1
            var failed: Set<Int> = []
            for (span, bytes) in zip(batch, results) {
                uploadCache.endRead(span.key, bytes: bytes)
                if bytes == nil { failed.insert(span.key) }
            }
            let read = Set(batch.map(\.key))
            for peer in orderedPeers {
                guard let waiting = peer.uploadQueue.first.map({ uploadSpan(of: $0).key }), read.contains(waiting) else { continue }
                if failed.contains(waiting) {
                    drop(peer, reason: "could not read piece \(peer.uploadQueue.first!.piece) to serve it")
                } else {
                    serveUploads(peer)
                }
            }
        })
    }

    /// Most bytes one upload read job fetches: a few spans, or many small pieces.
    private var uploadReadBatch: Int { min(4 << 20, uploadCache.capacity / 4) }
}

/// Piece buffers handed to one upload read job and back: only that job touches them while it runs.
private final class ReadBuffers: @unchecked Sendable {
    var storage: [[UInt8]]
    init(_ storage: [[UInt8]]) { self.storage = storage }
}
