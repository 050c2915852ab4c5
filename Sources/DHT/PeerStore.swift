import Net

/// Peers announced to us per info hash, each forgotten after `ttl`. Bounded: at most
/// `maxTorrents` info hashes and `maxPeersPerTorrent` peers each; the oldest give way.
public struct PeerStore: Sendable {
    public var ttl: Double = 30 * 60
    public var maxTorrents = 2_000
    public var maxPeersPerTorrent = 100

    struct Announced: Sendable {
        var expires: Double
        var seed: Bool
    }

    private var torrents: [NodeID: [SocketAddress: Announced]] = [:]

    public init() {}

    public var torrentCount: Int { torrents.count }
    public var peerCount: Int { torrents.values.reduce(0) { $0 + $1.count } }
    public var infoHashes: [NodeID] { Array(torrents.keys) }

    public mutating func add(_ peer: SocketAddress, for infoHash: NodeID, seed: Bool = false, now: Double) {
        if torrents[infoHash] == nil, torrents.count >= maxTorrents {
            expire(now: now)
            if torrents.count >= maxTorrents, let victim = oldestTorrent() { torrents[victim] = nil }
        }
        var peers = torrents[infoHash] ?? [:]
        if peers[peer] == nil, peers.count >= maxPeersPerTorrent {
            peers = peers.filter { $0.value.expires > now }
            if peers.count >= maxPeersPerTorrent, let oldest = peers.min(by: { $0.value.expires < $1.value.expires }) {
                peers[oldest.key] = nil
            }
        }
        peers[peer] = Announced(expires: now + ttl, seed: seed)
        torrents[infoHash] = peers
    }

    /// Up to `limit` live peers of `infoHash` in random order (BEP 5 replies stay small).
    public func peers(for infoHash: NodeID, now: Double, limit: Int = 50) -> [SocketAddress] {
        guard let peers = torrents[infoHash] else { return [] }
        return Array(peers.filter { $0.value.expires > now }.keys.shuffled().prefix(limit))
    }

    public mutating func expire(now: Double) {
        for (hash, peers) in torrents {
            let live = peers.filter { $0.value.expires > now }
            torrents[hash] = live.isEmpty ? nil : live
        }
    }

    private func oldestTorrent() -> NodeID? {
        torrents.min { a, b in
            (a.value.values.map(\.expires).max() ?? 0) < (b.value.values.map(\.expires).max() ?? 0)
        }?.key
    }
}
