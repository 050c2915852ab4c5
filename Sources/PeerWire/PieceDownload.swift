import Metainfo

/// Fetching one piece from one peer: which blocks to request next (keeping `maxInFlight`
/// outstanding), and assembling what arrives. No I/O: feed it the peer's `piece`, `reject` and
/// `choke` messages, send what `nextRequests()` returns. Blocks come from `Lengths`.
public struct PieceDownload: Sendable {
    public let piece: PieceIndex
    public let lengths: Lengths
    public var maxInFlight: Int

    public private(set) var data: [UInt8]
    private var received: [Bool]
    private var requested: [Bool]
    /// Blocks asked for and not yet answered (by offset).
    public private(set) var inFlight: Set<Int> = []
    public private(set) var receivedBlocks = 0
    /// Blocks that arrived twice or after being given up (ignored, counted).
    public private(set) var duplicateBlocks = 0

    public init(piece: PieceIndex, lengths: Lengths, maxInFlight: Int = 16) {
        self.piece = piece
        self.lengths = lengths
        self.maxInFlight = maxInFlight
        self.data = [UInt8](repeating: 0, count: lengths.length(of: piece))
        let blocks = lengths.blockCount(of: piece)
        self.received = [Bool](repeating: false, count: blocks)
        self.requested = [Bool](repeating: false, count: blocks)
    }

    public var length: Int { data.count }
    public var blockCount: Int { received.count }
    public var isComplete: Bool { receivedBlocks == blockCount }

    /// Requests to send now so that up to `maxInFlight` are outstanding.
    public mutating func nextRequests() -> [BlockRequest] {
        var out: [BlockRequest] = []
        var block = 0
        while inFlight.count < maxInFlight && block < blockCount {
            if !received[block] && !requested[block] {
                requested[block] = true
                let next = lengths.block(block, of: piece)
                inFlight.insert(next.begin)
                out.append(next.request)
            }
            block += 1
        }
        return out
    }

    /// Takes a `piece` message. A block we never asked for (wrong piece, offset or length) is
    /// an error; a repeat of one we already have is counted and ignored.
    public mutating func receive(index: UInt32, begin: UInt32, block: [UInt8]) throws(PeerWireError) {
        guard let info = lengths.receivedBlock(index: index, begin: begin, length: block.count), info.piece == piece,
              requested[info.number] else {
            throw .unrequestedBlock(index: index, begin: begin, length: block.count)
        }
        if received[info.number] { duplicateBlocks += 1; return }
        data.replaceSubrange(info.begin..<info.begin + block.count, with: block)
        received[info.number] = true
        receivedBlocks += 1
        inFlight.remove(info.begin)
    }

    /// The peer refused a request (BEP 6): it will be asked again by `nextRequests()`.
    public mutating func rejected(_ request: BlockRequest) {
        guard request.index == UInt32(piece.value), inFlight.remove(Int(request.begin)) != nil else { return }
        requested[Int(request.begin) / Lengths.blockSize] = false
    }

    /// The peer choked us. Without the fast extension every outstanding request is void.
    public mutating func choked(peerHasFast: Bool) {
        guard !peerHasFast else { return }
        for begin in inFlight { requested[begin / Lengths.blockSize] = false }
        inFlight = []
    }

    /// Forgets everything received (after a bad hash, to try again).
    public mutating func reset() {
        self = PieceDownload(piece: piece, lengths: lengths, maxInFlight: maxInFlight)
    }
}
