import Metainfo
import Net
import PeerWire

// MARK: - Wire: what a peer's session reports, applied to the swarm

extension SwarmEngine {
    func received(_ bytes: ArraySlice<UInt8>, from peer: PeerConnection) {
        peer.session.append(bytes)
        do {
            while peers[peer.key] != nil {
                // Blocks go straight from the receive buffer into their piece.
                let event = try peer.session.next { index, begin, block in
                    receivedBlock(index: index, begin: begin, block, from: peer)
                }
                guard let event else { break }
                handle(event, from: peer)
            }
        } catch {
            drop(peer, reason: error.description)
            return
        }
        guard peers[peer.key] != nil else { return }
        // One top-up per read, not per block: requests go out together in one write.
        requestMore(peer)
        peer.flush()
        serveUploads(peer)
    }

    private func handle(_ event: PeerSession.Event, from peer: PeerConnection) {
        switch event {
        case .handshake(let handshake): handshaken(handshake, peer)
        case .extensionHandshake:
            announceToComponents(peer)
            // A bigger `reqq` lets the pipeline grow at once.
            peer.pipeline.resize(rate: peer.downloadRate, peerQueue: peer.session.peerRequestQueue, snubbed: peer.snubbed)
        case .message(let message): handle(message, from: peer)
        case .metadata: break  // we have the info dictionary; the session answers requests
        case .extensionMessage(let name, let payload):
            let snapshot = peer.snapshot()
            for component in components where component.extensionNames.contains(name) {
                component.received(extension: name, payload: payload, from: snapshot)
            }
        }
    }

    private func handshaken(_ handshake: Handshake, _ peer: PeerConnection) {
        guard handshake.peerID != configuration.peerID else {
            // We reached ourselves (a tracker handed out our own address): never again.
            if !peer.incoming { roster.markOurs(peer.address) }
            drop(peer, reason: "connected to ourselves")
            return
        }
        if !peer.incoming { roster.handshaken(peer.address) }
        peersSeen.insert(peer.address)
        var have = Bitfield(pieceCount: layout.pieceCount)
        for piece in 0..<layout.pieceCount where picker.have[piece] { have.set(piece) }
        peer.session.sendAvailability(have)
        if peer.session.configuration.reserved.contains(ReservedBits.dht), handshake.reserved.contains(ReservedBits.dht),
           let port = datagramPort?.localAddress?.port {
            peer.session.send(.port(port))  // BEP 5: where our DHT node answers
        }
        report(.peerConnected(address: peer.address, client: handshake.peerID.client, incoming: peer.incoming, tag: tag(peer)))
        if !peer.session.extensionsEnabled { announceToComponents(peer) }
    }

    private func handle(_ message: PeerMessage, from peer: PeerConnection) {
        switch message {
        case .choke:
            // Requests are void (BEP 3); fast peers may still answer some, counted as waste then.
            abandonAll(peer)
        case .unchoke:
            requestMore(peer)
        case .interested:
            if peer.session.amChoking { rechoke() }
        case .have(let index):
            let piece = Int(index)  // checked by the session
            if !peer.has[piece] {
                peer.has.set(piece)
                picker.peerHas(piece)
                if !peer.session.amInterested && !picker.have[piece] && !configuration.serveOnly { setInterested(peer, true) }
            }
        case .bitfield, .haveAll, .haveNone:
            picker.peerLeft { peer.has[$0] }
            peer.has = peer.session.peerHas ?? Bitfield(pieceCount: layout.pieceCount)
            let has = peer.has
            picker.peerHas { has[$0] }
            // Two seeds have nothing to trade: free the slot (a seed dials the peers it learns of).
            if has.isComplete && (picker.isComplete || configuration.serveOnly) && picker.haveCount > 0 {
                drop(peer, reason: "both complete", redial: false)
                return
            }
            updateInterest(peer)
        case .request(let request):
            queueUpload(request, for: peer)
        case .cancel(let request):
            peer.uploadQueue.removeAll { $0.request == request }
        case .reject(let request):
            let block = PiecePicker.Block(piece: Int(request.index), begin: Int(request.begin), length: Int(request.length))
            if peer.inFlight.removeValue(forKey: block) != nil { picker.abandoned(block, by: peer.key) }
        case .port(let port):
            let snapshot = peer.snapshot()
            for component in components { component.peer(snapshot, announcedDHTPort: port) }
        case .keepAlive, .notInterested, .piece, .suggest, .allowedFast, .extended:
            break
        }
        if case .have = message { requestMore(peer) }
    }

    func abandonAll(_ peer: PeerConnection) {
        for block in peer.inFlight.keys { picker.abandoned(block, by: peer.key) }
        peer.inFlight.removeAll()
    }

    func updateInterest(_ peer: PeerConnection) {
        guard !configuration.serveOnly else { return }
        let has = peer.has
        let wants = picker.wantsSomething { has[$0] }
        if wants != peer.session.amInterested { setInterested(peer, wants) }
        if wants { requestMore(peer) }
    }

    func setInterested(_ peer: PeerConnection, _ interested: Bool) {
        peer.send(interested ? .interested : .notInterested)
    }
}
