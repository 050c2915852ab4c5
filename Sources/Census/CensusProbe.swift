import Metainfo
import Net
import PeerWire
import Swarm

/// One way to reach peers: a carrier and an encryption level, with the dialer that does it.
public struct CensusTransport {
    public var transport: String
    public var encryption: String
    public var dialer: any PeerDialer

    public init(transport: String, encryption: String, dialer: any PeerDialer) {
        self.transport = transport
        self.encryption = encryption
        self.dialer = dialer
    }
}

/// Reaches one peer on the census loop: tries each transport in turn until a handshake completes,
/// then listens (never requesting or sending a piece) until it knows what the peer holds and
/// whether it unchokes us, or the census ends. Only the handshake, our extension handshake,
/// `have_none` (or nothing) and `interested` are ever sent.
final class CensusProbe {
    private(set) var report: CensusPeerReport
    private let loop: EventLoop
    private let configuration: PeerSession.Configuration
    private let transports: [CensusTransport]
    private let connectTimeout: Double
    private let deadline: Double
    private var stream: (any ByteStream)?
    private var session: PeerSession?
    private var attemptStart = 0.0
    private var connectedAt = 0.0
    private var timer: EventLoop.TimerID?
    private(set) var finished = false
    private var retried = false
    /// The delayed retry: whatever happens, no further way after it.
    private var lastAttempt = false
    /// Peers named over PEX, for the census to add.
    var onPEXPeers: (([SocketAddress]) -> Void)?
    var onFinished: ((CensusProbe) -> Void)?

    init(report: CensusPeerReport, loop: EventLoop, configuration: PeerSession.Configuration, transports: [CensusTransport],
         connectTimeout: Double, deadline: Double) {
        self.report = report
        self.loop = loop
        self.configuration = configuration
        self.transports = transports
        self.connectTimeout = connectTimeout
        self.deadline = deadline
    }

    func start() { attempt(0) }

    /// Ends the probe now (the census is over); what was learned stays.
    func stop() {
        guard !finished else { return }
        if stream != nil && session?.handshakeDone != true { record(failure: "timeout", "no handshake before the census ended") }
        finish()
    }

    private var pieceCount: Int? { configuration.lengths?.pieceCount }

    private func attempt(_ index: Int, last: Bool = false) {
        guard index < transports.count, loop.now < deadline else { return finish() }
        if last { lastAttempt = true }
        let way = transports[index]
        attemptStart = loop.now
        let timeout = max(0.05, min(connectTimeout, deadline - loop.now))
        way.dialer.dial(report.address, loop: loop, timeout: timeout) { [self] result in
            switch result {
            case .failure(let error):
                record(failure: Self.kind(error), error.description, way: way)
                lastAttempt ? finish() : next(after: index)
            case .success(let stream):
                connected(stream, way: way, index: index)
            }
        }
    }

    private func connected(_ stream: any ByteStream, way: CensusTransport, index: Int) {
        self.stream = stream
        connectedAt = loop.now
        report.connectTime = report.connectTime ?? (loop.now - attemptStart)
        var session = PeerSession(configuration, initiator: true)
        session.start()
        self.session = session
        stream.onData = { [weak self] bytes in self?.receive(bytes, way: way, index: index) }
        stream.onClose = { [weak self] error in self?.closed(error, way: way, index: index) }
        stream.start()
        flush()
        // No handshake within the connect timeout: try the next way (a peer that wants encryption
        // often just waits for bytes it never gets).
        timer = loop.schedule(after: max(0.05, min(connectTimeout, deadline - loop.now))) { [weak self] in
            guard let self, self.session?.handshakeDone != true, !self.finished else { return }
            self.drop()
            self.record(failure: "timeout", "no handshake", way: way)
            self.lastAttempt ? self.finish() : self.next(after: index)
        }
    }

    private func receive(_ bytes: ArraySlice<UInt8>, way: CensusTransport, index: Int) {
        guard var session else { return }
        session.append(bytes)
        do {
            while let event = try session.next(onBlock: { _, _, _ in }) {
                handle(event, session: &session, way: way)
            }
        } catch {
            self.session = session
            let wrong: Bool
            if case .wrongInfoHash = error { wrong = true } else { wrong = false }
            if !session.handshakeDone || wrong {
                drop()
                record(failure: wrong ? "wrong_info_hash" : "protocol", error.description, way: way)
                return wrong || lastAttempt ? finish() : next(after: index)
            }
            // A protocol error after the handshake: the peer is reached; say what it did.
            report.attempts.append(CensusAttemptReport(transport: way.transport, encryption: way.encryption, failure: nil,
                                                       message: "then: \(error)", seconds: loop.now - attemptStart))
            return finish()
        }
        self.session = session
        flush()
        if isDone { finish() }
    }

    private func handle(_ event: PeerSession.Event, session: inout PeerSession, way: CensusTransport) {
        switch event {
        case .handshake(let handshake):
            report.handshake = handshake
            report.handshakeTime = loop.now - connectedAt
            report.attempts.append(CensusAttemptReport(transport: way.transport, encryption: stream?.isEncrypted == true ? "rc4" : way.encryption,
                                                       failure: nil, message: nil, seconds: loop.now - attemptStart))
            if let timer { loop.cancel(timer) }
            if session.fast { session.send(.haveNone) }
            session.send(.interested)
            timer = loop.schedule(at: deadline) { [weak self] in self?.finish() }
        case .extensionHandshake(let extensions):
            report.extensions = extensions
        case .message(.bitfield(let bytes)):
            if let pieceCount {
                report.have = Bitfield(bytes: bytes, pieceCount: pieceCount)
            } else {
                report.haveCount = bytes.reduce(0) { $0 + $1.nonzeroBitCount }
            }
        case .message(.haveAll):
            report.saidHaveAll = true
            if let pieceCount { report.have = Bitfield(pieceCount: pieceCount, all: true) }
        case .message(.haveNone):
            report.haveCount = 0
            if let pieceCount { report.have = Bitfield(pieceCount: pieceCount) }
        case .message(.have(let piece)):
            if report.have != nil, Int(piece) < report.have!.pieceCount { report.have![Int(piece)] = true }
            else if pieceCount == nil { report.haveCount = (report.haveCount ?? 0) + 1 }
        case .message(.unchoke):
            report.unchokedAfter = report.unchokedAfter ?? (loop.now - connectedAt)
        case .extensionMessage(let name, let payload) where name == PEXMessage.name:
            if let message = try? PEXMessage(decoding: payload) {
                let peers = message.added.compactMap { SocketAddress(ipBytes: $0.ip, port: $0.port) }
                report.pexPeers += peers.count
                onPEXPeers?(peers)
            }
        default:
            break
        }
    }

    /// Known what it holds and whether it unchokes us: nothing more to wait for.
    private var isDone: Bool {
        report.handshake != nil && report.unchokedAfter != nil && (report.have != nil || report.saidHaveAll || report.haveCount != nil)
    }

    private func closed(_ error: NetError?, way: CensusTransport, index: Int) {
        stream = nil
        if session?.handshakeDone == true { return finish() }
        record(failure: error.map(Self.kind) ?? "closed", error?.description ?? "closed the connection before the handshake", way: way)
        if let timer { loop.cancel(timer) }
        lastAttempt ? finish() : next(after: index)
    }

    /// The next way to reach the peer. When every way has been tried and one of them was hung up on
    /// a fresh connection — a peer busy, still loading the torrent, or refusing a quick reconnect
    /// (Transmission) — that way is asked once more, a little later.
    private func next(after index: Int) {
        if index + 1 < transports.count { return attempt(index + 1) }
        let closedWay = report.attempts.first { $0.failure == "closed" }.flatMap { closed in
            transports.firstIndex { $0.transport == closed.transport && $0.encryption == closed.encryption }
        }
        if !retried, let again = closedWay, loop.now + Self.retryDelay + 0.5 < deadline {
            retried = true
            timer = loop.schedule(after: Self.retryDelay) { [weak self] in self?.attempt(again, last: true) }
            return
        }
        finish()
    }

    static let retryDelay = 1.5

    private func flush() {
        guard var session, let stream, session.hasOutput, stream.isOpen else { return }
        stream.write(session.takeOutput())
        self.session = session
    }

    private func record(failure: String, _ message: String, way: CensusTransport? = nil) {
        let way = way ?? transports.first!
        report.attempts.append(CensusAttemptReport(transport: way.transport, encryption: way.encryption, failure: failure,
                                                   message: message, seconds: loop.now - attemptStart))
    }

    private func drop() {
        stream?.onClose = nil
        stream?.onData = nil
        stream?.close()
        stream = nil
        session = nil
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        if let timer { loop.cancel(timer) }
        drop()
        onFinished?(self)
    }

    static func kind(_ error: NetError) -> String {
        switch error {
        case .refused: return "refused"
        case .timeout: return "timeout"
        case .closed: return "closed"
        case .unreachable, .dns, .badAddress: return "unreachable"
        case .system: return "error"
        }
    }
}
