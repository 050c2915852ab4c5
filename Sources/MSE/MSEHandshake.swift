import Net

/// Runs MSE/PE over a `ByteStream` (TCP or uTP) on its event loop and hands back an `MSEStream`.
///
/// The callbacks of the carrier belong to the handshake until `completion` runs; the carrier is
/// closed on failure. Every step goes to `onStep` (for `--trace` and peer events).
public enum MSEHandshake {
    /// Dials MSE on a connected stream: `provide` is our `crypto_provide`. No initial payload is
    /// sent, so the BitTorrent handshake goes through the returned stream whatever the peer selects.
    public static func initiate(_ stream: ByteStream, loop: EventLoop, infoHash: [UInt8], provide: CryptoMethods,
                                timeout: Double, onStep: @escaping (MSEStep) -> Void = { _ in },
                                completion: @escaping (Result<MSEStream, MSEConnectionError>) -> Void) {
        let run = Run(stream: stream, loop: loop, timeout: timeout, onStep: onStep, completion: completion)
        var initiator = MSEInitiator(infoHash: infoHash, provide: provide)
        run.step = "waiting for the peer's key"
        let peer = stream.remote.description
        run.feed = { bytes throws(MSEConnectionError) in
            let reply: [UInt8]
            do throws(MSEError) { reply = try initiator.receive(bytes) } catch { throw .handshake(peer: peer, error) }
            initiator.takeSteps().forEach(onStep)
            if initiator.outcome != nil { run.step = "done" } else if !reply.isEmpty { run.step = "waiting for crypto_select" }
            return (reply, initiator.outcome.map { .mse($0) })
        }
        run.begin()
        let first = initiator.start()
        initiator.takeSteps().forEach(onStep)
        stream.write(first)
    }

    /// Answers an incoming stream: a plain BitTorrent handshake (the first 20 bytes are
    /// "\x13BitTorrent protocol") passes through when `policy` allows it; anything else is taken
    /// for MSE and answered for whichever of `infoHashes` the peer names.
    public static func answer(_ stream: ByteStream, loop: EventLoop, infoHashes: [[UInt8]], policy: EncryptionPolicy,
                              timeout: Double, onStep: @escaping (MSEStep) -> Void = { _ in },
                              completion: @escaping (Result<MSEStream, MSEConnectionError>) -> Void) {
        let run = Run(stream: stream, loop: loop, timeout: timeout, onStep: onStep, completion: completion)
        var sniffed: [UInt8] = []
        var receiver: MSEReceiver?
        let peer = stream.remote.description
        run.step = "waiting for the first bytes"
        run.feed = { bytes throws(MSEConnectionError) in
            if receiver == nil {
                sniffed += bytes
                let common = min(sniffed.count, plainHandshakePrefix.count)
                if sniffed[0..<common].elementsEqual(plainHandshakePrefix[0..<common]) {
                    guard common == plainHandshakePrefix.count else { return ([], nil) }
                    guard policy.acceptsPlaintextHandshake else { throw .plaintextRefused(peer: peer) }
                    onStep(MSEStep("plaintext_handshake"))
                    return ([], .plain(sniffed))
                }
                guard policy != .off else { throw .encryptionRefused(peer: peer) }
                receiver = MSEReceiver(infoHashes: infoHashes, allowed: policy.accept)
                run.step = "waiting for HASH('req1', S)"
                let all = sniffed
                sniffed = []
                return try answerStep(&receiver!, all, peer: peer, run: run, onStep: onStep)
            }
            return try answerStep(&receiver!, bytes, peer: peer, run: run, onStep: onStep)
        }
        run.begin()
    }

    private static func answerStep(_ receiver: inout MSEReceiver, _ bytes: [UInt8], peer: String, run: Run,
                                   onStep: (MSEStep) -> Void) throws(MSEConnectionError) -> ([UInt8], Run.Finish?) {
        let reply: [UInt8]
        do throws(MSEError) { reply = try receiver.receive(bytes) } catch { throw .handshake(peer: peer, error) }
        receiver.takeSteps().forEach(onStep)
        return (reply, receiver.outcome.map { .mse($0) })
    }

    /// The shared plumbing: carrier callbacks, the timeout, and finishing exactly once.
    final class Run {
        enum Finish {
            case mse(MSEOutcome)
            case plain([UInt8])
        }

        let stream: ByteStream
        let loop: EventLoop
        let timeout: Double
        let onStep: (MSEStep) -> Void
        let completion: (Result<MSEStream, MSEConnectionError>) -> Void
        var step = ""
        var feed: (([UInt8]) throws(MSEConnectionError) -> ([UInt8], Finish?))?
        private var finished = false
        private var timer: EventLoop.TimerID?

        init(stream: ByteStream, loop: EventLoop, timeout: Double, onStep: @escaping (MSEStep) -> Void,
             completion: @escaping (Result<MSEStream, MSEConnectionError>) -> Void) {
            self.stream = stream
            self.loop = loop
            self.timeout = timeout
            self.onStep = onStep
            self.completion = completion
        }

        func begin() {
            let peer = stream.remote.description
            timer = loop.schedule(after: timeout) { [self] in
                fail(.timeout(peer: peer, step: step))
            }
            stream.onData = { [self] chunk in
                guard !finished, let feed else { return }
                do throws(MSEConnectionError) {
                    let (reply, finish) = try feed(Array(chunk))
                    if !reply.isEmpty { stream.write(reply) }
                    if let finish { succeed(finish) }
                } catch {
                    fail(error)
                }
            }
            stream.onClose = { [self] error in
                if case .closed? = error { fail(.closed(peer: peer, step: step)) } else if let error { fail(.net(error)) } else {
                    fail(.closed(peer: peer, step: step))
                }
            }
            stream.onDrained = nil
            stream.start()
        }

        private func succeed(_ finish: Finish) {
            guard !finished else { return }
            finished = true
            if let timer { loop.cancel(timer) }
            feed = nil
            let wrapped: MSEStream
            switch finish {
            case .mse(let outcome): wrapped = MSEStream(inner: stream, loop: loop, outcome: outcome, pending: outcome.payload)
            case .plain(let bytes): wrapped = MSEStream(inner: stream, loop: loop, outcome: nil, pending: bytes)
            }
            completion(.success(wrapped))
        }

        private func fail(_ error: MSEConnectionError) {
            guard !finished else { return }
            finished = true
            if let timer { loop.cancel(timer) }
            feed = nil
            stream.onData = nil
            stream.onClose = nil
            stream.close()
            completion(.failure(error))
        }
    }
}
