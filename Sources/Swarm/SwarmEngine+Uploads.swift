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

    /// BEP 3 choking: the best `uploadSlots` interested peers by rate (what they give us while we
    /// download, what they take as we seed), plus one optimistic unchoke rotated every 30 s.
    func rechoke() {
        let now = self.now
        let interested = peers.values.filter { $0.session.peerInterested && $0.handshakeDone }.sorted { $0.key < $1.key }
        let seeding = picker.isComplete || configuration.serveOnly
        let ranked = interested.sorted { seeding ? $0.uploadRate > $1.uploadRate : $0.downloadRate > $1.downloadRate }
        var keep = Set(ranked.prefix(configuration.uploadSlots).map(\.key))
        if optimistic == nil || now - lastOptimisticRotation >= 30 {
            optimistic = ranked.dropFirst(configuration.uploadSlots).randomElement(using: &random)?.key
            lastOptimisticRotation = now
        }
        if let optimistic { keep.insert(optimistic) }
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
        nonisolated(unsafe) let engine = self
        nonisolated(unsafe) let peer = peer
        DispatchQueue.global().async {
            var blocks: [(BlockInfo, [UInt8])] = []
            for info in requested {
                var bytes = [UInt8](repeating: 0, count: info.length)
                let offset = lengths.offset(of: info.piece) + Int64(info.begin)
                let ok = (try? bytes.withUnsafeMutableBytes { try store.read(offset: offset, into: $0) }) ?? false
                guard ok else { break }
                blocks.append((info, bytes))
            }
            engine.mailbox?.post {
                engine.readsInFlight -= 1
                peer.readInFlight = false
                engine.sendUploads(blocks, failed: blocks.count < requested.count ? requested[blocks.count] : nil, to: peer)
            }
        }
    }

    private func sendUploads(_ blocks: [(BlockInfo, [UInt8])], failed: BlockInfo?, to peer: PeerConnection) {
        guard peers[peer.key] != nil, outcome == nil else { return }
        for (info, bytes) in blocks where !peer.session.amChoking {
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
