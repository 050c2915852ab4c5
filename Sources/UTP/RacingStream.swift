import Net

/// Several connections to one peer racing to answer: writes go to every candidate (and are replayed
/// to late ones) until one delivers data; that one wins and the others are closed.
public final class RacingStream: ByteStream {
    public let remote: SocketAddress
    public var onData: ((ArraySlice<UInt8>) -> Void)?
    public var onClose: ((NetError?) -> Void)?
    public var onDrained: (() -> Void)?
    public var pausedReading = false {
        didSet { for candidate in candidates { candidate.pausedReading = pausedReading } }
    }

    private(set) var candidates: [any ByteStream] = []
    private(set) var winner: (any ByteStream)?
    private(set) var pendingDials: Int
    private(set) var lastError: NetError?
    private var written: [[UInt8]] = []
    private var started = false
    private var closed = false
    private var ended = false

    init(remote: SocketAddress, pendingDials: Int) {
        self.remote = remote
        self.pendingDials = pendingDials
    }

    /// The winner's carrier; before the race ends, the first candidate's.
    public var transport: TransportKind { (winner ?? candidates.first)?.transport ?? .tcp }
    public var isEncrypted: Bool { (winner ?? candidates.first)?.isEncrypted ?? false }
    public var isOpen: Bool { !closed && !ended }
    public var bufferedBytes: Int { winner?.bufferedBytes ?? candidates.map(\.bufferedBytes).max() ?? 0 }

    func dialFinished(_ result: Result<any ByteStream, NetError>) {
        pendingDials -= 1
        switch result {
        case .failure(let error):
            lastError = error
            endIfLost()
        case .success(let stream):
            guard !closed, winner == nil else { stream.close(); return }
            candidates.append(stream)
            attach(stream)
            for bytes in written { stream.write(bytes) }
            if started { stream.start() }
        }
    }

    private func attach(_ stream: any ByteStream) {
        stream.pausedReading = pausedReading
        let id = ObjectIdentifier(stream)
        stream.onData = { [unowned self] bytes in
            if winner == nil, let stream = candidates.first(where: { ObjectIdentifier($0) == id }) {
                winner = stream
                written = []
                for other in candidates where ObjectIdentifier(other) != id { other.close() }
                candidates = [stream]
            }
            guard let winner, ObjectIdentifier(winner) == id else { return }
            onData?(bytes)
        }
        stream.onClose = { [unowned self] error in
            if let winner {
                if ObjectIdentifier(winner) == id { ended = true; onClose?(error) }
                return
            }
            candidates.removeAll { ObjectIdentifier($0) == id }
            lastError = error ?? .closed(address: remote.description)
            endIfLost()
        }
        stream.onDrained = { [unowned self] in
            if winner.map({ ObjectIdentifier($0) == id }) ?? true { onDrained?() }
        }
    }

    private func endIfLost() {
        guard started, !ended, !closed, winner == nil, candidates.isEmpty, pendingDials == 0 else { return }
        ended = true
        onClose?(lastError)
    }

    public func start() {
        started = true
        for candidate in candidates { candidate.start() }
        endIfLost()
    }

    public func write(_ bytes: [UInt8]) {
        guard isOpen else { return }
        if let winner { winner.write(bytes); return }
        written.append(bytes)
        for candidate in candidates { candidate.write(bytes) }
    }

    public func write(chunks: [ArraySlice<UInt8>]) {
        if let winner, isOpen { winner.write(chunks: chunks); return }
        write(chunks.reduce(into: [UInt8]()) { $0 += $1 })
    }

    public func close() {
        guard !closed else { return }
        closed = true
        for candidate in candidates { candidate.close() }
        candidates = []
    }
}
