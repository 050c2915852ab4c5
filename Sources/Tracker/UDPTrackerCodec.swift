/// BEP 15 packets: encoders and decoders over bytes, for both the client and our tracker.
public enum UDPTrackerCodec {
    public static let protocolMagic: UInt64 = 0x41727101980

    public enum Action: UInt32, Sendable {
        case connect = 0, announce = 1, scrape = 2, error = 3
    }

    /// A tracker's reply, decoded.
    public enum Reply: Sendable, Equatable {
        case connect(transactionID: UInt32, connectionID: UInt64)
        case announce(transactionID: UInt32, AnnounceResponse)
        /// Counts in the order the info hashes were asked (BEP 15 gives no hashes back).
        case scrape(transactionID: UInt32, [(complete: Int, downloaded: Int, incomplete: Int)])
        case error(transactionID: UInt32, message: String)

        public var transactionID: UInt32 {
            switch self {
            case .connect(let id, _), .announce(let id, _), .scrape(let id, _), .error(let id, _): return id
            }
        }

        public static func == (a: Reply, b: Reply) -> Bool {
            switch (a, b) {
            case let (.connect(x, y), .connect(p, q)): return x == p && y == q
            case let (.announce(x, y), .announce(p, q)): return x == p && y == q
            case let (.scrape(x, y), .scrape(p, q)):
                return x == p && y.count == q.count && zip(y, q).allSatisfy { $0 == $1 }
            case let (.error(x, y), .error(p, q)): return x == p && y == q
            default: return false
            }
        }
    }

    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case tooShort(Int)
        case unknownAction(UInt32)
        case truncatedPeers(Int)
        case truncatedAnnounce(Int)

        public var description: String {
            switch self {
            case .tooShort(let count): return "a \(count)-byte UDP reply is too short"
            case .unknownAction(let action): return "unknown UDP action \(action)"
            case .truncatedPeers(let count): return "truncated compact peer list (\(count) bytes is not a whole number of peers)"
            case .truncatedAnnounce(let count):
                return "a \(count)-byte announce reply without interval and counts (the tracker likely does not serve this info hash)"
            }
        }
    }

    // MARK: - Client requests

    public static func connectRequest(transactionID: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        put64(protocolMagic, &out)
        put32(Action.connect.rawValue, &out)
        put32(transactionID, &out)
        return out
    }

    /// 98 bytes (BEP 15 announce).
    public static func announceRequest(connectionID: UInt64, transactionID: UInt32, _ request: AnnounceRequest) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(98)
        put64(connectionID, &out)
        put32(Action.announce.rawValue, &out)
        put32(transactionID, &out)
        out += request.infoHash
        out += request.peerID
        put64(UInt64(bitPattern: request.downloaded), &out)
        put64(UInt64(bitPattern: request.left), &out)
        put64(UInt64(bitPattern: request.uploaded), &out)
        put32(request.event.udpCode, &out)
        put32(0, &out)  // IP: the sender's
        put32(request.key, &out)
        put32(request.numWant.map { UInt32(bitPattern: Int32(clamping: $0)) } ?? UInt32.max, &out)
        put16(request.port, &out)
        return out
    }

    public static func scrapeRequest(connectionID: UInt64, transactionID: UInt32, infoHashes: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        put64(connectionID, &out)
        put32(Action.scrape.rawValue, &out)
        put32(transactionID, &out)
        for hash in infoHashes { out += hash }
        return out
    }

    /// Decodes a reply. `family` says how long compact peers are: it follows the address
    /// family of the socket the tracker was reached over (BEP 15).
    public static func decodeReply(_ bytes: [UInt8], family: CompactPeers.Family) throws(DecodeError) -> Reply {
        guard bytes.count >= 8 else { throw .tooShort(bytes.count) }
        let action = get32(bytes, 0)
        let transactionID = get32(bytes, 4)
        switch Action(rawValue: action) {
        case .connect:
            guard bytes.count >= 16 else { throw .tooShort(bytes.count) }
            return .connect(transactionID: transactionID, connectionID: get64(bytes, 8))
        case .announce:
            guard bytes.count >= 20 else { throw .truncatedAnnounce(bytes.count) }
            let peerBytes = bytes[20...]
            guard let peers = CompactPeers.decode(peerBytes, family: family) else { throw .truncatedPeers(peerBytes.count) }
            return .announce(transactionID: transactionID, AnnounceResponse(
                interval: Int(get32(bytes, 8)), complete: Int(get32(bytes, 16)), incomplete: Int(get32(bytes, 12)),
                peers: peers))
        case .scrape:
            var counts: [(complete: Int, downloaded: Int, incomplete: Int)] = []
            var offset = 8
            while offset + 12 <= bytes.count {
                counts.append((Int(get32(bytes, offset)), Int(get32(bytes, offset + 4)), Int(get32(bytes, offset + 8))))
                offset += 12
            }
            return .scrape(transactionID: transactionID, counts)
        case .error:
            let message = String(validatingUTF8Bytes: bytes[8...]) ?? TrackerError.excerpt(bytes[8...])
            return .error(transactionID: transactionID, message: message)
        case nil:
            throw .unknownAction(action)
        }
    }

    // MARK: - Server side

    public enum Request: Sendable {
        case connect(transactionID: UInt32)
        case announce(connectionID: UInt64, transactionID: UInt32, AnnounceRequest)
        case scrape(connectionID: UInt64, transactionID: UInt32, infoHashes: [[UInt8]])
    }

    /// Decodes a client's request; nil for anything that is not one (our tracker drops those).
    public static func decodeRequest(_ bytes: [UInt8]) -> Request? {
        guard bytes.count >= 16 else { return nil }
        let connectionID = get64(bytes, 0)
        let transactionID = get32(bytes, 12)
        switch Action(rawValue: get32(bytes, 8)) {
        case .connect:
            guard connectionID == protocolMagic else { return nil }
            return .connect(transactionID: transactionID)
        case .announce:
            guard bytes.count >= 98, let event = AnnounceRequest.Event(udpCode: get32(bytes, 80)) else { return nil }
            let numWant = Int32(bitPattern: get32(bytes, 92))
            let request = AnnounceRequest(
                infoHash: Array(bytes[16..<36]), peerID: Array(bytes[36..<56]), port: get16(bytes, 96),
                uploaded: Int64(bitPattern: get64(bytes, 72)), downloaded: Int64(bitPattern: get64(bytes, 56)),
                left: Int64(bitPattern: get64(bytes, 64)), event: event, numWant: numWant < 0 ? nil : Int(numWant),
                key: get32(bytes, 88))
            return .announce(connectionID: connectionID, transactionID: transactionID, request)
        case .scrape:
            let count = (bytes.count - 16) / 20
            guard count > 0 else { return nil }
            let hashes = (0..<count).map { Array(bytes[(16 + 20 * $0)..<(36 + 20 * $0)]) }
            return .scrape(connectionID: connectionID, transactionID: transactionID, infoHashes: hashes)
        default:
            return nil
        }
    }

    /// A request as our tracker's UDP loop decodes it, straight from the received bytes (an
    /// announce needs no allocation).
    enum ServerRequest {
        case connect(transactionID: UInt32)
        case announce(connectionID: UInt64, transactionID: UInt32, TrackerState.Announcement)
        case scrape(connectionID: UInt64, transactionID: UInt32, infoHashes: [[UInt8]])
    }

    /// `decodeRequest` over raw bytes, for the server's batched loop; nil for anything that is not a request.
    static func decodeServerRequest(_ raw: UnsafeRawBufferPointer) -> ServerRequest? {
        guard raw.count >= 16 else { return nil }
        func get32(_ offset: Int) -> UInt32 { UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        func get64(_ offset: Int) -> UInt64 { UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        let connectionID = get64(0)
        let transactionID = get32(12)
        switch Action(rawValue: get32(8)) {
        case .connect:
            guard connectionID == protocolMagic else { return nil }
            return .connect(transactionID: transactionID)
        case .announce:
            guard raw.count >= 98, let event = AnnounceRequest.Event(udpCode: get32(80)) else { return nil }
            let numWant = Int32(bitPattern: get32(92))
            let port = UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 96, as: UInt16.self))
            let announcement = TrackerState.Announcement(
                infoHash: Bytes20(raw, at: 16), peerID: Bytes20(raw, at: 36), port: port,
                left: Int64(bitPattern: get64(64)), event: event, numWant: numWant < 0 ? nil : Int(numWant))
            return .announce(connectionID: connectionID, transactionID: transactionID, announcement)
        case .scrape:
            let count = (raw.count - 16) / 20
            guard count > 0 else { return nil }
            let hashes = (0..<count).map { Array(raw[(16 + 20 * $0)..<(36 + 20 * $0)]) }
            return .scrape(connectionID: connectionID, transactionID: transactionID, infoHashes: hashes)
        default:
            return nil
        }
    }

    /// Reply writers for the server's batched loop: each writes into `out` (which has room) and
    /// returns the length written.
    static func writeConnectReply(_ out: UnsafeMutableRawBufferPointer, transactionID: UInt32, connectionID: UInt64) -> Int {
        store32(Action.connect.rawValue, out, 0)
        store32(transactionID, out, 4)
        out.storeBytes(of: connectionID.bigEndian, toByteOffset: 8, as: UInt64.self)
        return 16
    }

    /// The 20-byte head of an announce reply; the compact peers follow it.
    static func writeAnnounceHead(_ out: UnsafeMutableRawBufferPointer, transactionID: UInt32, _ response: AnnounceResponse) -> Int {
        store32(Action.announce.rawValue, out, 0)
        store32(transactionID, out, 4)
        store32(UInt32(clamping: response.interval ?? 1800), out, 8)
        store32(UInt32(clamping: response.incomplete ?? 0), out, 12)
        store32(UInt32(clamping: response.complete ?? 0), out, 16)
        return 20
    }

    /// Copies an encoded reply (scrape, error) into `out`, cut to its size.
    static func write(_ reply: [UInt8], _ out: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(reply.count, out.count)
        reply.withUnsafeBytes { out.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: count) }
        return count
    }

    private static func store32(_ value: UInt32, _ out: UnsafeMutableRawBufferPointer, _ offset: Int) {
        out.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    public static func connectReply(transactionID: UInt32, connectionID: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        put32(Action.connect.rawValue, &out)
        put32(transactionID, &out)
        put64(connectionID, &out)
        return out
    }

    public static func announceReply(transactionID: UInt32, _ response: AnnounceResponse, family: CompactPeers.Family) -> [UInt8] {
        var out: [UInt8] = []
        put32(Action.announce.rawValue, &out)
        put32(transactionID, &out)
        put32(UInt32(clamping: response.interval ?? 1800), &out)
        put32(UInt32(clamping: response.incomplete ?? 0), &out)
        put32(UInt32(clamping: response.complete ?? 0), &out)
        out += CompactPeers.encode(response.peers, family: family)
        return out
    }

    public static func scrapeReply(transactionID: UInt32, _ entries: [ScrapeEntry]) -> [UInt8] {
        var out: [UInt8] = []
        put32(Action.scrape.rawValue, &out)
        put32(transactionID, &out)
        for entry in entries {
            put32(UInt32(clamping: entry.complete), &out)
            put32(UInt32(clamping: entry.downloaded), &out)
            put32(UInt32(clamping: entry.incomplete), &out)
        }
        return out
    }

    public static func errorReply(transactionID: UInt32, message: String) -> [UInt8] {
        var out: [UInt8] = []
        put32(Action.error.rawValue, &out)
        put32(transactionID, &out)
        return out + Array(message.utf8)
    }

    // MARK: - Big-endian helpers

    static func put16(_ value: UInt16, _ out: inout [UInt8]) {
        out.append(UInt8(value >> 8)); out.append(UInt8(value & 0xFF))
    }

    static func put32(_ value: UInt32, _ out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8((value >> UInt32(shift)) & 0xFF)) }
    }

    static func put64(_ value: UInt64, _ out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((value >> UInt64(shift)) & 0xFF)) }
    }

    static func get16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    static func get32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 << 8 | UInt32(bytes[offset + $1]) }
    }

    static func get64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 << 8 | UInt64(bytes[offset + $1]) }
    }
}
