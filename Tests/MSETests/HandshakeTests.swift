import Testing
@testable import MSE

/// Runs an initiator and a receiver against each other in memory, cutting the byte stream
/// where asked, and collects what each side's application would read after the handshake.
struct Exchange {
    var initiator: MSEInitiator
    var receiver: MSEReceiver
    /// Position in the A→B (or B→A) stream where one delivery is cut in two; nil for none.
    var cutToReceiver: Int?
    var cutToInitiator: Int?
    var byteByByte = false
    let afterA: [UInt8]
    let afterB: [UInt8]

    var payloadAtA: [UInt8] = []
    var payloadAtB: [UInt8] = []

    init(initiator: MSEInitiator, receiver: MSEReceiver, afterA: [UInt8], afterB: [UInt8]) {
        self.initiator = initiator
        self.receiver = receiver
        self.afterA = afterA
        self.afterB = afterB
    }

    mutating func run() throws(MSEError) {
        var toB = initiator.start(), toA: [UInt8] = []
        var sentB = 0, sentA = 0
        while !toB.isEmpty || !toA.isEmpty {
            if !toB.isEmpty {
                let count = chunk(pending: toB.count, delivered: sentB, cut: cutToReceiver)
                let piece = Array(toB[0..<count])
                toB.removeFirst(count)
                sentB += count
                if let outcome = receiver.outcome {
                    payloadAtB += outcome.decryptor.map { $0.process(piece) } ?? piece
                } else {
                    toA += try receiver.receive(piece)
                    if let outcome = receiver.outcome {
                        payloadAtB += outcome.payload
                        toA += outcome.encryptor.map { $0.process(afterB) } ?? afterB
                    }
                }
            }
            if !toA.isEmpty {
                let count = chunk(pending: toA.count, delivered: sentA, cut: cutToInitiator)
                let piece = Array(toA[0..<count])
                toA.removeFirst(count)
                sentA += count
                if let outcome = initiator.outcome {
                    payloadAtA += outcome.decryptor.map { $0.process(piece) } ?? piece
                } else {
                    toB += try initiator.receive(piece)
                    if let outcome = initiator.outcome {
                        payloadAtA += outcome.payload
                        toB += outcome.encryptor.map { $0.process(afterA) } ?? afterA
                    }
                }
            }
        }
    }

    private func chunk(pending: Int, delivered: Int, cut: Int?) -> Int {
        if byteByByte { return 1 }
        if let cut, cut > delivered, cut < delivered + pending { return cut - delivered }
        return pending
    }
}

@Suite struct MSEHandshakeTests {
    static let infoHash = (0..<20).map { UInt8($0 * 13 & 0xff) }
    static let otherHash = [UInt8](repeating: 0xee, count: 20)
    static let keysA = DHKeyPair(privateKey: DiffieHellmanTests.privateA)
    static let keysB = DHKeyPair(privateKey: DiffieHellmanTests.privateB)
    static let handshake = [UInt8(19)] + Array("BitTorrent protocol".utf8) + [UInt8](repeating: 0, count: 8) + infoHash + [UInt8](repeating: 0x41, count: 20)
    static let afterA = Array("interested, then requests".utf8)
    static let afterB = Array("B's handshake and bitfield".utf8)

    static func exchange(provide: CryptoMethods = .rc4, allowed: CryptoMethods = [.rc4, .plaintext],
                         padA: Int = 13, padB: Int = 7) -> Exchange {
        let initiator = MSEInitiator(infoHash: infoHash, provide: provide, initialPayload: handshake, keys: keysA,
                                     padA: [UInt8](repeating: 0xa5, count: padA))
        let receiver = MSEReceiver(infoHashes: [otherHash, infoHash], allowed: allowed, keys: keysB,
                                   padB: [UInt8](repeating: 0x5a, count: padB))
        return Exchange(initiator: initiator, receiver: receiver, afterA: afterA, afterB: afterB)
    }

    static func check(_ exchange: Exchange, method: CryptoMethods, _ note: String) {
        #expect(exchange.initiator.outcome?.method == method, "\(note)")
        #expect(exchange.receiver.outcome?.method == method, "\(note)")
        #expect(exchange.receiver.outcome?.infoHash == infoHash, "\(note)")
        #expect(exchange.payloadAtB == handshake + afterA, "\(note)")
        #expect(exchange.payloadAtA == afterB, "\(note)")
    }

    @Test func rc4AtEverySplitOfEitherStream() throws {
        var whole = Self.exchange()
        try whole.run()
        Self.check(whole, method: .rc4, "whole")
        // A→B carries Ya+PadA, the request and the IA; B→A carries Yb+PadB and the select.
        let lengthToB = 96 + 13 + 40 + 16 + Self.handshake.count + Self.afterA.count
        let lengthToA = 96 + 7 + 14 + Self.afterB.count
        for cut in 1..<lengthToB {
            var split = Self.exchange()
            split.cutToReceiver = cut
            try split.run()
            Self.check(split, method: .rc4, "A→B cut at \(cut)")
        }
        for cut in 1..<lengthToA {
            var split = Self.exchange()
            split.cutToInitiator = cut
            try split.run()
            Self.check(split, method: .rc4, "B→A cut at \(cut)")
        }
        var trickle = Self.exchange(padA: 512, padB: 512)
        trickle.byteByByte = true
        try trickle.run()
        Self.check(trickle, method: .rc4, "byte by byte, longest pads")
    }

    @Test func plaintextSelectedKeepsTheInitialPayloadEncryptedAndTheRestClear() throws {
        for cut in [0, 100, 150, 200, 250] {
            var exchange = Self.exchange(provide: [.plaintext, .rc4], allowed: .plaintext)
            exchange.cutToReceiver = cut
            try exchange.run()
            Self.check(exchange, method: .plaintext, "cut \(cut)")
            #expect(exchange.initiator.outcome?.encryptor == nil)
            #expect(exchange.receiver.outcome?.offered == [.plaintext, .rc4])
        }
    }

    @Test func receiverChoosesPlaintextWhenBothAreOffered() throws {
        var exchange = Self.exchange(provide: [.plaintext, .rc4])
        try exchange.run()
        Self.check(exchange, method: .plaintext, "both offered")
    }

    @Test func stepsAreReportedForTrace() throws {
        var exchange = Self.exchange()
        try exchange.run()
        let initiatorSteps = exchange.initiator.takeSteps().map(\.name)
        #expect(initiatorSteps == ["mse_send_key", "mse_key", "mse_send_request", "mse_sync", "mse_selected"])
        let receiverSteps = exchange.receiver.takeSteps().map(\.name)
        #expect(receiverSteps == ["mse_key", "mse_send_key", "mse_sync", "mse_request", "mse_send_select", "mse_selected"])
        #expect(exchange.initiator.takeSteps().isEmpty)
    }

    // MARK: - Bad input

    @Test func receiverGivesUpWithoutSyncAfter532Bytes() {
        var receiver = MSEReceiver(infoHashes: [Self.infoHash], allowed: .rc4)
        let garbage = Self.keysA.publicKey + [UInt8](repeating: 0x33, count: 531)
        #expect(throws: Never.self) { _ = try receiver.receive(garbage) }
        #expect(throws: MSEError.noSync(what: "HASH('req1', S)", window: 532)) { _ = try receiver.receive([0x33]) }
        // Failed for good: later bytes are ignored, nothing more is buffered.
        #expect(throws: Never.self) { _ = try receiver.receive([UInt8](repeating: 0, count: 100_000)) }
        #expect(receiver.outcome == nil)
    }

    @Test func initiatorGivesUpWithoutTheEncryptedVC() throws {
        var initiator = MSEInitiator(infoHash: Self.infoHash, provide: .rc4, initialPayload: Self.handshake)
        _ = initiator.start()
        let request = try initiator.receive(Self.keysB.publicKey)
        #expect(request.count == 40 + 16 + Self.handshake.count)
        #expect(throws: MSEError.noSync(what: "encrypted verification constant", window: 520)) {
            _ = try initiator.receive([UInt8](repeating: 0x77, count: 520))
        }
    }

    @Test func degenerateOrShortPublicKeysAreRefused() {
        var receiver = MSEReceiver(infoHashes: [Self.infoHash], allowed: .rc4)
        #expect(throws: MSEError.badPublicKey) { _ = try receiver.receive([UInt8](repeating: 0, count: 96)) }
        var initiator = MSEInitiator(infoHash: Self.infoHash, provide: .rc4)
        _ = initiator.start()
        #expect(throws: MSEError.badPublicKey) { _ = try initiator.receive([UInt8](repeating: 0xff, count: 96)) }
        // A key one byte short shifts everything: the receiver never finds its sync pattern.
        var exchange = Self.exchange()
        var shortKey = MSEReceiver(infoHashes: [Self.infoHash], allowed: .rc4, keys: Self.keysB)
        var bytes = exchange.initiator.start()
        bytes.removeFirst()
        #expect(throws: (any Error).self) {
            _ = try shortKey.receive(bytes + [UInt8](repeating: 1, count: 600))
        }
    }

    @Test func unknownTorrentIsRefused() {
        var initiator = MSEInitiator(infoHash: Self.infoHash, provide: .rc4, keys: Self.keysA, padA: [])
        var receiver = MSEReceiver(infoHashes: [Self.otherHash], allowed: .rc4, keys: Self.keysB)
        #expect(throws: MSEError.unknownTorrent) {
            let yb = try receiver.receive(initiator.start())
            _ = try receiver.receive(try initiator.receive(yb))
        }
    }

    @Test func noCommonMethodIsRefused() {
        var exchange = Self.exchange(provide: .plaintext, allowed: .rc4)
        #expect(throws: MSEError.noCommonMethod(offered: .plaintext, allowed: .rc4)) { try exchange.run() }
    }

    /// A hand-made receiver: Yb, then ENCRYPT(VC, select, len(PadD)) with the fields given.
    private func forgedAnswer(select: UInt32, padD: Int) -> [UInt8] {
        let secret = Self.keysB.sharedSecret(with: Self.keysA.publicKey)!
        var answer = MSE.verificationConstant + MSE.uint32(select) + MSE.uint16(padD)
        MSE.cipher("keyB", secret: secret, infoHash: Self.infoHash).apply(&answer)
        return Self.keysB.publicKey + answer
    }

    @Test func selectNotOfferedIsRefused() {
        for select: UInt32 in [0x01, 0x03, 0x00, 0x08] {
            var initiator = MSEInitiator(infoHash: Self.infoHash, provide: .rc4, keys: Self.keysA, padA: [])
            _ = initiator.start()
            #expect(throws: MSEError.selectNotOffered(selected: select, offered: .rc4)) {
                _ = try initiator.receive(forgedAnswer(select: select, padD: 0))
            }
        }
    }

    @Test func paddingOver512IsRefused() throws {
        var initiator = MSEInitiator(infoHash: Self.infoHash, provide: .rc4, keys: Self.keysA, padA: [])
        _ = initiator.start()
        #expect(throws: MSEError.paddingTooLong(field: "PadD", length: 513)) {
            _ = try initiator.receive(forgedAnswer(select: 0x02, padD: 513))
        }
        // PadC from a forged initiator.
        let secret = Self.keysA.sharedSecret(with: Self.keysB.publicKey)!
        var receiver = MSEReceiver(infoHashes: [Self.infoHash], allowed: .rc4, keys: Self.keysB, padB: [])
        _ = try receiver.receive(Self.keysA.publicKey)
        var request = MSE.hash("req1", secret) + zip(MSE.req2(infoHash: Self.infoHash), MSE.hash("req3", secret)).map { $0 ^ $1 }
        var fields = MSE.verificationConstant + MSE.uint32(0x02) + MSE.uint16(600)
        MSE.cipher("keyA", secret: secret, infoHash: Self.infoHash).apply(&fields)
        request += fields
        #expect(throws: MSEError.paddingTooLong(field: "PadC", length: 600)) { _ = try receiver.receive(request) }
    }
}
