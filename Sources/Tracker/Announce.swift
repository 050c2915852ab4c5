import Metainfo

/// What we tell a tracker in an announce (BEP 3 / BEP 15 fields).
public struct AnnounceRequest: Sendable {
    public enum Event: String, Sendable, CaseIterable {
        case none = "", started, stopped, completed

        /// BEP 15 numbering.
        public var udpCode: UInt32 {
            switch self {
            case .none: return 0
            case .completed: return 1
            case .started: return 2
            case .stopped: return 3
            }
        }

        public init?(udpCode: UInt32) {
            switch udpCode {
            case 0: self = .none
            case 1: self = .completed
            case 2: self = .started
            case 3: self = .stopped
            default: return nil
            }
        }
    }

    /// The 20 bytes sent on the wire (v1, or v2 truncated: `InfoHashes.wire`).
    public var infoHash: [UInt8]
    /// 20 bytes; defaults to a fresh `-TT0100-…` id.
    public var peerID: [UInt8]
    public var port: UInt16
    public var uploaded: Int64
    public var downloaded: Int64
    public var left: Int64
    public var event: Event
    /// nil lets the tracker choose (UDP sends -1).
    public var numWant: Int?
    /// Identifies us across IP changes; random per request object.
    public var key: UInt32
    /// Echoed back when a previous response gave one.
    public var trackerID: String?
    public var compact: Bool

    public init(infoHash: [UInt8], peerID: [UInt8]? = nil, port: UInt16 = 6881, uploaded: Int64 = 0, downloaded: Int64 = 0,
                left: Int64 = 0, event: Event = .none, numWant: Int? = 50, key: UInt32? = nil, trackerID: String? = nil,
                compact: Bool = true) {
        precondition(infoHash.count == 20, "info hash on the wire is 20 bytes")
        self.infoHash = infoHash
        self.peerID = peerID ?? ClientIdentity.newPeerID()
        self.port = port
        self.uploaded = uploaded
        self.downloaded = downloaded
        self.left = left
        self.event = event
        self.numWant = numWant
        self.key = key ?? UInt32.random(in: 0...UInt32.max)
        self.trackerID = trackerID
        self.compact = compact
    }
}

/// What a tracker answered to an announce.
public struct AnnounceResponse: Sendable, Equatable {
    /// Seconds until the next regular announce.
    public var interval: Int?
    public var minInterval: Int?
    /// Seeders.
    public var complete: Int?
    /// Leechers.
    public var incomplete: Int?
    /// Times the torrent was completed (some HTTP trackers send it in announces too).
    public var downloaded: Int?
    public var trackerID: String?
    public var warning: String?
    /// IPv4 and IPv6 peers together, in the order the tracker sent them.
    public var peers: [TrackerPeer]

    public init(interval: Int? = nil, minInterval: Int? = nil, complete: Int? = nil, incomplete: Int? = nil,
                downloaded: Int? = nil, trackerID: String? = nil, warning: String? = nil, peers: [TrackerPeer] = []) {
        self.interval = interval
        self.minInterval = minInterval
        self.complete = complete
        self.incomplete = incomplete
        self.downloaded = downloaded
        self.trackerID = trackerID
        self.warning = warning
        self.peers = peers
    }
}

/// One torrent's counts in a scrape answer.
public struct ScrapeEntry: Sendable, Equatable {
    public var infoHash: [UInt8]
    /// Seeders.
    public var complete: Int
    /// Leechers.
    public var incomplete: Int
    /// Completed downloads.
    public var downloaded: Int
    public var name: String?

    public init(infoHash: [UInt8], complete: Int, incomplete: Int, downloaded: Int, name: String? = nil) {
        self.infoHash = infoHash
        self.complete = complete
        self.incomplete = incomplete
        self.downloaded = downloaded
        self.name = name
    }
}
