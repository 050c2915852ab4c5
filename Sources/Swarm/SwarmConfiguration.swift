import Metainfo
import Net
import PeerWire
import Storage

/// What a download (or a seed) is asked to do.
public struct SwarmConfiguration {
    public var torrent: Torrent
    /// The .torrent bytes, kept in the resume state so `tt verify` finds the torrent later.
    public var torrentBytes: [UInt8]
    /// Data goes to `output/<name>`; resume state to `output/.tt/`.
    public var output: String
    /// Peers to connect to besides those trackers give.
    public var peers: [SocketAddress] = []
    public var useTrackers = true
    /// Extra tracker URLs (tried as their own tier after the torrent's).
    public var extraTrackers: [String] = []
    public var maxPeers = 50
    /// Where to accept incoming peers; port 0 picks one. Nil: no listener.
    public var listen: SocketAddress? = SocketAddress(ip: "0.0.0.0", port: 0)
    /// Keep serving after the download completes, until interrupted.
    public var seedAfterDownload = false
    /// Trust the resume state (the pieces it lists); false re-checks everything present.
    public var resume = true
    public var peerID = PeerID.ours()
    public var clientVersion = ClientIdentity.name
    public var connectTimeout = 10.0
    /// Give up (exit 69) after this long with no peer connected and none left to try.
    public var stallTimeout = 60.0
    /// Drop a peer that has sent nothing for this long while we wait on its requests.
    public var snubTimeout = 30.0
    /// Seconds between checkpoints: flush what was written, then record it in the resume state.
    /// Shorter saves more across a crash of the machine; each flush costs disk time.
    public var checkpointInterval = 10
    /// Unchoke slots besides the optimistic one (BEP 3 tit-for-tat).
    public var uploadSlots = 4
    /// Serve only (`tt seed`): open the data read-only, check it, never request or write anything,
    /// keep no resume state, and run until interrupted or `duration` passes.
    public var serveOnly = false
    /// The file (single-file torrent) or folder (multi-file) holding the data, instead of `output/<name>`.
    public var contentPath: String?
    /// Only these files (`tt download --files`/`--only`/`so=`); nil: all. The others are not created;
    /// their bytes that share a piece with chosen files go to `output/.tt/<hash>.parts`.
    public var selection: FileSelection?
    /// BEP 19 web seeds (the torrent's url-list, and any given): pieces come over HTTP ranges too.
    public var webSeeds: [String] = []
    /// Trust the data without hashing it (serve-only).
    public var trustData = false
    /// Stop after this many seconds.
    public var duration: Double?
    /// How peers are reached: TCP unless a uTP, `auto` or encrypting dialer is set (or a simulated one).
    public var dialer: any PeerDialer = TCPDialer()
    /// What incoming streams pass before their session starts (MSE/PE answering); nil: straight in.
    public var acceptor: (any StreamAcceptor)?
    /// Open a UDP port with the listener's number for the DHT and uTP (`SwarmEngine.datagramPort`).
    public var openDatagramPort = true
    /// Set the DHT bit in our handshake and send BEP 5 `port` (the datagram port) to peers that set
    /// it too; for when a DHT node answers on `SwarmEngine.datagramPort`.
    public var advertisesDHT = false
    /// Randomness for piece picking and the optimistic unchoke; seed it for reproducible runs.
    public var random: any RandomNumberGenerator = FastRandom()
    /// A seed (or a finished download that goes on seeding) dials the peers it learns of, so
    /// leechers that accept no connections are served too.
    public var seedsDialPeers = true

    public init(torrent: Torrent, torrentBytes: [UInt8], output: String) {
        self.torrent = torrent
        self.torrentBytes = torrentBytes
        self.output = output
    }
}

/// What the engine reports as it goes; the command turns these into a progress bar,
/// plain lines or JSON Lines.
public enum SwarmEvent: Sendable {
    case started(StartInfo)
    case listening(SocketAddress)
    case trackerAnnounced(tracker: String, peers: Int)
    case trackerFailed(tracker: String, message: String)
    case peerConnected(address: SocketAddress, client: String?, incoming: Bool, tag: PeerTag)
    case peerDropped(address: SocketAddress, reason: String, tag: PeerTag)
    case peerBanned(address: SocketAddress, reason: String, tag: PeerTag)
    case pieceVerified(piece: Int, peer: String?)
    case pieceFailed(piece: Int, peers: [String])
    /// A web seed (BEP 19) joined, or was dropped (unreachable, HTTP errors, or data failing its hash).
    case webSeedAdded(url: String)
    case webSeedDropped(url: String, reason: String)
    /// Four times a second; rates are smoothed over seconds.
    case progress(SwarmProgress)
    case completed(SwarmProgress)
    case finished(SwarmSummary)

    public struct StartInfo: Sendable {
        public var name: String
        public var contentPath: String
        public var pieceCount: Int
        public var piecesHave: Int
        public var piecesTrusted: Int
        public var piecesRechecked: Int
        public var totalBytes: Int64
        public var bytesLeft: Int64
        /// Why the saved state was not used (corrupt, truncated, another torrent's), when it was not.
        public var resumeProblem: String? = nil
    }
}

/// How a peer is carried and where we learned of it (`"transport"`, `"encryption"`, `"source"`).
public struct PeerTag: Sendable, Hashable {
    public var transport: TransportKind
    public var encrypted: Bool
    public var source: PeerSource
}

public struct SwarmProgress: Sendable {
    public var piecesHave: Int
    public var pieceCount: Int
    public var bytesHave: Int64
    public var totalBytes: Int64
    public var downloaded: Int64
    public var uploaded: Int64
    public var downloadRate: Double
    public var uploadRate: Double
    public var peers: Int
    public var seconds: Double
    public var eta: Double? {
        guard downloadRate > 1 else { return nil }
        return Double(totalBytes - bytesHave) / downloadRate
    }
}

public struct SwarmSummary: Sendable {
    public enum Outcome: String, Sendable {
        /// Complete (a download), interrupted (SIGINT, or SIGTERM during a download),
        /// stopped (a serve-only run ended by SIGTERM or its duration).
        case complete, interrupted, stopped
    }

    public var outcome: Outcome
    public var progress: SwarmProgress
    public var wastedBytes: Int64
    public var hashFailures: Int
    public var bannedPeers: Int
    public var peersSeen: Int
    public var resumePath: String
}
