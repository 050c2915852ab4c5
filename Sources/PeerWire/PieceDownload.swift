/// Fetching one piece from one peer: which 16 KiB blocks to request next (keeping
/// `maxInFlight` outstanding), and assembling what arrives. No I/O: feed it the peer's
/// `piece`, `reject` and `choke` messages, send what `nextRequests()` returns.
public struct PieceDownload: Sendable {
    public let piece: UInt32
    public let length: Int
    public let blockSize: Int
    public var maxInFlight: Int

    public private(set) var data: [UInt8]
    private var received: [Bool]
    private var requested: [Bool]
    /// Blocks asked for and not yet answered.
    public private(set) var inFlight: Set<UInt32> = []
    public private(set) var receivedBlocks = 0
    /// Blocks that arrived twice or after being given up (ignored, counted).
    public private(set) var duplicateBlocks = 0

    public init(piece: UInt32, length: Int, blockSize: Int = 16 * 1024, maxInFlight: Int = 16) {
        precondition(length > 0 && blockSize > 0)
        self.piece = piece
        self.length = length
        self.blockSize = blockSize
        self.maxInFlight = maxInFlight
        self.data = [UInt8](repeating: 0, count: length)
        let blocks = (length + blockSize - 1) / blockSize
        self.received = [Bool](repeating: false, count: blocks)
        self.requested = [Bool](repeating: false, count: blocks)
    }

    public var blockCount: Int { received.count }
    public var isComplete: Bool { receivedBlocks == blockCount }

    func request(for block: Int) -> BlockRequest {
        let begin = block * blockSize
        return BlockRequest(index: piece, begin: UInt32(begin), length: UInt32(min(blockSize, length - begin)))
    }

    /// Requests to send now so that up to `maxInFlight` are outstanding.
    public mutating func nextRequests() -> [BlockRequest] {
        var out: [BlockRequest] = []
        var block = 0
        while inFlight.count < maxInFlight && block < blockCount {
            if !received[block] && !requested[block] {
                requested[block] = true
                let next = request(for: block)
                inFlight.insert(next.begin)
                out.append(next)
            }
            block += 1
        }
        return out
    }

    /// Takes a `piece` message. A block we never asked for (wrong piece, offset or length) is
    /// an error; a repeat of one we already have is counted and ignored.
    public mutating func receive(index: UInt32, begin: UInt32, block: [UInt8]) throws(PeerWireError) {
        let offset = Int(begin)
        guard index == piece, offset % blockSize == 0, offset < length else {
            throw .unrequestedBlock(index: index, begin: begin, length: block.count)
        }
        let number = offset / blockSize
        let expected = request(for: number)
        guard block.count == Int(expected.length), requested[number] else {
            throw .unrequestedBlock(index: index, begin: begin, length: block.count)
        }
        if received[number] { duplicateBlocks += 1; return }
        data.replaceSubrange(offset..<offset + block.count, with: block)
        received[number] = true
        receivedBlocks += 1
        inFlight.remove(begin)
    }

    /// The peer refused a request (BEP 6): it will be asked again by `nextRequests()`.
    public mutating func rejected(_ block: BlockRequest) {
        guard block.index == piece, inFlight.remove(block.begin) != nil else { return }
        let number = Int(block.begin) / blockSize
        requested[number] = false
    }

    /// The peer choked us. Without the fast extension every outstanding request is void.
    public mutating func choked(peerHasFast: Bool) {
        guard !peerHasFast else { return }
        for begin in inFlight { requested[Int(begin) / blockSize] = false }
        inFlight = []
    }

    /// Forgets everything received (after a bad hash, to try again).
    public mutating func reset() {
        self = PieceDownload(piece: piece, length: length, blockSize: blockSize, maxInFlight: maxInFlight)
    }
}
