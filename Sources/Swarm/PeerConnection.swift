import Metainfo
import Net
import PeerWire

/// One peer as the swarm sees it: the channel, the wire decoder, both sides' choke and
/// interest, what the peer has, what we asked of it and what it asked of us, and its rates.
/// Lives on the event loop's thread only.
final class PeerConnection {
    let key: Int
    let address: SocketAddress
    let channel: StreamChannel
    let incoming: Bool
    var decoder = FrameDecoder(expectingHandshake: true, maxMessageLength: 1 << 20)
    var handshake: Handshake?
    var extensions: ExtensionHandshake?
    var has: Bitfield
    var sentBitfield = false

    var amChoking = true
    var amInterested = false
    var peerChoking = true
    var peerInterested = false
    /// BEP 6 fast extension negotiated both ways.
    var fast = false

    /// Requests we sent and have not had answered.
    var inFlight: Set<PiecePicker.Block> = []
    /// How many requests we keep outstanding; follows the peer's rate.
    var queueDepth = 32
    /// Requests the peer sent us, served as the socket drains.
    var uploadQueue: [BlockRequest] = []

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

    init(key: Int, address: SocketAddress, channel: StreamChannel, incoming: Bool, pieceCount: Int, now: Double) {
        self.key = key
        self.address = address
        self.channel = channel
        self.incoming = incoming
        self.has = Bitfield(pieceCount: pieceCount)
        self.lastBlockAt = now
        self.connectedAt = now
    }

    var name: String { address.description }
    var client: String? { handshake?.peerID.client }

    func send(_ message: PeerMessage) {
        channel.write(message.encoded())
    }

    /// Once a second: smooth the rates and size the request queue to about half a second of data,
    /// at most 2 MiB in flight per peer (which bounds the piece buffers we hold for it).
    func tick() {
        downloadRate = downloadRate * 0.6 + Double(bytesThisTick) * 0.4
        uploadRate = uploadRate * 0.6 + Double(uploadedThisTick) * 0.4
        bytesThisTick = 0
        uploadedThisTick = 0
        let blocksPerHalfSecond = Int(downloadRate / 2 / Double(PieceLayout.blockSize))
        queueDepth = snubbed ? 1 : min(128, max(16, blocksPerHalfSecond))
    }
}
