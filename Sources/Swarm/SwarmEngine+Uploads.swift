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

    /// Reads queued blocks off the loop while the stream keeps up (about 1 MiB buffered or being read
    /// per peer) and sends them from the loop: a slow disk never stalls other peers. Reads for one peer
    /// run in order on its own queue, several at once, so a peer that asks one block at a time is not
    /// held to one disk round trip per block; each comes back as a ready `piece` frame.
    func serveUploads(_ peer: PeerConnection) {
        guard peers[peer.key] != nil else { return }
        var budget = (1 << 20) - peer.stream.bufferedBytes - peer.bytesBeingRead
        guard budget > 0, !peer.uploadQueue.isEmpty else { return }
        var batch: [BlockInfo] = []
        while budget > 0, !peer.uploadQueue.isEmpty {
            let block = peer.uploadQueue.removeFirst()
            batch.append(block)
            budget -= block.length
        }
        let bytes = batch.reduce(0) { $0 + $1.length }
        peer.bytesBeingRead += bytes
        readsInFlight += 1
        let store = self.store!, lengths = self.lengths!, requested = batch
        loop.offload(on: peer.readQueue, { () -> [UploadBlock] in
            var blocks: [UploadBlock] = []
            for info in requested {
                guard let frame = Self.pieceFrame(info, lengths: lengths, store: store) else { break }
                blocks.append(UploadBlock(info: info, frame: frame))
            }
            return blocks
        }, then: { [self] blocks in
            readsInFlight -= 1
            peer.bytesBeingRead -= bytes
            sendUploads(blocks, failed: blocks.count < requested.count ? requested[blocks.count] : nil, to: peer)
        })
    }

    /// A whole `piece` message: the 13-byte header, then the block read straight behind it.
    static func pieceFrame(_ info: BlockInfo, lengths: Lengths, store: PieceStore) -> [UInt8]? {
        var frame = PeerMessage.pieceHeader(index: UInt32(info.piece.value), begin: UInt32(info.begin), blockLength: info.length)
        frame.append(contentsOf: repeatElement(0, count: info.length))
        let offset = lengths.offset(of: info.piece) + Int64(info.begin)
        let ok = (try? frame.withUnsafeMutableBytes { raw in
            try store.read(offset: offset, into: UnsafeMutableRawBufferPointer(rebasing: raw[13...]))
        }) ?? false
        return ok ? frame : nil
    }

    private func sendUploads(_ blocks: [UploadBlock], failed: BlockInfo?, to peer: PeerConnection) {
        guard peers[peer.key] != nil, outcome == nil else { return }
        peer.flush()  // what the session queued first goes first
        for block in blocks where !peer.session.amChoking && peer.stream.isOpen {
            peer.stream.write(block.frame)
            peer.uploadedBytes += Int64(block.info.length)
            peer.uploadedThisTick += Int64(block.info.length)
            uploaded += Int64(block.info.length)
        }
        if let failed {
            drop(peer, reason: "could not read piece \(failed.piece) to serve it")
            return
        }
        serveUploads(peer)
    }
}

/// A block read for a peer, on its way back to the loop.
struct UploadBlock: Sendable {
    let info: BlockInfo
    /// The framed `piece` message.
    let frame: [UInt8]
}
