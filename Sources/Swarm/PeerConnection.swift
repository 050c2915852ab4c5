import Metainfo
import Net
import PeerWire

/// One peer as the swarm sees it: the stream under it, its protocol session, what we asked of it
/// and what it asked of us, and its rates. Lives on the event loop's thread only.
final class PeerConnection {
    let key: Int
    let address: SocketAddress
    let stream: any ByteStream
    let source: PeerSource
    var session: PeerSession

    var incoming: Bool { source == .incoming }
    var has: Bitfield
    /// Requests we sent and have not had answered, with when each went out.
    var inFlight: [PiecePicker.Block: Double] = [:]
    var pipeline = RequestPipeline()
    /// Requests the peer sent us, served as the stream drains.
    var uploadQueue: [BlockInfo] = []

    var downloadedBytes: Int64 = 0
    var uploadedBytes: Int64 = 0
    var bytesThisTick: Int64 = 0
    var uploadedThisTick: Int64 = 0
    var downloadRate: Double = 0
    var uploadRate: Double = 0
    var lastBlockAt: Double
    var connectedAt: Double
    var snubbed = false
    var hashFailures = 0
    /// Reported to components (after the extension handshake, or the first message without one).
    var announced = false

    init(key: Int, stream: any ByteStream, source: PeerSource, session: PeerSession, pieceCount: Int, now: Double) {
        self.key = key
        self.address = stream.remote
        self.stream = stream
        self.source = source
        self.session = session
        self.has = Bitfield(pieceCount: pieceCount)
        self.lastBlockAt = now
        self.connectedAt = now
    }

    var name: String { address.description }
    var handshakeDone: Bool { session.handshakeDone }
    var client: String? { session.theirHandshake?.peerID.client }

    /// Queues a message and writes what the session has to send.
    func send(_ message: PeerMessage) {
        session.send(message)
        flush()
    }

    func flush() {
        guard session.hasOutput, stream.isOpen else { return }
        stream.write(session.takeOutput())
    }

    /// Once a second: smooth the rates and resize the request pipeline.
    func tick() {
        downloadRate = downloadRate * 0.6 + Double(bytesThisTick) * 0.4
        uploadRate = uploadRate * 0.6 + Double(uploadedThisTick) * 0.4
        bytesThisTick = 0
        uploadedThisTick = 0
        pipeline.resize(rate: downloadRate, peerQueue: session.peerRequestQueue, snubbed: snubbed)
    }

    func snapshot() -> ConnectedPeer {
        var listen: SocketAddress? = incoming ? nil : address
        if incoming, let port = session.theirExtensions?.listenPort { listen = SocketAddress(ip: address.ip, port: UInt16(port)) }
        let offered = session.theirExtensions?.messages.filter { $0.value > 0 }.keys
        return ConnectedPeer(id: key, address: address, listenAddress: listen, transport: stream.transport,
                             isEncrypted: stream.isEncrypted, source: source, outgoing: !incoming, isSeed: has.isComplete,
                             extensions: Set(offered ?? [:].keys), clientVersion: session.theirExtensions?.version)
    }
}

/// How many requests to keep outstanding with one peer: the bandwidth-delay product, where the
/// delay is what a block takes from request to arrival (a peer that answers in batches every
/// 500 ms, as Transmission does, has that in it), with room to grow, up to the peer's `reqq`.
/// A fixed depth caps the rate at depth × 16 KiB per batch interval (16 → 512 KiB/s there).
struct RequestPipeline: Equatable {
    /// Outstanding requests to keep.
    private(set) var depth = RequestPipeline.initialDepth
    /// Smoothed seconds from request to block.
    private(set) var latency: Double?

    static let initialDepth = 32
    static let minimumDepth = 16
    /// Without a `reqq` we assume what most clients queue (libtorrent 500, Transmission 512, aria2 250+).
    static let defaultPeerQueue = 250
    static let maximumDepth = 1024
    /// At most this many in flight to a peer that answers within `slowAnswer` (2 MiB of blocks).
    static let fastPeerDepth = 128
    static let slowAnswer = 0.25

    mutating func blockArrived(after seconds: Double) {
        guard seconds >= 0 else { return }
        latency = latency.map { $0 * 0.8 + seconds * 0.2 } ?? seconds
    }

    /// Keeps enough in flight to cover twice the observed delay at the current rate (between 1 and
    /// 3 s of data, libtorrent's queue time): the factor lets the rate grow past what the current
    /// depth allows, as slow start does, and the 3 s bound stops our own queueing from feeding it.
    mutating func resize(rate: Double, peerQueue: Int?, snubbed: Bool) {
        if snubbed { depth = 1; return }
        let window = min(3.0, max(1.0, 2 * (latency ?? 0.5)))
        let wanted = Int((rate * window / Double(Lengths.blockSize)).rounded(.up))
        // A queue deeper than `fastPeerDepth` only pays for a peer whose blocks take long to come
        // (it answers in batches, or is far away); for a quick one it only feeds the endgame duplicates.
        let queue = min(Self.maximumDepth, max(Self.minimumDepth, peerQueue ?? Self.defaultPeerQueue))
        let ceiling = (latency ?? 0) >= Self.slowAnswer ? queue : min(queue, Self.fastPeerDepth)
        depth = min(ceiling, max(Self.minimumDepth, wanted))
    }
}
