/// The in-memory swarms of our tracker (`tt tracker`): who announced what, counts, expiry.
/// Pure state; the sockets live in `TrackerServer`.
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

    struct PeerKey: Hashable, Sendable {
        var ip: String
        var port: UInt16
    }

    struct Entry: Sendable {
        var key: PeerKey
        var peer: TrackerPeer
        /// The compact form (BEP 23 / BEP 7), made once so answers are a copy, not a re-parse.
        var compact: [UInt8]
        var left: Int64
        var lastSeen: Double
    }

    /// Peers in an array (random picks in O(numwant)) with an index by address, and the
    /// seeder count kept up to date, so an announce never walks the whole swarm.
    struct Swarm: Sendable {
        var entries: [Entry] = []
        var positions: [PeerKey: Int] = [:]
        var seeders = 0
        var downloaded = 0

        var isEmpty: Bool { entries.isEmpty && downloaded == 0 }

        func entry(_ key: PeerKey) -> Entry? { positions[key].map { entries[$0] } }

        mutating func upsert(_ entry: Entry) {
            if let position = positions[entry.key] {
                if entries[position].left == 0 { seeders -= 1 }
                entries[position] = entry
            } else {
                positions[entry.key] = entries.count
                entries.append(entry)
            }
            if entry.left == 0 { seeders += 1 }
        }

        mutating func remove(_ key: PeerKey) {
            guard let position = positions.removeValue(forKey: key) else { return }
            if entries[position].left == 0 { seeders -= 1 }
            let last = entries.count - 1
            if position != last {
                entries[position] = entries[last]
                positions[entries[position].key] = position
            }
            entries.removeLast()
        }

        mutating func expire(before cutoff: Double) {
            for entry in entries where entry.lastSeen < cutoff { remove(entry.key) }
        }
    }

    public let config: Config
    private var swarms: [[UInt8]: Swarm] = [:]

    public init(config: Config = Config()) {
        self.config = config
    }

    public var torrentCount: Int { swarms.count }
    public var peerCount: Int { swarms.values.reduce(0) { $0 + $1.entries.count } }

    /// Records an announce from `ip` and answers it: counts and up to numwant other peers
    /// (seeders get no seeders), picked from a random place in the swarm. `stopped` removes
    /// the peer; `completed` counts a download. Peers past their TTL are never handed out;
    /// `expire` (called periodically) removes them from the counts.
    public mutating func announce(_ request: AnnounceRequest, ip: String, now: Double) -> AnnounceResponse {
        let ipBytes = IPText.parseV4(ip) ?? IPText.parseV6(ip) ?? []
        let (response, picked) = answer(request, ip: ip, ipBytes: ipBytes, now: now)
        var full = response
        full.peers = picked.map(\.peer)
        return full
    }

    /// The server's path: counts plus the picked entries, whose compact bytes it copies out.
    /// UDP's path: the same answer with the picked peers written straight into compact bytes of one
    /// address size (no per-peer copies; this runs tens of thousands of times a second under load).
    mutating func answerCompact(_ request: AnnounceRequest, ip: String, ipBytes: [UInt8], now: Double, entrySize: Int,
                                into reply: inout [UInt8]) -> (AnnounceResponse, returned: Int) {
        var returned = 0
        let response = answer(request, ip: ip, ipBytes: ipBytes, now: now) { entry in
            guard entry.compact.count == entrySize else { return false }
            reply.append(contentsOf: entry.compact)
            returned += 1
            return true
        }
        return (response, returned)
    }

    mutating func answer(_ request: AnnounceRequest, ip: String, ipBytes: [UInt8], now: Double) -> (AnnounceResponse, [Entry]) {
        var picked: [Entry] = []
        let response = answer(request, ip: ip, ipBytes: ipBytes, now: now) { entry in
            picked.append(entry)
            return true
        }
        return (response, picked)
    }

    /// Records the announce and hands up to `numwant` other live peers to `take` (which says whether it used one).
    private mutating func answer(_ request: AnnounceRequest, ip: String, ipBytes: [UInt8], now: Double,
                                 take: (borrowing Entry) -> Bool) -> AnnounceResponse {
        var swarm = swarms.removeValue(forKey: request.infoHash) ?? Swarm()
        let key = PeerKey(ip: ip, port: request.port)
        if request.event == .stopped {
            swarm.remove(key)
        } else {
            if request.event == .completed && (swarm.entry(key)?.left ?? 1) != 0 { swarm.downloaded += 1 }
            let compact = ipBytes + [UInt8(request.port >> 8), UInt8(request.port & 0xFF)]
            swarm.upsert(Entry(key: key, peer: TrackerPeer(ip: ip, port: request.port, peerID: request.peerID),
                               compact: compact, left: request.left, lastSeen: now))
        }
        let wanted = min(max(0, request.numWant ?? config.defaultNumWant), config.maxNumWant)
        var given = 0
        let count = swarm.entries.count
        if request.event != .stopped && wanted > 0 && count > 1 {
            let start = Int.random(in: 0..<count)
            for step in 0..<count {
                let index = (start + step) % count
                if swarm.entries[index].key == key || now - swarm.entries[index].lastSeen > config.peerTTL { continue }
                if request.left == 0 && swarm.entries[index].left == 0 { continue }
                if take(swarm.entries[index]) { given += 1 }
                if given >= wanted { break }
            }
        }
        let response = AnnounceResponse(interval: config.interval, minInterval: config.minInterval, complete: swarm.seeders,
                                        incomplete: swarm.entries.count - swarm.seeders, downloaded: swarm.downloaded)
        if !swarm.isEmpty { swarms[request.infoHash] = swarm }
        return response
    }

    /// Counts for each asked hash (zeros for unknown ones), in the order asked.
    public func scrape(_ infoHashes: [[UInt8]], now: Double) -> [ScrapeEntry] {
        infoHashes.map { hash in
            guard let swarm = swarms[hash] else { return ScrapeEntry(infoHash: hash, complete: 0, incomplete: 0, downloaded: 0) }
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
