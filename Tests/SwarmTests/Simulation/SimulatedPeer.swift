import Metainfo
import Net
import PeerWire

/// A peer in a simulated swarm, speaking the wire through PeerWire's `PeerSession` (the engine's own
/// peer state machine, from the other end) over a `SimulatedStream`,
/// whose behaviour a test sets: what it has, whether and when it unchokes, whether it answers,
/// lies or leaves, and — as a leecher — what it asks of us. It records what it is sent, with the
/// virtual time, so tests can assert on what the engine did.
final class SimulatedPeer {
    struct Behaviour {
        enum Pieces { case all, none, some(Set<Int>) }
        /// What it has at the start.
        var pieces: Pieces = .all
        /// Unchokes an interested engine (while `chokeCycle` allows).
        var unchokes = true
        /// Alternates unchoked/choked: (seconds unchoked, seconds choked), from the first unchoke.
        var chokeCycle: (unchoked: Double, choked: Double)?
        /// Answers requests; false is the silent peer (it unchokes, then sends nothing).
        var answers = true
        /// Flips a byte in every block it sends (the liar).
        var corruptsBlocks = false
        /// Resets the connection once it has sent this many block bytes (leaving mid-piece).
        var leavesAfterBytes: Int?
        /// Seconds between a request arriving and the block being queued (a client that batches).
        var answerDelay: Double = 0
        /// Downloads from the engine: interested, and requests what it lacks while unchoked.
        var leeches = false
        /// Requests a leecher keeps outstanding.
        var requestDepth = 8
        /// Dials the engine instead of waiting to be dialled.
        var dialsEngine = false
        /// Unchokes no one before this virtual time (so every peer is connected before any is served).
        var unchokeNotBefore: Double = 0
        /// Sets the BEP 10 and BEP 6 bits: have_all/have_none, and a reject for every request it drops.
        var speaksExtensions = false
    }

    /// What it received, as seen on the wire (piece blocks recorded without their bytes).
    struct Received {
        var time: Double
        var message: PeerMessage
    }

    let index: Int
    let address: SocketAddress
    let behaviour: Behaviour
    let torrent: SimulatedTorrent
    let loop: EventLoop
    let peerID: PeerID
    private(set) var has: Bitfield
    private(set) var stream: SimulatedStream?
    private var session: PeerSession?
    private(set) var engineHandshake: Handshake?

    private(set) var received: [Received] = []
    /// Engine's view of us as we know it.
    private(set) var engineHas: Bitfield
    private(set) var engineInterested = false
    private(set) var amChoking = true
    private(set) var engineChoking = true
    /// Requests waiting to be answered, in order.
    private var pending: [BlockRequest] = []
    private(set) var blockBytesSent = 0
    private(set) var blockBytesReceived = 0
    /// Leecher: requests outstanding to the engine.
    private var outstanding: Set<BlockRequest> = []
    private(set) var left = false
    /// The half block is on its way; reset once it has left.
    private var leavingWhenDrained = false
    private(set) var closedByEngine = false

    init(index: Int, behaviour: Behaviour, torrent: SimulatedTorrent, loop: EventLoop) {
        self.index = index
        self.address = SimulatedNetwork.peerAddress(index)
        self.behaviour = behaviour
        self.torrent = torrent
        self.loop = loop
        self.peerID = PeerID(bytes: Array("-SM0001-".utf8) + Array(String(format6(index)).utf8) + [UInt8](repeating: 0x30, count: 6))
        switch behaviour.pieces {
        case .all: has = Bitfield(pieceCount: torrent.pieceCount, all: true)
        case .none: has = Bitfield(pieceCount: torrent.pieceCount)
        case .some(let pieces):
            has = Bitfield(pieceCount: torrent.pieceCount)
            for piece in pieces { has.set(piece) }
        }
        engineHas = Bitfield(pieceCount: torrent.pieceCount)
    }

    // MARK: - Connection

    /// Takes one end of a connection (accepted or dialled); it speaks first only when it dialled.
    func attach(_ stream: SimulatedStream, dialled: Bool) {
        guard self.stream == nil, !left else { stream.close(); return }
        self.stream = stream
        // A new connection starts from scratch (what it has stays).
        var configuration = PeerSession.Configuration(infoHash: torrent.infoHash, peerID: peerID)
        configuration.lengths = Lengths(layout: torrent.torrent.layout)
        if !behaviour.speaksExtensions { configuration.reserved = ReservedBits() }
        session = PeerSession(configuration, initiator: dialled)
        engineHandshake = nil
        engineHas = Bitfield(pieceCount: torrent.pieceCount)
        engineInterested = false
        amChoking = true
        engineChoking = true
        pending = []
        outstanding = []
        requested = []
        stream.onData = { [unowned self] bytes in receive(bytes) }
        stream.onClose = { [unowned self, unowned stream] _ in
            closedByEngine = true
            if self.stream === stream { self.stream = nil }
        }
        stream.onDrained = { [unowned self] in serve() }
        stream.start()
        session?.start()
        flush()
    }

    var isConnected: Bool { stream?.isOpen == true }

    private func send(_ message: PeerMessage) {
        session?.send(message)
        flush()
    }

    private func flush() {
        guard let stream, stream.isOpen, session?.hasOutput == true, let bytes = session?.takeOutput() else { return }
        stream.write(bytes)
    }

    private func receive(_ bytes: ArraySlice<UInt8>) {
        session?.append(bytes)
        do {
            while stream != nil {
                // Blocks come out while the session is busy: note them, act once it returns.
                var blocks: [BlockRequest] = []
                let event = try session?.next(onBlock: { index, begin, block in
                    blocks.append(BlockRequest(index: index, begin: begin, length: UInt32(block.count)))
                })
                for block in blocks {
                    received.append(Received(time: loop.now, message: .piece(index: block.index, begin: block.begin, block: [])))
                    received(block: block)
                }
                guard let event else {
                    if blocks.isEmpty { break } else { continue }
                }
                switch event {
                case .handshake(let handshake):
                    // The session queued ours in answer; then what we have, and whether we want anything.
                    engineHandshake = handshake
                    session?.sendAvailability(has)
                    if behaviour.leeches { session?.send(.interested) }
                case .message(let message):
                    handle(message)
                case .extensionHandshake, .metadata, .extensionMessage:
                    break
                }
                flush()
            }
        } catch {
            leave()
        }
        flush()
    }

    private func handle(_ message: PeerMessage) {
        if case .piece(let index, let begin, let block) = message {
            received.append(Received(time: loop.now, message: .piece(index: index, begin: begin, block: [])))
            received(block: BlockRequest(index: index, begin: begin, length: UInt32(block.count)))
            return
        }
        received.append(Received(time: loop.now, message: message))
        switch message {
        case .interested:
            engineInterested = true
            if loop.now < behaviour.unchokeNotBefore {
                loop.schedule(at: behaviour.unchokeNotBefore) { [self] in
                    if isConnected && engineInterested && behaviour.unchokes && amChoking && inUnchokedPhase { unchoke() }
                }
            } else if behaviour.unchokes && amChoking && inUnchokedPhase {
                unchoke()
            }
        case .notInterested:
            engineInterested = false
        case .request(let request):
            guard !amChoking, behaviour.answers else {
                if session?.fast == true && amChoking { send(.reject(request)) }
                return
            }
            if behaviour.answerDelay > 0 {
                loop.schedule(after: behaviour.answerDelay) { [self] in queue(request) }
            } else {
                queue(request)
            }
        case .cancel(let request):
            pending.removeAll { $0 == request }
        case .have, .bitfield, .haveAll, .haveNone:
            // The session checked and applied it.
            if let field = session?.peerHas { engineHas = field }
            requestMore()
        case .choke:
            engineChoking = true
            outstanding.removeAll()
        case .unchoke:
            engineChoking = false
            requestMore()
        default:
            break
        }
    }

    // MARK: - Serving (a seeder's side)

    /// True while `chokeCycle` says it unchokes.
    private var inUnchokedPhase: Bool {
        guard let cycle = behaviour.chokeCycle else { return true }
        let phase = loop.now.truncatingRemainder(dividingBy: cycle.unchoked + cycle.choked)
        return phase < cycle.unchoked
    }

    private func unchoke() {
        amChoking = false
        send(.unchoke)
        if let cycle = behaviour.chokeCycle {
            loop.schedule(after: cycle.unchoked) { [self] in
                guard isConnected else { return }
                amChoking = true
                // With the fast extension every dropped request is rejected (BEP 6).
                if session?.fast == true { for request in pending { session?.send(.reject(request)) } }
                pending.removeAll()
                send(.choke)
                loop.schedule(after: cycle.choked) { [self] in
                    if isConnected && engineInterested && amChoking { unchoke() }
                }
            }
        }
    }

    private func queue(_ request: BlockRequest) {
        guard isConnected, !amChoking else { return }
        pending.append(request)
        if stream?.bufferedBytes == 0 { serve() }
    }

    /// Sends the next block when the lane has drained, so cancels can still reach queued requests.
    private func serve() {
        if leavingWhenDrained { return leave(reset: true) }
        guard let stream, stream.isOpen, stream.bufferedBytes == 0, !pending.isEmpty else { return }
        let request = pending.removeFirst()
        let piece = Int(request.index)
        guard has[safe: piece], var block = torrent.block(piece: piece, begin: Int(request.begin), length: Int(request.length)) else {
            return serve()
        }
        if behaviour.corruptsBlocks { block[block.count / 2] ^= 0xFF }
        if let limit = behaviour.leavesAfterBytes, blockBytesSent + block.count > limit {
            // Leave mid-piece: half a block on the wire, then a reset.
            let message = PeerMessage.piece(index: request.index, begin: request.begin, block: block).encoded()
            stream.write(Array(message.prefix(message.count / 2)))
            blockBytesSent += block.count / 2
            leavingWhenDrained = true
            return
        }
        blockBytesSent += block.count
        send(.piece(index: request.index, begin: request.begin, block: block))
    }

    // MARK: - Leeching (to test the engine's choking as a seeder)

    private func received(block request: BlockRequest) {
        outstanding.remove(request)
        blockBytesReceived += Int(request.length)
        requestMore()
    }

    private func requestMore() {
        guard behaviour.leeches, !engineChoking, isConnected else { return }
        let blockSize = 16 * 1024
        outer: for piece in 0..<torrent.pieceCount where engineHas[safe: piece] && !has[safe: piece] {
            for begin in stride(from: 0, to: torrent.length(of: piece), by: blockSize) {
                guard outstanding.count < behaviour.requestDepth else { break outer }
                let request = BlockRequest(index: UInt32(piece), begin: UInt32(begin),
                                           length: UInt32(min(blockSize, torrent.length(of: piece) - begin)))
                if outstanding.contains(request) || requested.contains(request) { continue }
                outstanding.insert(request)
                requested.insert(request)
                send(.request(request))
            }
        }
        // A leecher that got everything the engine has starts over, so it stays interested and busy.
        if outstanding.isEmpty && !engineHas.isEmpty && !requested.isEmpty {
            requested.removeAll()
            requestMore()
        }
    }

    private var requested: Set<BlockRequest> = []

    // MARK: - Leaving

    /// Closes its end (an orderly end, or a reset) and stays away.
    func leave(reset: Bool = false) {
        left = true
        if reset { stream?.reset() } else { stream?.close() }
        stream = nil
    }

    // MARK: - What the engine did, for assertions

    var requestsReceived: [(time: Double, request: BlockRequest)] {
        received.compactMap { if case .request(let r) = $0.message { return ($0.time, r) } else { return nil } }
    }
    var cancelsReceived: [(time: Double, request: BlockRequest)] {
        received.compactMap { if case .cancel(let r) = $0.message { return ($0.time, r) } else { return nil } }
    }
    /// (time, unchoked?) each time the engine changed its mind about us.
    var chokeChanges: [(time: Double, unchoked: Bool)] {
        received.compactMap {
            switch $0.message {
            case .unchoke: return ($0.time, true)
            case .choke: return ($0.time, false)
            default: return nil
            }
        }
    }
}

private func format6(_ value: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
}

extension Bitfield {
    /// False for indexes out of range instead of a trap.
    subscript(safe index: Int) -> Bool { index >= 0 && index < pieceCount && self[index] }
    var isEmpty: Bool { setCount == 0 }
}
