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
        var peer: TrackerPeer
        var left: Int64
        var lastSeen: Double
    }

    struct Swarm: Sendable {
        var peers: [PeerKey: Entry] = [:]
        var downloaded = 0
    }

    public let config: Config
    private var swarms: [[UInt8]: Swarm] = [:]

    public init(config: Config = Config()) {
        self.config = config
    }

    public var torrentCount: Int { swarms.count }
    public var peerCount: Int { swarms.values.reduce(0) { $0 + $1.peers.count } }

    /// Records an announce from `ip` and answers it: counts and up to numwant other peers
    /// (seeders get no seeders). `stopped` removes the peer; `completed` counts a download.
    public mutating func announce(_ request: AnnounceRequest, ip: String, now: Double) -> AnnounceResponse {
        var swarm = swarms[request.infoHash] ?? Swarm()
        swarm.peers = swarm.peers.filter { now - $0.value.lastSeen <= config.peerTTL }
        let key = PeerKey(ip: ip, port: request.port)
        let previous = swarm.peers[key]
        if request.event == .stopped {
            swarm.peers[key] = nil
        } else {
            if request.event == .completed && (previous?.left ?? 1) != 0 { swarm.downloaded += 1 }
            swarm.peers[key] = Entry(peer: TrackerPeer(ip: ip, port: request.port, peerID: request.peerID),
                                     left: request.left, lastSeen: now)
        }
        let wanted = min(max(0, request.numWant ?? config.defaultNumWant), config.maxNumWant)
        var peers: [TrackerPeer] = []
        if request.event != .stopped {
            for (otherKey, entry) in swarm.peers.shuffled() where otherKey != key {
                if peers.count >= wanted { break }
                if request.left == 0 && entry.left == 0 { continue }
                peers.append(entry.peer)
            }
        }
        let complete = swarm.peers.values.filter { $0.left == 0 }.count
        let response = AnnounceResponse(interval: config.interval, minInterval: config.minInterval, complete: complete,
                                        incomplete: swarm.peers.count - complete, downloaded: swarm.downloaded, peers: peers)
        swarms[request.infoHash] = swarm.peers.isEmpty && swarm.downloaded == 0 ? nil : swarm
        return response
    }

    /// Counts for each asked hash (zeros for unknown ones), in the order asked.
    public func scrape(_ infoHashes: [[UInt8]], now: Double) -> [ScrapeEntry] {
        infoHashes.map { hash in
            let live = swarms[hash]?.peers.values.filter { now - $0.lastSeen <= config.peerTTL } ?? []
            let complete = live.filter { $0.left == 0 }.count
            return ScrapeEntry(infoHash: hash, complete: complete, incomplete: live.count - complete,
                               downloaded: swarms[hash]?.downloaded ?? 0)
        }
    }

    /// Drops peers not heard from within the TTL and swarms left empty.
    public mutating func expire(now: Double) {
        for (hash, var swarm) in swarms {
            swarm.peers = swarm.peers.filter { now - $0.value.lastSeen <= config.peerTTL }
            swarms[hash] = swarm.peers.isEmpty && swarm.downloaded == 0 ? nil : swarm
        }
    }
}
