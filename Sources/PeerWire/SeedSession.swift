import Metainfo

/// The serving side of one peer connection, as a state machine with no I/O: feed it the
/// bytes the peer sent, send the bytes it produces. It answers the handshake (ours, the
/// extension handshake, the bitfield or `have_all`), unchokes, and queues the peer's
/// requests; `nextOutput(budget:)` serves them through the `readBlock` closure, so a
/// caller on an event loop can serve only as fast as the socket drains.
///
/// `tt seed` runs one per connection on one loop; a swarm can reuse it for uploads.
public struct SeedSession {
    public struct Configuration: Sendable {
        public var infoHash: [UInt8]
        public var peerID: PeerID
        public var layout: PieceLayout
        public var have: Bitfield
        /// Extension handshake `v`.
        public var clientVersion: String
        public var listenPort: Int?
        /// Requests queued per peer before we reject (fast) or drop them.
        public var maxQueuedRequests: Int
        /// The largest block we serve.
        public var maxBlockLength: Int
        public var metadataSize: Int?

        public init(infoHash: [UInt8], peerID: PeerID, layout: PieceLayout, have: Bitfield, clientVersion: String,
                    listenPort: Int? = nil, maxQueuedRequests: Int = 500, maxBlockLength: Int = 128 * 1024,
                    metadataSize: Int? = nil) {
            self.infoHash = infoHash
            self.peerID = peerID
            self.layout = layout
            self.have = have
            self.clientVersion = clientVersion
            self.listenPort = listenPort
            self.maxQueuedRequests = maxQueuedRequests
            self.maxBlockLength = maxBlockLength
            self.metadataSize = metadataSize
        }
    }

    /// What happened, for logs and traces.
    public enum Event: Sendable {
        case handshake(Handshake)
        case received(PeerMessage, wireLength: Int)
        case sent(PeerMessage, wireLength: Int)
    }

    /// Reads `length` bytes at `begin` in `piece`; throws to report a storage failure.
    public typealias BlockReader = (PieceIndex, Int, Int) throws -> [UInt8]

    public let configuration: Configuration
    private var decoder = FrameDecoder(expectingHandshake: true)
    private var outbox: [UInt8] = []
    private var queue: [BlockRequest] = []
    private let readBlock: BlockReader
    public private(set) var peerHandshake: Handshake?
    public private(set) var peerExtensions: ExtensionHandshake?
    public private(set) var peerInterested = false
    public private(set) var uploadedBytes: Int64 = 0
    public private(set) var blocksServed = 0
    /// Record `.sent` / `.received` events (for traces); off by default to save work.
    public var recordsMessages = false
    public private(set) var events: [Event] = []

    public init(configuration: Configuration, readBlock: @escaping BlockReader) {
        self.configuration = configuration
        self.readBlock = readBlock
    }

    /// Requests waiting to be served.
    public var queuedRequests: Int { queue.count }
    /// True when `nextOutput` has something to give.
    public var hasOutput: Bool { !outbox.isEmpty || !queue.isEmpty }

    /// Takes bytes from the peer. Errors mean the connection should be closed.
    public mutating func receive<C: Collection>(_ bytes: C) throws(PeerWireError) where C.Element == UInt8 {
        decoder.append(bytes)
        while let frame = try decoder.next() {
            switch frame {
            case .handshake(let handshake): try handle(handshake)
            case .message(let message, let length):
                if recordsMessages { events.append(.received(message, wireLength: length)) }
                try handle(message)
            }
        }
    }

    /// Drains the recorded events.
    public mutating func takeEvents() -> [Event] {
        defer { events = [] }
        return events
    }

    /// Bytes to send: control messages first, then served blocks until about `budget` bytes.
    public mutating func nextOutput(budget: Int) throws(PeerWireError) -> [UInt8] {
        var out = outbox
        outbox = []
        while out.count < budget && !queue.isEmpty {
            let request = queue.removeFirst()
            guard let piece = configuration.layout.index(Int(request.index)) else { continue }
            let block: [UInt8]
            do {
                block = try readBlock(piece, Int(request.begin), Int(request.length))
            } catch {
                throw .storage("piece \(request.index): \(error)")
            }
            guard block.count == Int(request.length) else {
                throw .storage("piece \(request.index): short read (\(block.count) of \(request.length) bytes)")
            }
            let message = PeerMessage.piece(index: request.index, begin: request.begin, block: block)
            let before = out.count
            message.encode(into: &out)
            if recordsMessages { events.append(.sent(message, wireLength: out.count - before)) }
            uploadedBytes += Int64(block.count)
            blocksServed += 1
        }
        return out
    }

    private mutating func send(_ message: PeerMessage) {
        let before = outbox.count
        message.encode(into: &outbox)
        if recordsMessages { events.append(.sent(message, wireLength: outbox.count - before)) }
    }

    private var peerHasFast: Bool { peerHandshake?.reserved.supportsFast ?? false }

    private mutating func handle(_ handshake: Handshake) throws(PeerWireError) {
        guard handshake.infoHash == configuration.infoHash else {
            throw .wrongInfoHash(expected: configuration.infoHash, received: handshake.infoHash)
        }
        peerHandshake = handshake
        events.append(.handshake(handshake))
        let ours = Handshake(reserved: ReservedBits([ReservedBits.extensionProtocol, ReservedBits.fast]),
                             infoHash: configuration.infoHash, peerID: configuration.peerID)
        outbox += ours.encoded()
        if handshake.reserved.supportsExtensions {
            send(ExtensionHandshake(messages: [:], version: configuration.clientVersion, listenPort: configuration.listenPort,
                                    requestQueue: configuration.maxQueuedRequests,
                                    metadataSize: configuration.metadataSize).message)
        }
        let have = configuration.have
        if handshake.reserved.supportsFast && have.isComplete {
            send(.haveAll)
        } else if handshake.reserved.supportsFast && have.setCount == 0 {
            send(.haveNone)
        } else {
            send(.bitfield(have.bytes))
        }
        send(.unchoke)
    }

    private mutating func handle(_ message: PeerMessage) throws(PeerWireError) {
        let pieceCount = configuration.layout.pieceCount
        switch message {
        case .interested: peerInterested = true
        case .notInterested: peerInterested = false
        case .request(let request):
            guard let piece = configuration.layout.index(Int(request.index)) else {
                throw .pieceOutOfRange(message: "request", index: request.index, pieceCount: pieceCount)
            }
            let pieceLength = configuration.layout.length(of: piece)
            let end = Int(request.begin) + Int(request.length)
            if request.length == 0 || Int(request.length) > configuration.maxBlockLength || end > pieceLength {
                throw .badRequest(index: request.index, begin: request.begin, length: request.length,
                                  reason: end > pieceLength ? "beyond the piece's \(pieceLength) bytes"
                                      : "length must be 1 to \(configuration.maxBlockLength)")
            }
            if !configuration.have[piece.value] || queue.count >= configuration.maxQueuedRequests {
                if peerHasFast { send(.reject(request)) }
                return
            }
            queue.append(request)
        case .cancel(let request):
            if let position = queue.firstIndex(of: request) {
                queue.remove(at: position)
                if peerHasFast { send(.reject(request)) }
            }
        case .have(let piece), .suggest(let piece), .allowedFast(let piece):
            guard Int(piece) < pieceCount else {
                throw .pieceOutOfRange(message: message.name, index: piece, pieceCount: pieceCount)
            }
        case .bitfield(let bytes):
            _ = try Bitfield.decoding(bytes, pieceCount: pieceCount)
        case .extended(let id, let payload):
            if id == 0 { peerExtensions = try? ExtensionHandshake(decoding: payload) }
        case .keepAlive, .choke, .unchoke, .piece, .port, .haveAll, .haveNone, .reject:
            break
        }
    }
}
