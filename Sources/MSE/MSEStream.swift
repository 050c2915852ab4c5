import Net

/// A `ByteStream` after an MSE/PE handshake: RC4 both ways when that was selected, plain
/// otherwise, and the bytes that arrived with the handshake delivered first. Also wraps a
/// sniffed plaintext connection (no MSE) so the peeked bytes are not lost.
public final class MSEStream: ByteStream {
    public let inner: ByteStream
    private let loop: EventLoop
    private let encryptor: RC4?
    private let decryptor: RC4?
    /// The method in use; nil when there was no MSE handshake at all.
    public let method: CryptoMethods?
    /// The initiator's `crypto_provide` (ours when dialing); nil without MSE.
    public let offered: CryptoMethods?
    /// The torrent the initiator asked for (answering side), from HASH('req2', SKEY).
    public let infoHash: [UInt8]?
    /// Decrypted bytes waiting for `start()` or for reading to resume.
    private var pending: [UInt8]
    private var started = false

    public var onData: ((ArraySlice<UInt8>) -> Void)?
    public var onClose: ((NetError?) -> Void)?
    public var onDrained: (() -> Void)?

    init(inner: ByteStream, loop: EventLoop, outcome: MSEOutcome?, pending: [UInt8]) {
        self.inner = inner
        self.loop = loop
        self.encryptor = outcome?.encryptor
        self.decryptor = outcome?.decryptor
        self.method = outcome?.method
        self.offered = outcome?.offered
        self.infoHash = outcome?.infoHash
        self.pending = pending
        inner.onData = { [weak self] chunk in self?.received(chunk) }
        inner.onClose = { [weak self] error in self?.onClose?(error) }
        inner.onDrained = { [weak self] in self?.onDrained?() }
    }

    public var remote: SocketAddress { inner.remote }
    public var transport: TransportKind { inner.transport }
    public var isEncrypted: Bool { method == .rc4 }
    public var isOpen: Bool { inner.isOpen }
    public var bufferedBytes: Int { inner.bufferedBytes }
    public var pausedReading: Bool = false {
        didSet {
            inner.pausedReading = pausedReading
            if !pausedReading && started && !pending.isEmpty { scheduleDelivery() }
        }
    }

    /// The carrier is already reading (the handshake needed it); this releases what is pending.
    public func start() {
        guard !started else { return }
        started = true
        if !pending.isEmpty { scheduleDelivery() }
    }

    public func write(_ bytes: [UInt8]) {
        guard let encryptor else { inner.write(bytes); return }
        var copy = bytes
        encryptor.apply(&copy)
        inner.write(copy)
    }

    public func write(chunks: [ArraySlice<UInt8>]) {
        guard encryptor != nil else { inner.write(chunks: chunks); return }
        write(chunks.reduce(into: [UInt8]()) { $0 += $1 })
    }

    public func close() { inner.close() }

    private func received(_ chunk: ArraySlice<UInt8>) {
        var bytes: [UInt8]
        if let decryptor {
            bytes = Array(chunk)
            decryptor.apply(&bytes)
        } else {
            guard !started || pausedReading || !pending.isEmpty else { onData?(chunk); return }
            bytes = Array(chunk)
        }
        if started && !pausedReading && pending.isEmpty {
            onData?(bytes[...])
        } else {
            pending += bytes
        }
    }

    /// From the loop, never from inside `start()`: the session may still be setting up.
    private func scheduleDelivery() {
        _ = loop.schedule(after: 0) { [weak self] in
            guard let self, self.started, !self.pausedReading, !self.pending.isEmpty, self.inner.isOpen else { return }
            let bytes = self.pending
            self.pending = []
            self.onData?(bytes[...])
        }
    }
}
