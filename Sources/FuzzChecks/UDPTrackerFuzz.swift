import Tracker

extension FuzzTarget {
    /// BEP 15 packets both ways: replies as the client decodes them (IPv4 and IPv6 peer
    /// sizes) and requests as `tt tracker` decodes them. The first byte picks: even, a reply;
    /// odd, a request.
    public static let udpTracker = FuzzTarget(
        name: "udp-tracker", summary: "UDP tracker replies (client side) and requests (server side)",
        exercise: { bytes in try exerciseUDPTracker(bytes) },
        seeds: {
            let request = AnnounceRequest(infoHash: Array(repeating: 3, count: 20), peerID: Array(repeating: 4, count: 20), port: 6881,
                                          uploaded: 1, downloaded: 2, left: 3, event: .started, numWant: 50, key: 9)
            let response = AnnounceResponse(interval: 900, complete: 1, incomplete: 2, peers: [TrackerPeer(ip: "127.0.0.1", port: 6881)])
            return [[0] + UDPTrackerCodec.connectReply(transactionID: 1, connectionID: 2),
                    [0] + UDPTrackerCodec.announceReply(transactionID: 1, response, family: .v4),
                    [2] + UDPTrackerCodec.announceReply(transactionID: 1, AnnounceResponse(interval: 1, peers: [TrackerPeer(ip: "::1", port: 1)]), family: .v6),
                    [0] + UDPTrackerCodec.scrapeReply(transactionID: 5, [ScrapeEntry(infoHash: [], complete: 1, incomplete: 2, downloaded: 3)]),
                    [0] + UDPTrackerCodec.errorReply(transactionID: 7, message: "unknown torrent"),
                    [1] + UDPTrackerCodec.connectRequest(transactionID: 11),
                    [1] + UDPTrackerCodec.announceRequest(connectionID: 12, transactionID: 13, request),
                    [1] + UDPTrackerCodec.scrapeRequest(connectionID: 12, transactionID: 14, infoHashes: [Array(repeating: 5, count: 20)])]
        })
}

func exerciseUDPTracker(_ bytes: [UInt8]) throws {
    guard let mode = bytes.first else { return }
    let packet = Array(bytes.dropFirst())
    if mode & 1 == 0 {
        let family: CompactPeers.Family = mode & 2 == 0 ? .v4 : .v6
        guard let reply = try? UDPTrackerCodec.decodeReply(packet, family: family) else { return }
        // Each reply our tracker could send is rebuilt byte for byte by its encoder.
        let rebuilt: [UInt8]
        let compared: [UInt8]
        switch reply {
        case .connect(let id, let connection):
            rebuilt = UDPTrackerCodec.connectReply(transactionID: id, connectionID: connection)
            compared = Array(packet.prefix(16))
        case .announce(let id, let response):
            if response.peers.count * family.entrySize != packet.count - 20 { throw FuzzViolation("announce reply peers miscounted") }
            rebuilt = UDPTrackerCodec.announceReply(transactionID: id, response, family: family)
            compared = packet
        case .scrape(let id, let counts):
            rebuilt = UDPTrackerCodec.scrapeReply(transactionID: id, counts.map {
                ScrapeEntry(infoHash: [], complete: $0.complete, incomplete: $0.incomplete, downloaded: $0.downloaded)
            })
            compared = Array(packet.prefix(8 + 12 * counts.count))
        case .error(let id, let message):
            guard String(validatingUTF8Bytes: packet[8...]) != nil else { return }
            rebuilt = UDPTrackerCodec.errorReply(transactionID: id, message: message)
            compared = packet
        }
        if rebuilt != compared { throw FuzzViolation("a decoded UDP reply does not encode to its bytes") }
        if (try? UDPTrackerCodec.decodeReply(rebuilt, family: family)) != reply { throw FuzzViolation("UDP reply decode → encode → decode changed it") }
    } else {
        guard let request = UDPTrackerCodec.decodeRequest(packet) else { return }
        let rebuilt: [UInt8]
        switch request {
        case .connect(let id): rebuilt = UDPTrackerCodec.connectRequest(transactionID: id)
        case .announce(let connection, let id, let announce):
            rebuilt = UDPTrackerCodec.announceRequest(connectionID: connection, transactionID: id, announce)
        case .scrape(let connection, let id, let hashes):
            if hashes.isEmpty || hashes.count > (packet.count - 16) / 20 { throw FuzzViolation("scrape request hash count out of range") }
            rebuilt = UDPTrackerCodec.scrapeRequest(connectionID: connection, transactionID: id, infoHashes: hashes)
        }
        guard let again = UDPTrackerCodec.decodeRequest(rebuilt), describe(again) == describe(request) else {
            throw FuzzViolation("UDP request decode → encode → decode changed it")
        }
    }
}

/// Requests hold an `AnnounceRequest`, which is not Equatable: compare every field the wire carries.
private func describe(_ request: UDPTrackerCodec.Request) -> String {
    switch request {
    case .connect(let id): return "connect \(id)"
    case .scrape(let connection, let id, let hashes): return "scrape \(connection) \(id) \(hashes)"
    case .announce(let connection, let id, let a):
        return "announce \(connection) \(id) \(a.infoHash) \(a.peerID) \(a.port) \(a.uploaded) \(a.downloaded) \(a.left) \(a.event) \(String(describing: a.numWant)) \(a.key)"
    }
}
