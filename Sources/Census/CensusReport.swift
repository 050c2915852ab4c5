import Metainfo
import Net
import PeerWire

/// What one source of peers answered (a tracker, the DHT, PEX, the magnet link, `--peer`).
public struct CensusSourceReport: Sendable {
    public var kind: String
    /// The tracker URL, or a name for the other kinds.
    public var name: String
    public var peers: [SocketAddress] = []
    /// Seeders, leechers and completed downloads as the source counted them (trackers).
    public var seeders: Int?
    public var leechers: Int?
    public var downloaded: Int?
    public var error: String?
    /// Seconds from the start of the census until it answered.
    public var elapsed: Double?

    public init(kind: String, name: String) {
        self.kind = kind
        self.name = name
    }
}

/// One way we tried to reach a peer and how it ended.
public struct CensusAttemptReport: Sendable, Equatable {
    public var transport: String
    public var encryption: String
    /// nil when it worked; otherwise `refused`, `timeout`, `closed`, `wrong_info_hash`, `protocol`, `unreachable`.
    public var failure: String?
    public var message: String?
    public var seconds: Double

    public init(transport: String, encryption: String, failure: String?, message: String?, seconds: Double) {
        self.transport = transport
        self.encryption = encryption
        self.failure = failure
        self.message = message
        self.seconds = seconds
    }
}

/// Everything learned about one peer.
public struct CensusPeerReport: Sendable {
    public var address: SocketAddress
    public var sources: [String]
    public var attempts: [CensusAttemptReport] = []
    public var handshake: Handshake?
    public var extensions: ExtensionHandshake?
    /// Pieces it says it has: a full bitfield when the torrent's size is known.
    public var have: Bitfield?
    /// Without a piece count (magnet, bare hash): what it said, roughly.
    public var saidHaveAll = false
    public var haveCount: Int?
    /// Connect and handshake round trips, seconds.
    public var connectTime: Double?
    public var handshakeTime: Double?
    /// When (seconds after connecting) it unchoked us, if it did within the duration.
    public var unchokedAfter: Double?
    /// Peers it named over PEX.
    public var pexPeers = 0

    public init(address: SocketAddress, sources: [String]) {
        self.address = address
        self.sources = sources
    }

    public var reached: Bool { handshake != nil }
    /// The attempt that worked.
    public var success: CensusAttemptReport? { attempts.first { $0.failure == nil } }

    /// Why it could not be reached. TCP's answer says most (a refusal is definite; uTP can only time
    /// out), so it is preferred; otherwise the last attempt's.
    public var failure: String? {
        guard !reached else { return nil }
        return attempts.first { $0.transport == "tcp" && $0.failure != nil }?.failure ?? attempts.last?.failure ?? "not tried"
    }

    /// True when a plaintext attempt failed on the same transport before an encrypted one worked.
    public var requiresEncryption: Bool {
        guard let success, success.encryption == "rc4" else { return false }
        return attempts.contains { $0.transport == success.transport && $0.encryption == "plaintext" && $0.failure != nil }
    }

    /// True when TCP failed and uTP worked.
    public var onlyUTP: Bool {
        guard let success, success.transport == "utp" else { return false }
        return attempts.contains { $0.transport == "tcp" && $0.failure != nil }
    }

    public func isSeeder(pieceCount: Int?) -> Bool {
        if let have { return have.isComplete }
        if saidHaveAll { return true }
        if let pieceCount, let haveCount { return haveCount >= pieceCount }
        return false
    }

    /// Share of the pieces it has (0…1), when known.
    public func fraction(pieceCount: Int?) -> Double? {
        if let have, have.pieceCount > 0 { return Double(have.setCount) / Double(have.pieceCount) }
        if saidHaveAll { return 1 }
        if let pieceCount, pieceCount > 0, let haveCount { return min(1, Double(haveCount) / Double(pieceCount)) }
        return nil
    }
}

/// The aggregate over every peer and source.
public struct CensusSummary: Sendable {
    public struct ClientShare: Sendable, Equatable {
        public var client: String
        public var peers: Int
    }

    public var peersKnown = 0
    public var peersReached = 0
    public var seedersReached = 0
    public var leechersReached = 0
    /// The largest counts any tracker gave.
    public var seedersAnnounced: Int?
    public var leechersAnnounced: Int?
    public var clients: [ClientShare] = []
    public var pieceCount: Int?
    /// Fewest copies of any piece among reached peers, and the pieces that have that few.
    public var minimumCopies: Int?
    public var rarestPieces: [Int] = []
    /// Pieces no reached peer has.
    public var missingPieces: Int?
    /// True when the reached peers together hold every piece.
    public var completable: Bool?
    public var requiresEncryption = 0
    public var onlyUTP = 0
    public var unchokedUs = 0

    /// Computes the summary (pure: tested with values alone).
    public init(sources: [CensusSourceReport], peers: [CensusPeerReport], pieceCount: Int?) {
        self.pieceCount = pieceCount
        peersKnown = peers.count
        let reached = peers.filter(\.reached)
        peersReached = reached.count
        seedersReached = reached.filter { $0.isSeeder(pieceCount: pieceCount) }.count
        leechersReached = peersReached - seedersReached
        seedersAnnounced = sources.compactMap(\.seeders).max()
        leechersAnnounced = sources.compactMap(\.leechers).max()
        var byClient: [String: Int] = [:]
        for peer in reached { byClient[peer.handshake?.peerID.client ?? "unknown", default: 0] += 1 }
        clients = byClient.map { ClientShare(client: $0.key, peers: $0.value) }
            .sorted { $0.peers != $1.peers ? $0.peers > $1.peers : $0.client < $1.client }
        requiresEncryption = reached.filter(\.requiresEncryption).count
        onlyUTP = reached.filter(\.onlyUTP).count
        unchokedUs = reached.filter { $0.unchokedAfter != nil }.count
        guard let pieceCount, pieceCount > 0 else {
            if !reached.isEmpty && seedersReached > 0 { completable = true }
            return
        }
        var copies = [Int](repeating: 0, count: pieceCount)
        for peer in reached {
            if let have = peer.have {
                for index in 0..<min(pieceCount, have.pieceCount) where have[index] { copies[index] += 1 }
            } else if peer.saidHaveAll {
                for index in 0..<pieceCount { copies[index] += 1 }
            }
        }
        let fewest = copies.min() ?? 0
        minimumCopies = fewest
        rarestPieces = Array(copies.indices.filter { copies[$0] == fewest }.prefix(20))
        missingPieces = copies.filter { $0 == 0 }.count
        completable = missingPieces == 0
    }
}

/// The whole census: sources, peers and their aggregate.
public struct CensusReport: Sendable {
    public var infoHashes: InfoHashes
    public var pieceCount: Int?
    public var sources: [CensusSourceReport]
    public var peers: [CensusPeerReport]
    public var summary: CensusSummary
    public var duration: Double
}
