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
    /// asked. Blocks come from whole pieces held in `uploadCache`; a piece not held is read off the
    /// loop (so a slow disk never stalls other peers) and the peers waiting for it go on when it is in.
    func serveUploads(_ peer: PeerConnection) {
        guard peers[peer.key] != nil, outcome == nil, !peer.session.amChoking else { return }
        var out: [UInt8] = []
        while let block = peer.uploadQueue.first, peer.stream.bufferedBytes + out.count < 1 << 20 {
            guard let piece = uploadCache.bytes(of: block.piece.value) else {
                readForUpload(block.piece)
                break
            }
            peer.uploadQueue.removeFirst()
            out += PeerMessage.pieceHeader(index: UInt32(block.piece.value), begin: UInt32(block.begin), blockLength: block.length)
            out += piece[block.begin..<block.begin + block.length]
            peer.uploadedBytes += Int64(block.length)
            peer.uploadedThisTick += Int64(block.length)
            uploaded += Int64(block.length)
        }
        guard !out.isEmpty else { return }
        peer.flush()  // what the session queued first goes first
        peer.stream.write(out)
    }

    /// Reads a whole piece off the loop into the upload cache, then serves every peer waiting.
    private func readForUpload(_ piece: PieceIndex) {
        guard uploadCache.beginRead(piece.value) else { return }
        readsInFlight += 1
        let store = self.store!
        loop.offload({ () -> [UInt8]? in
            (try? store.readPiece(piece)) ?? nil
        }, then: { [self] bytes in
            readsInFlight -= 1
            uploadCache.endRead(piece.value, bytes: bytes)
            for peer in orderedPeers where peer.uploadQueue.first?.piece == piece {
                if bytes == nil { drop(peer, reason: "could not read piece \(piece) to serve it") } else { serveUploads(peer) }
            }
        })
    }
}
