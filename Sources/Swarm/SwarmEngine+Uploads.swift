import Dispatch
import Metainfo
import PeerWire

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
    /// asked. Blocks come from whole pieces held in `uploadCache`; pieces not held are read off the
    /// loop (so a slow disk never stalls other peers) and the peers waiting for them go on when they are in.
    func serveUploads(_ peer: PeerConnection) {
        guard peers[peer.key] != nil, outcome == nil, !peer.session.amChoking else { return }
        // Each block goes out as its header and a slice of the cached piece: no copy on our side.
        var chunks: [ArraySlice<UInt8>] = []
        var queuedBytes = 0
        var served = 0
        while served < peer.uploadQueue.count, peer.stream.bufferedBytes + queuedBytes < 1 << 20 {
            let block = peer.uploadQueue[served]
            guard let piece = uploadCache.bytes(of: block.piece.value) else {
                readForUpload(from: peer.uploadQueue[served...])
                break
            }
            served += 1
            chunks.append(PeerMessage.pieceHeader(index: UInt32(block.piece.value), begin: UInt32(block.begin), blockLength: block.length)[...])
            chunks.append(piece[block.begin..<block.begin + block.length])
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

    /// Reads the pieces `queue` waits for and the cache does not hold — the first one and those
    /// after it, up to `uploadReadBatch` bytes — in one job off the loop, then serves every peer
    /// waiting. One job per piece cost a thread hop per request with small pieces (16 KiB pieces:
    /// one per block), most of a seeder's CPU.
    private func readForUpload(from queue: ArraySlice<BlockInfo>) {
        var batch: [(piece: PieceIndex, buffer: [UInt8])] = []
        var bytes = 0
        for block in queue where bytes < uploadReadBatch {
            guard uploadCache.beginRead(block.piece.value) else { continue }  // held, or being read
            let length = lengths.length(of: block.piece)
            batch.append((block.piece, uploadCache.buffer(length: length)))
            bytes += length
        }
        guard !batch.isEmpty else { return }
        readsInFlight += 1
        let store = self.store!, pieces = batch.map(\.piece)
        let buffers = ReadBuffers(batch.map(\.buffer))
        batch = []  // the box holds the only reference, so reading into it copies nothing
        loop.offload({ () -> [(PieceIndex, [UInt8]?)] in
            pieces.indices.map { at in
                let complete = buffers.storage[at].withUnsafeMutableBytes { raw in (try? store.read(pieces[at], into: raw)) ?? false }
                return (pieces[at], complete ? buffers.storage[at] : nil)
            }
        }, then: { [self] results in
            readsInFlight -= 1
            var failed: Set<PieceIndex> = []
            for (piece, bytes) in results {
                uploadCache.endRead(piece.value, bytes: bytes)
                if bytes == nil { failed.insert(piece) }
            }
            let read = Set(pieces)
            for peer in orderedPeers {
                guard let waiting = peer.uploadQueue.first?.piece, read.contains(waiting) else { continue }
                if failed.contains(waiting) { drop(peer, reason: "could not read piece \(waiting) to serve it") } else { serveUploads(peer) }
            }
        })
    }

    /// Most bytes one upload read job fetches: a few large pieces, or many small ones.
    private var uploadReadBatch: Int { min(4 << 20, uploadCache.capacity / 4) }
}

/// Piece buffers handed to one upload read job and back: only that job touches them while it runs.
private final class ReadBuffers: @unchecked Sendable {
    var storage: [[UInt8]]
    init(_ storage: [[UInt8]]) { self.storage = storage }
}
