import Foundation
import Net
import Testing
@testable import MSE

/// Two tt ends over real TCP on one event loop: the dialer under one policy, the listener
/// answering under another.
private final class LoopbackPair {
    let loop = EventLoop()
    let listener: TCPListener
    let infoHash = (0..<20).map { UInt8($0 + 100) }
    var accepted: [MSEStream] = []
    var answerErrors: [MSEConnectionError] = []
    var dialed: ByteStream?
    var dialError: MSEConnectionError?
    var atListener: [UInt8] = []
    var atDialer: [UInt8] = []
    var steps: [String] = []

    init(answer policy: EncryptionPolicy, timeout: Double = 5) throws {
        listener = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        let loop = self.loop
        loop.watch(listener.fileDescriptor) { [unowned self] _ in
            while let connection = try? self.listener.acceptNext() {
                let channel = StreamChannel(loop: loop, connection: connection)
                MSEHandshake.answer(channel, loop: loop, infoHashes: [[UInt8](repeating: 9, count: 20), self.infoHash],
                                    policy: policy, timeout: timeout) { result in
                    switch result {
                    case .success(let stream):
                        self.accepted.append(stream)
                        stream.onData = { self.atListener += $0 }
                        stream.start()
                        stream.write(Array("answer:".utf8) + (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
                    case .failure(let error):
                        self.answerErrors.append(error)
                    }
                }
            }
        }
    }

    func dial(_ policy: EncryptionPolicy, first: [UInt8]) {
        EncryptedDialer.dial(listener.localAddress, loop: loop, infoHash: infoHash, policy: policy, timeout: 5,
                             connect: EncryptedDialer.tcp(loop: loop, timeout: 5),
                             onStep: { [unowned self] in self.steps.append($0.name) }) { [unowned self] result in
            switch result {
            case .success(let stream):
                self.dialed = stream
                stream.onData = { self.atDialer += $0 }
                stream.onClose = { _ in self.dialError = .closed(peer: "listener", step: "after handshake") }
                stream.start()
                stream.write(first)
            case .failure(let error):
                self.dialError = error
            }
        }
    }

    func run(until done: () -> Bool) {
        let deadline = Date().addingTimeInterval(10)
        while !done() && Date() < deadline { loop.runOnce(timeout: 0.05) }
    }

    deinit {
        loop.unwatch(listener.fileDescriptor)
        listener.close()
        accepted.forEach { $0.close() }
        dialed?.close()
    }
}

@Suite struct MSEStreamTests {
    static let first = plainHandshakePrefix + Array(" and the rest of a handshake".utf8) + (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    static let answer = Array("answer:".utf8) + (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }

    /// (dial, answer) → the method both ends end up with; nil = no connection.
    @Test(arguments: [
        (EncryptionPolicy.off, EncryptionPolicy.prefer, "plain"), (.off, .off, "plain"),
        (.prefer, .prefer, "plain"), (.prefer, .require, "rc4"), (.prefer, .off, "plain"),
        (.require, .prefer, "rc4"), (.require, .require, "rc4"),
    ])
    func policiesAgree(dial: EncryptionPolicy, answer: EncryptionPolicy, expected: String) throws {
        let pair = try LoopbackPair(answer: answer)
        pair.dial(dial, first: Self.first)
        pair.run { pair.atListener.count >= Self.first.count && pair.atDialer.count >= Self.answer.count }
        #expect(pair.atListener == Self.first)
        #expect(pair.atDialer == Self.answer)
        let stream = pair.accepted.last
        #expect(stream?.isEncrypted == (expected == "rc4"))
        #expect((pair.dialed?.isEncrypted ?? false) == (expected == "rc4"))
        if expected == "rc4" { #expect(stream?.infoHash == pair.infoHash) }
        // prefer dials plain first; only a peer that refuses it sees a second, encrypted connection.
        if dial == .prefer {
            #expect(pair.steps.contains("mse_retry") == (answer == .require))
            #expect(pair.answerErrors.count == (answer == .require ? 1 : 0))
            #expect(pair.accepted.count == 1)
        }
    }

    @Test(arguments: [(EncryptionPolicy.off, EncryptionPolicy.require), (.require, .off)])
    func incompatiblePoliciesFail(dial: EncryptionPolicy, answer: EncryptionPolicy) throws {
        let pair = try LoopbackPair(answer: answer)
        pair.dial(dial, first: Self.first)
        pair.run { !pair.answerErrors.isEmpty && pair.dialError != nil }
        if answer == .require {
            guard case .plaintextRefused? = pair.answerErrors.first else { Issue.record("\(pair.answerErrors)"); return }
        } else {
            guard case .encryptionRefused? = pair.answerErrors.first else { Issue.record("\(pair.answerErrors)"); return }
        }
        #expect(pair.dialError != nil)
        #expect(pair.atListener.isEmpty)
    }

    /// Raw bytes from a client that is not MSE: garbage past 532 bytes is dropped at once, a
    /// short burst followed by silence when the timeout passes.
    @Test func answerDropsGarbageAndSilence() throws {
        for (size, timeout) in [(100_000, 30.0), (150, 0.5)] {
            let pair = try LoopbackPair(answer: .require, timeout: timeout)
            let client = try TCPConnection.connect(to: pair.listener.localAddress, timeout: 5)
            defer { client.close() }
            try client.send((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }, deadline: .after(5))
            let started = Date()
            pair.run { !pair.answerErrors.isEmpty }
            let error = try #require(pair.answerErrors.first)
            if size > 1000 {
                guard case .handshake(_, .noSync(_, 532)) = error else { Issue.record("expected no sync, got \(error)"); continue }
                #expect(Date().timeIntervalSince(started) < 5)
            } else {
                guard case .timeout = error else { Issue.record("expected a timeout, got \(error)"); continue }
            }
            #expect(pair.accepted.isEmpty)
        }
    }

    @Test func silentPeerTimesOut() throws {
        let loop = EventLoop()
        let listener = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        defer { listener.close() }
        var result: Result<ByteStream, MSEConnectionError>?
        let started = Date()
        EncryptedDialer.dial(listener.localAddress, loop: loop, infoHash: [UInt8](repeating: 1, count: 20), policy: .require,
                             timeout: 0.5, connect: EncryptedDialer.tcp(loop: loop, timeout: 5)) { result = $0 }
        while result == nil && Date().timeIntervalSince(started) < 10 { loop.runOnce(timeout: 0.05) }
        guard case .failure(.timeout)? = result else { Issue.record("expected a timeout, got \(String(describing: result))"); return }
        #expect(Date().timeIntervalSince(started) < 5)
    }
}
