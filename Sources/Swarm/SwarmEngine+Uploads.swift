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
        let candidates = peers.values.filter(\.handshakeDone).map { peer in
            Choker.Peer(key: peer.key, downloadRate: peer.downloadRate, uploadRate: peer.uploadRate,
                        interested: peer.session.peerInterested, snubbed: peer.snubbed, unchoked: !peer.session.amChoking,
                        connectedAt: peer.connectedAt)
        }
        let decision = choker.decide(peers: candidates, seeding: picker.isComplete || configuration.serveOnly, now: now,
                                     current: optimistic, using: &random)
        optimistic = decision.optimistic
        let keep = decision.unchoked
        for peer in peers.values {
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
        peer.uploadQueue.append(block)
        serveUploads(peer)
    }

    /// Reads queued blocks on a worker while the stream keeps up (about 1 MiB buffered per peer) and
    /// sends them from the loop: a slow disk never stalls other peers.
    func serveUploads(_ peer: PeerConnection) {
        guard !peer.readInFlight, peers[peer.key] != nil, !peer.uploadQueue.isEmpty else { return }
        var budget = (1 << 20) - peer.stream.bufferedBytes
        var batch: [BlockInfo] = []
        while budget > 0, !peer.uploadQueue.isEmpty {
            let block = peer.uploadQueue.removeFirst()
            batch.append(block)
            budget -= block.length
        }
        guard !batch.isEmpty else { return }
        peer.readInFlight = true
        readsInFlight += 1
        let store = self.store!, lengths = self.lengths!, requested = batch
        loop.offload({ () -> [UploadBlock] in
            var blocks: [UploadBlock] = []
            for info in requested {
                var bytes = [UInt8](repeating: 0, count: info.length)
                let offset = lengths.offset(of: info.piece) + Int64(info.begin)
                let ok = (try? bytes.withUnsafeMutableBytes { try store.read(offset: offset, into: $0) }) ?? false
                guard ok else { break }
                blocks.append(UploadBlock(info: info, bytes: bytes))
            }
            return blocks
        }, then: { [self] blocks in
            readsInFlight -= 1
            peer.readInFlight = false
            sendUploads(blocks, failed: blocks.count < requested.count ? requested[blocks.count] : nil, to: peer)
        })
    }

    private func sendUploads(_ blocks: [UploadBlock], failed: BlockInfo?, to peer: PeerConnection) {
        guard peers[peer.key] != nil, outcome == nil else { return }
        for block in blocks where !peer.session.amChoking {
            let info = block.info, bytes = block.bytes
            peer.session.send(.piece(index: UInt32(info.piece.value), begin: UInt32(info.begin), block: bytes))
            peer.uploadedBytes += Int64(bytes.count)
            peer.uploadedThisTick += Int64(bytes.count)
            uploaded += Int64(bytes.count)
        }
        peer.flush()
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
    let bytes: [UInt8]
}
