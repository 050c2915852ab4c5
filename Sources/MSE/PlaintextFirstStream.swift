import Net

/// `prefer` when dialing: the connection starts plain, and if the peer hangs up before sending
/// a single byte (what peers that require encryption do with a plain handshake) the stream dials
/// again with MSE/PE and replays what the session had written, so the session never notices.
///
/// Plain first because most peers accept both and then answer in one round trip, and because
/// peers that speak no MSE may take only one connection; a peer that insists on encryption costs
/// one extra connect.
public final class PlaintextFirstStream: ByteStream {
    public private(set) var inner: any ByteStream
    private let loop: EventLoop
    private let retry: (@escaping (Result<any ByteStream, MSEConnectionError>) -> Void) -> Void
    private let onStep: (MSEStep) -> Void
    /// Everything written while no byte has come back yet (replayed on the encrypted retry).
    private var unanswered: [[UInt8]] = []
    private var unansweredBytes = 0
    private var answered = false
    private var retrying = false
    private var closedLocally = false
    /// True once the plain attempt was refused and the stream went encrypted.
    public private(set) var retried = false

    public var onData: ((ArraySlice<UInt8>) -> Void)?
    public var onClose: ((NetError?) -> Void)?
    public var onDrained: (() -> Void)?

    /// Replay is bounded: past this many unanswered bytes the plain attempt is final.
    static let replayLimit = 256 * 1024

    init(plain: any ByteStream, loop: EventLoop, onStep: @escaping (MSEStep) -> Void,
         retry: @escaping (@escaping (Result<any ByteStream, MSEConnectionError>) -> Void) -> Void) {
        self.inner = plain
        self.loop = loop
        self.retry = retry
        self.onStep = onStep
    }

    public var remote: SocketAddress { inner.remote }
    public var transport: TransportKind { inner.transport }
    public var isEncrypted: Bool { inner.isEncrypted }
    /// The MSE method in use after a retry (nil while plain).
    public var method: CryptoMethods? { (inner as? MSEStream)?.method }
    public var isOpen: Bool { !closedLocally && (retrying || inner.isOpen) }
    public var bufferedBytes: Int { retrying ? unansweredBytes : inner.bufferedBytes }
    public var pausedReading = false { didSet { inner.pausedReading = pausedReading } }

    public func start() {
        hook(inner)
        inner.start()
    }

    public func write(_ bytes: [UInt8]) {
        guard !closedLocally else { return }
        if !answered {
            unanswered.append(bytes)
            unansweredBytes += bytes.count
            if unansweredBytes > Self.replayLimit { settle() }
        }
        if !retrying { inner.write(bytes) }
    }

    public func write(chunks: [ArraySlice<UInt8>]) {
        guard answered, !retrying, !closedLocally else { write(chunks.reduce(into: [UInt8]()) { $0 += $1 }); return }
        inner.write(chunks: chunks)
    }

    public func close() {
        closedLocally = true
        inner.close()
    }

    private func settle() {
        answered = true
        unanswered = []
        unansweredBytes = 0
    }

    private func hook(_ stream: any ByteStream) {
        stream.onData = { [weak self] chunk in
            guard let self else { return }
            if !self.answered { self.settle() }
            self.onData?(chunk)
        }
        stream.onDrained = { [weak self] in self?.onDrained?() }
        stream.onClose = { [weak self] error in self?.innerClosed(error) }
    }

    private func innerClosed(_ error: NetError?) {
        guard !answered, !retried, !closedLocally else { onClose?(error); return }
        retrying = true
        retried = true
        onStep(MSEStep("mse_retry", [("reason", .string("the peer closed the plaintext handshake"))]))
        retry { [weak self] result in
            guard let self else { return }
            self.retrying = false
            switch result {
            case .success(let encrypted):
                guard !self.closedLocally else { encrypted.close(); return }
                self.inner = encrypted
                encrypted.pausedReading = self.pausedReading
                self.hook(encrypted)
                encrypted.start()
                for chunk in self.unanswered { encrypted.write(chunk) }
            case .failure(let failure):
                self.onStep(MSEStep("mse_retry_failed", [("reason", .string(failure.description))]))
                guard !self.closedLocally else { return }
                // The peer's first refusal is what the session should see.
                self.onClose?(error)
            }
        }
    }
}
