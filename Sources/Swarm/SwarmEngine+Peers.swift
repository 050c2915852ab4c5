import Metainfo
import Net
import PeerWire

// MARK: - Connections: dialling, attaching streams, dropping and banning

extension SwarmEngine {
    /// Whether to dial at all: a download wants pieces; a seed dials the leechers it learns of.
    private var dialsPeers: Bool {
        if configuration.serveOnly || picker.isComplete { return configuration.seedsDialPeers }
        return true
    }

    func connectMore() {
        guard outcome == nil, dialsPeers else { return }
        let connected = Set(peers.values.map(\.address))
        var ready = roster.ready(now: now, connected: connected)
        ready.shuffle(using: &random)
        for address in ready {
            guard peers.count + roster.connecting.count < configuration.maxPeers else { return }
            roster.dialling(address)
            let source = roster.source(of: address) ?? .peerOption
            configuration.dialer.dial(address, loop: loop, timeout: configuration.connectTimeout) { [self] result in
                roster.dialled(address)
                switch result {
                case .success(let stream):
                    guard outcome == nil else { stream.close(); return }
                    attach(stream, source: source, initiator: true)
                case .failure(let error):
                    roster.failed(address, error: error.description, now: now)
                }
            }
        }
    }

    func sessionConfiguration(for stream: any ByteStream) -> PeerSession.Configuration {
        var session = PeerSession.Configuration(infoHash: configuration.torrent.infoHashes.wire, peerID: configuration.peerID)
        session.lengths = lengths
        session.extensionNames = components.flatMap(\.extensionNames)
        session.clientVersion = configuration.clientVersion
        session.listenPort = listener.map { Int($0.localAddress.port) }
        // We serve the info dictionary (BEP 9), so magnet links work against us.
        session.metadata = configuration.torrent.infoBytes
        session.yourIP = stream.remote.ipBytes
        if configuration.advertisesDHT && datagramPort != nil { session.reserved.insert(ReservedBits.dht) }
        return session
    }

    func attach(_ stream: any ByteStream, source: PeerSource, initiator: Bool) {
        nextKey += 1
        var session = PeerSession(sessionConfiguration(for: stream), initiator: initiator)
        session.start()
        let peer = PeerConnection(key: nextKey, stream: stream, source: source, session: session,
                                  pieceCount: layout.pieceCount, now: now)
        peers[peer.key] = peer
        stream.onData = { [weak self, weak peer] bytes in
            guard let self, let peer else { return }
            self.received(bytes, from: peer)
        }
        stream.onClose = { [weak self, weak peer] error in
            guard let self, let peer else { return }
            self.drop(peer, reason: error?.description ?? "closed the connection", closeStream: false)
        }
        stream.onDrained = { [weak self, weak peer] in
            guard let self, let peer else { return }
            self.serveUploads(peer)
        }
        stream.start()
        peer.flush()
    }

    func tag(_ peer: PeerConnection) -> PeerTag {
        PeerTag(transport: peer.stream.transport, encrypted: peer.stream.isEncrypted, source: peer.source)
    }

    /// Closes and forgets a peer; an outgoing one is dialled again after a pause unless `redial` is false.
    func drop(_ peer: PeerConnection, reason: String, closeStream: Bool = true, redial: Bool = true) {
        guard peers.removeValue(forKey: peer.key) != nil else { return }
        if closeStream { peer.stream.close() }
        picker.peerGone(peer.key)
        picker.peerLeft { peer.has[$0] }
        peer.inFlight.removeAll()
        peer.uploadQueue.removeAll()
        if optimistic?.key == peer.key { optimistic = nil }
        if peer.announced { for component in components { component.peerDisconnected(peer.snapshot()) } }
        report(.peerDropped(address: peer.address, reason: reason, tag: tag(peer)))
        if outcome == nil {
            if !peer.incoming { roster.disconnected(peer.address, now: now, reason: reason, redial: redial) }
            for other in orderedPeers { requestMore(other) }
        }
    }

    func ban(_ peer: PeerConnection, reason: String) {
        roster.ban(peer.address)
        report(.peerBanned(address: peer.address, reason: reason, tag: tag(peer)))
        drop(peer, reason: "banned: \(reason)")
    }

    /// Tells components about a peer once its extension handshake is in (or it skipped it).
    func announceToComponents(_ peer: PeerConnection) {
        guard !peer.announced, peer.handshakeDone else { return }
        peer.announced = true
        let snapshot = peer.snapshot()
        for component in components { component.peerConnected(snapshot) }
    }
}
