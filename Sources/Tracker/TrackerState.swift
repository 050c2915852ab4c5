import Metainfo

/// The in-memory swarms of our tracker (`tt tracker`): who announced what, counts, expiry.
/// Pure state; the sockets live in `TrackerServer`.
///
/// Keys and entries are fixed-size values (no arrays or strings), so an announce costs two
/// hash lookups and no allocation: the UDP loop runs it tens of thousands of times a second.
public struct TrackerState: Sendable {
    public struct Config: Sendable {
        /// Seconds we ask clients to wait between announces.
        public var interval: Int = 60
        public var minInterval: Int = 10
        /// A peer not heard from for this long is dropped (default: three intervals).
        public var peerTTL: Double = 180
        public var defaultNumWant: Int = 50
        public var maxNumWant: Int = 200
        public init() {}
    }

    /// What an announce tells the swarm, decoded from HTTP or UDP.
    struct Announcement {
        var infoHash: Bytes20
        var peerID: Bytes20
        var port: UInt16
        var left: Int64
        var event: AnnounceRequest.Event
        var numWant: Int?

        init(infoHash: Bytes20, peerID: Bytes20, port: UInt16, left: Int64, event: AnnounceRequest.Event, numWant: Int?) {
            self.infoHash = infoHash
            self.peerID = peerID
            self.port = port
            self.left = left
            self.event = event
            self.numWant = numWant
        }

        init(_ request: AnnounceRequest) {
            self.init(infoHash: Bytes20(request.infoHash), peerID: Bytes20(request.peerID), port: request.port,
                      left: request.left, event: request.event, numWant: request.numWant)
        }
    }

    struct Entry: Sendable {
        var address: PeerAddress
        var peerID: Bytes20
        var left: Int64
        var lastSeen: Double

        var peer: TrackerPeer { TrackerPeer(ip: address.ipText, port: address.port, peerID: peerID.bytes) }
    }

    /// Peers in an array (random picks in O(numwant)) with an index by address, and the
    /// seeder count kept up to date, so an announce never walks the whole swarm.
    struct Swarm: Sendable {
        var entries: [Entry] = []
        var positions: [PeerAddress: Int] = [:]
        var seeders = 0
        var downloaded = 0

        var isEmpty: Bool { entries.isEmpty && downloaded == 0 }

        /// Records `entry`; returns the `left` it had before (nil when new).
        mutating func upsert(_ entry: Entry) -> Int64? {
            if entry.left == 0 { seeders += 1 }
            if let position = positions[entry.address] {
                let before = entries[position].left
                if before == 0 { seeders -= 1 }
                entries[position] = entry
                return before
            }
            positions[entry.address] = entries.count
            entries.append(entry)
            return nil
        }

        mutating func remove(_ address: PeerAddress) {
            guard let position = positions.removeValue(forKey: address) else { return }
            if entries[position].left == 0 { seeders -= 1 }
            let last = entries.count - 1
            if position != last {
                entries[position] = entries[last]
                positions[entries[position].address] = position
            }
            entries.removeLast()
        }

        mutating func expire(before cutoff: Double) {
            var index = 0
            while index < entries.count {
                if entries[index].lastSeen < cutoff { remove(entries[index].address) } else { index += 1 }
            }
        }
    }

    public let config: Config
    private var swarms: [Bytes20: Swarm] = [:]
    /// Where each answer starts in the swarm: a cheap generator (SystemRandomNumberGenerator is a
    /// getrandom system call per number), seeded once from the system's.
    private var picker = FastRandom()

    public init(config: Config = Config()) {
        self.config = config
    }

    public var torrentCount: Int { swarms.count }
    public var peerCount: Int { swarms.values.reduce(0) { $0 + $1.entries.count } }

    /// Records an announce from `ip` and answers it: counts and up to numwant other peers
    /// (seeders get no seeders), picked from a random place in the swarm. `stopped` removes
    /// the peer; `completed` counts a download. Peers past their TTL are never handed out;
    /// `expire` (called periodically) removes them from the counts. An `ip` that is not a
    /// numeric address is answered but not recorded.
    public mutating func announce(_ request: AnnounceRequest, ip: String, now: Double) -> AnnounceResponse {
        let address = PeerAddress(ipText: ip, port: request.port)
        var picked: [TrackerPeer] = []
        var response = answer(Announcement(request), from: address, now: now) { entry in
            picked.append(entry.peer)
            return true
        }
        response.peers = picked
        return response
    }

    /// The server's path: counts plus the picked entries.
    mutating func answer(_ announcement: Announcement, from address: PeerAddress?, now: Double) -> (AnnounceResponse, [Entry]) {
        var picked: [Entry] = []
        let response = answer(announcement, from: address, now: now) { entry in
            picked.append(entry)
            return true
        }
        return (response, picked)
    }

    /// Records the announce and hands up to `numwant` other live peers to `take` (which says whether it used one).
    mutating func answer(_ announcement: Announcement, from address: PeerAddress?, now: Double,
                         take: (borrowing Entry) -> Bool) -> AnnounceResponse {
        let start = picker.next()
        // Mutated in place in the dictionary (no copy of the swarm's arrays).
        let (response, emptied) = Self.answer(announcement, from: address, now: now, start: start, config: config,
                                              swarm: &swarms[announcement.infoHash, default: Swarm()], take: take)
        if emptied { swarms.removeValue(forKey: announcement.infoHash) }
        return response
    }

    private static func answer(_ announcement: Announcement, from address: PeerAddress?, now: Double, start: UInt64,
                               config: Config, swarm: inout Swarm,
                               take: (borrowing Entry) -> Bool) -> (AnnounceResponse, emptied: Bool) {
        if let address {
            if announcement.event == .stopped {
                swarm.remove(address)
            } else {
                let before = swarm.upsert(Entry(address: address, peerID: announcement.peerID, left: announcement.left,
                                                lastSeen: now))
                if announcement.event == .completed && (before ?? 1) != 0 { swarm.downloaded += 1 }
            }
        }
        let wanted = min(max(0, announcement.numWant ?? config.defaultNumWant), config.maxNumWant)
        var given = 0
        let count = swarm.entries.count
        if announcement.event != .stopped && wanted > 0 && count > 0 {
            var index = Int(start % UInt64(count))
            let seeder = announcement.left == 0
            for _ in 0..<count {
                let entry = swarm.entries[index]
                index += 1
                if index == count { index = 0 }
                if entry.address == address || now - entry.lastSeen > config.peerTTL { continue }
                if seeder && entry.left == 0 { continue }
                if take(entry) { given += 1 }
                if given >= wanted { break }
            }
        }
        return (AnnounceResponse(interval: config.interval, minInterval: config.minInterval, complete: swarm.seeders,
                                 incomplete: swarm.entries.count - swarm.seeders, downloaded: swarm.downloaded), swarm.isEmpty)
    }

    /// Counts for each asked hash (zeros for unknown ones), in the order asked.
    public func scrape(_ infoHashes: [[UInt8]], now: Double) -> [ScrapeEntry] {
        infoHashes.map { hash in
            guard hash.count == 20, let swarm = swarms[Bytes20(hash)] else {
                return ScrapeEntry(infoHash: hash, complete: 0, incomplete: 0, downloaded: 0)
            }
            return ScrapeEntry(infoHash: hash, complete: swarm.seeders, incomplete: swarm.entries.count - swarm.seeders,
                               downloaded: swarm.downloaded)
        }
    }

    /// Drops peers not heard from within the TTL and swarms left empty.
    public mutating func expire(now: Double) {
        for hash in Array(swarms.keys) {
            guard var swarm = swarms.removeValue(forKey: hash) else { continue }
            swarm.expire(before: now - config.peerTTL)
            if !swarm.isEmpty { swarms[hash] = swarm }
        }
    }
}

/// 20 bytes (an info hash or a peer id) as plain words: hashed and compared without an array.
struct Bytes20: Hashable, Sendable {
    var words: (UInt64, UInt64, UInt32)

    init(words: (UInt64, UInt64, UInt32)) { self.words = words }

    /// The first 20 bytes of `bytes` (zero-padded when shorter).
    init(_ bytes: [UInt8]) {
        self.init(words: (0, 0, 0))
        withUnsafeMutableBytes(of: &words) { raw in
            bytes.withUnsafeBytes { raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(20))) }
        }
    }

    /// The 20 bytes at `offset` of `raw` (which must hold them).
    init(_ raw: UnsafeRawBufferPointer, at offset: Int) {
        self.init(words: (raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self),
                          raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self),
                          raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt32.self)))
    }

    var bytes: [UInt8] { withUnsafeBytes(of: words) { Array($0.prefix(20)) } }

    static func == (a: Bytes20, b: Bytes20) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
    }
}

/// A peer's IP and port as plain words (IPv4 in the first 4 bytes of `ip`), so the swarm's index,
/// the compact form and connection ids need no array or string.
struct PeerAddress: Hashable, Sendable {
    var ip: (UInt64, UInt64)
    var isV6: Bool
    var port: UInt16

    init(ip: (UInt64, UInt64), isV6: Bool, port: UInt16) {
        self.ip = ip
        self.isV6 = isV6
        self.port = port
    }

    /// From 4 or 16 address bytes; nil for another length.
    init?(ipBytes: [UInt8], port: UInt16) {
        guard ipBytes.count == 4 || ipBytes.count == 16 else { return nil }
        var ip: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &ip) { raw in ipBytes.withUnsafeBytes { raw.copyMemory(from: $0) } }
        self.init(ip: ip, isV6: ipBytes.count == 16, port: port)
    }

    init?(ipText: String, port: UInt16) {
        guard let bytes = IPText.parseV4(ipText) ?? IPText.parseV6(ipText) else { return nil }
        self.init(ipBytes: bytes, port: port)
    }

    var ipBytes: [UInt8] { withUnsafeBytes(of: ip) { Array($0.prefix(isV6 ? 16 : 4)) } }
    var ipText: String { isV6 ? IPText.v6(ipBytes) : IPText.v4(ipBytes) }

    /// 6 (BEP 23) or 18 (BEP 7) bytes.
    var compactSize: Int { isV6 ? 18 : 6 }

    /// Writes the compact form at `offset` of `out` (which has room): the address, then the port big-endian.
    func writeCompact(to out: UnsafeMutableRawBufferPointer, at offset: Int) {
        withUnsafeBytes(of: ip) { raw in
            out.baseAddress!.advanced(by: offset).copyMemory(from: raw.baseAddress!, byteCount: isV6 ? 16 : 4)
        }
        out.storeBytes(of: port.bigEndian, toByteOffset: offset + (isV6 ? 16 : 4), as: UInt16.self)
    }

    func appendCompact(to out: inout [UInt8]) {
        withUnsafeBytes(of: ip) { out.append(contentsOf: $0.prefix(isV6 ? 16 : 4)) }
        out.append(UInt8(port >> 8))
        out.append(UInt8(port & 0xFF))
    }

    static func == (a: PeerAddress, b: PeerAddress) -> Bool {
        a.ip.0 == b.ip.0 && a.ip.1 == b.ip.1 && a.port == b.port && a.isV6 == b.isV6
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(ip.0)
        hasher.combine(ip.1 ^ UInt64(port) << 48 ^ (isV6 ? 1 << 47 : 0))
    }
}
