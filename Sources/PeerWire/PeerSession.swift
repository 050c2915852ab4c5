import Metainfo

/// One peer connection's protocol state, without I/O: bytes in → events, messages → bytes out.
///
/// It does the BitTorrent handshake (answering an incoming one), the BEP 10 extension handshake
/// (sent as soon as both sides set the bit), keeps both sides' choke and interest, checks every
/// piece index a peer names against `Lengths`, answers BEP 9 metadata requests when it holds the
/// info dictionary, and routes other extension messages by name. The caller moves bytes: feed
/// `receive`, drain `takeOutput`. TCP, uTP and encrypted streams all sit under it unchanged.
///
/// ```swift
/// var session = PeerSession(configuration, initiator: true)
/// stream.write(session.takeOutput())
/// session.append(bytes)
/// while let event = try session.next(onBlock: { index, begin, block in … }) { … }
/// ```
public struct PeerSession: Sendable {
    public struct Configuration: Sendable {
        public var infoHash: [UInt8]
        public var peerID: PeerID
        public var reserved = ReservedBits([ReservedBits.extensionProtocol, ReservedBits.fast])
        /// Set for torrents we know; nil when only the info hash is known (magnet, `tt handshake -i`).
        public var lengths: Lengths?
        /// Extension names we speak besides `ut_metadata`, given ids 1, 2, … after it in this order.
        public var extensionNames: [String] = []
        public var clientVersion: String?
        public var listenPort: Int?
        /// Our `reqq`: requests we queue for a peer.
        public var requestQueue = 500
        /// The info dictionary, when we serve it (BEP 9): its size goes in the extension handshake.
        public var metadata: [UInt8]?
        /// Advertise `ut_metadata` even without the info dictionary (we want to fetch it).
        public var wantsMetadata = false
        public var maxMessageLength = FrameDecoder.defaultMaxMessageLength
        /// The peer's IP as we see it (`yourip`, 4 or 16 bytes), so it can learn its address.
        public var yourIP: [UInt8]?

        public init(infoHash: [UInt8], peerID: PeerID) {
            self.infoHash = infoHash
            self.peerID = peerID
        }
    }

    /// What the peer did.
    public enum Event: Sendable, Equatable {
        /// Its handshake (ours has been queued in answer when it called).
        case handshake(Handshake)
        case extensionHandshake(ExtensionHandshake)
        /// A core message, already applied to the state (choke, interest, availability). `piece`
        /// messages come through `next(onBlock:)` instead; BEP 5 `port` arrives here as `.port`.
        case message(PeerMessage)
        /// A BEP 9 message that is not a request we answered ourselves.
        case metadata(MetadataMessage)
        /// A payload of an extension registered in `extensionNames`.
        case extensionMessage(name: String, payload: [UInt8])
    }

    public static let metadataExtension = "ut_metadata"

    public let configuration: Configuration
    public let initiator: Bool
    var decoder: FrameDecoder
    private var output: [UInt8] = []
    /// Our extension names by the id the peer sends them under.
    let localNames: [Int: String]

    public internal(set) var theirHandshake: Handshake?
    public internal(set) var theirExtensions: ExtensionHandshake?
    public internal(set) var amChoking = true
    public internal(set) var amInterested = false
    public internal(set) var peerChoking = true
    public internal(set) var peerInterested = false
    /// Pieces the peer has (nil while the torrent's size is unknown).
    public internal(set) var peerHas: Bitfield?
    /// Pieces the peer lets us request while choked (BEP 6).
    public internal(set) var allowedFast: Set<UInt32> = []
    public internal(set) var bytesSent: Int64 = 0
    public internal(set) var messagesSent = 0
    /// Set to record every frame in both directions (for traces); read with `takeFrames`. While set,
    /// `piece` messages arrive as `.message(.piece)` events instead of through `onBlock`.
    public var recordsFrames = false
    var frames: [TracedFrame] = []

    /// A frame as a trace shows it.
    public struct TracedFrame: Sendable, Equatable {
        public var outgoing: Bool
        public var frame: PeerFrame
    }

    public init(_ configuration: Configuration, initiator: Bool) {
        self.configuration = configuration
        self.initiator = initiator
        self.decoder = FrameDecoder(expectingHandshake: true, maxMessageLength: configuration.maxMessageLength)
        var names: [Int: String] = [:]
        for (offset, name) in ([Self.metadataExtension] + configuration.extensionNames).enumerated() { names[offset + 1] = name }
        self.localNames = names
        self.peerHas = configuration.lengths.map { Bitfield(pieceCount: $0.pieceCount) }
    }

    /// Queues our handshake (the side that dials speaks first).
    public mutating func start() {
        if initiator { queueHandshake() }
    }

    // MARK: - Negotiated

    public var handshakeDone: Bool { theirHandshake != nil }
    /// Both sides set the BEP 6 bit.
    public var fast: Bool { (theirHandshake?.reserved.supportsFast ?? false) && configuration.reserved.supportsFast }
    public var extensionsEnabled: Bool {
        (theirHandshake?.reserved.supportsExtensions ?? false) && configuration.reserved.supportsExtensions
    }
    /// The peer's `reqq`, when it sent one.
    public var peerRequestQueue: Int? { theirExtensions?.requestQueue }
    public var peerIsSeed: Bool { peerHas?.isComplete ?? false }

    /// True when the peer offered extension `name` (BEP 10 `m`, non-zero id).
    public func peerSupports(_ name: String) -> Bool { (theirExtensions?.messages[name] ?? 0) > 0 }

    // MARK: - Output

    /// Bytes to write to the stream, in order; empties the queue.
    public mutating func takeOutput() -> [UInt8] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }

    public var hasOutput: Bool { !output.isEmpty }

    public mutating func takeFrames() -> [TracedFrame] {
        defer { frames.removeAll() }
        return frames
    }

    /// Queues a message, keeping our side of the state (choke, interest) in step.
    public mutating func send(_ message: PeerMessage) {
        switch message {
        case .choke: amChoking = true
        case .unchoke: amChoking = false
        case .interested: amInterested = true
        case .notInterested: amInterested = false
        default: break
        }
        let before = output.count
        message.encode(into: &output)
        bytesSent += Int64(output.count - before)
        messagesSent += 1
        if recordsFrames { frames.append(TracedFrame(outgoing: true, frame: .message(message, wireLength: output.count - before))) }
    }

    /// Queues requests in one go (the download's hot path: no per-message bookkeeping but the count).
    public mutating func sendRequests(_ blocks: [BlockInfo]) {
        for block in blocks { send(.request(block.request)) }
    }

    /// Sends a payload of extension `name` under the peer's id for it; false when it does not speak it.
    @discardableResult
    public mutating func sendExtension(_ name: String, payload: [UInt8]) -> Bool {
        guard extensionsEnabled, let id = theirExtensions?.messages[name], id > 0, id < 256 else { return false }
        send(.extended(id: UInt8(id), payload: payload))
        return true
    }

    /// Our availability right after the handshake: have_all / have_none with the fast extension,
    /// otherwise a bitfield (nothing when we have nothing).
    public mutating func sendAvailability(_ have: Bitfield) {
        if fast && have.setCount == 0 { send(.haveNone) }
        else if fast && have.isComplete { send(.haveAll) }
        else if have.setCount > 0 { send(.bitfield(have.bytes)) }
    }

    mutating func queueHandshake() {
        let ours = Handshake(reserved: configuration.reserved, infoHash: configuration.infoHash, peerID: configuration.peerID)
        output += ours.encoded()
        bytesSent += Int64(Handshake.length)
        if recordsFrames { frames.append(TracedFrame(outgoing: true, frame: .handshake(ours))) }
    }

    mutating func queueExtensionHandshake() {
        var messages: [String: Int] = [:]
        for (id, name) in localNames where name != Self.metadataExtension || configuration.metadata != nil || configuration.wantsMetadata {
            messages[name] = id
        }
        let ours = ExtensionHandshake(messages: messages, version: configuration.clientVersion, listenPort: configuration.listenPort,
                                      yourIP: configuration.yourIP, requestQueue: configuration.requestQueue, metadataSize: configuration.metadata?.count)
        send(ours.message)
    }
}
