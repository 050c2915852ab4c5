/// The dialing side of an MSE/PE handshake, as a state machine without I/O: feed it what the
/// peer sends, write what it returns.
///
///     A→B  Ya, PadA
///     B→A  Yb, PadB
///     A→B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
///          ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
///     B→A  ENCRYPT(VC, crypto_select, len(PadD), PadD), then the payload stream
public struct MSEInitiator {
    private enum Stage: Equatable { case idle, awaitingKey, awaitingVC, awaitingSelect, awaitingPadD(select: CryptoMethods, length: Int), done, failed }

    public let infoHash: [UInt8]
    public let provide: CryptoMethods
    private let keys: DHKeyPair
    private let padA: [UInt8]
    private let initialPayload: [UInt8]
    private var stage = Stage.idle
    /// Received bytes not yet consumed.
    private var buffer: [UInt8] = []
    private var encryptor: RC4?
    private var decryptor: RC4?
    /// ENCRYPT(VC) as B sends it: the pattern that ends PadB.
    private var vcPattern: [UInt8] = []
    /// Steps taken since the last `takeSteps()`.
    private var steps: [MSEStep] = []
    /// Set once the handshake is complete.
    public private(set) var outcome: MSEOutcome?

    /// `initialPayload` (IA) travels inside the handshake, encrypted: usually our BitTorrent handshake.
    public init(infoHash: [UInt8], provide: CryptoMethods, initialPayload: [UInt8] = [],
                keys: DHKeyPair = .generate(), padA: [UInt8] = MSE.randomPadding()) {
        precondition(padA.count <= MSE.maxPadding && initialPayload.count <= 0xffff)
        self.infoHash = infoHash
        self.provide = provide
        self.keys = keys
        self.padA = padA
        self.initialPayload = initialPayload
    }

    /// Ya and PadA: the first bytes to send.
    public mutating func start() -> [UInt8] {
        precondition(stage == .idle, "start() once")
        stage = .awaitingKey
        steps.append(MSEStep("mse_send_key", [("pad", .int(padA.count))]))
        return keys.publicKey + padA
    }

    /// The steps taken since the last call (for `--trace`).
    public mutating func takeSteps() -> [MSEStep] {
        defer { steps = [] }
        return steps
    }

    /// Takes bytes from the peer; returns bytes to send (possibly none). After an error the
    /// handshake is over and the connection should be closed.
    public mutating func receive<C: Collection>(_ bytes: C) throws(MSEError) -> [UInt8] where C.Element == UInt8 {
        buffer.append(contentsOf: bytes)
        do {
            return try advance()
        } catch {
            stage = .failed
            buffer = []
            throw error
        }
    }

    private mutating func advance() throws(MSEError) -> [UInt8] {
        var send: [UInt8] = []
        while true {
            switch stage {
            case .idle, .done, .failed:
                return send
            case .awaitingKey:
                guard buffer.count >= DiffieHellman.keySize else { return send }
                let theirKey = Array(buffer[0..<DiffieHellman.keySize])
                buffer.removeFirst(DiffieHellman.keySize)
                guard let secret = keys.sharedSecret(with: theirKey) else { throw .badPublicKey }
                steps.append(MSEStep("mse_key"))
                send += request(secret: secret)
                stage = .awaitingVC
            case .awaitingVC:
                let window = MSE.maxPadding + MSE.verificationConstant.count
                guard let at = MSE.find(vcPattern, in: buffer, from: 0, limit: MSE.maxPadding) else {
                    if buffer.count >= window { throw .noSync(what: "encrypted verification constant", window: window) }
                    return send
                }
                steps.append(MSEStep("mse_sync", [("pad", .int(at))]))
                buffer.removeFirst(at + vcPattern.count)
                _ = decryptor!.process(MSE.verificationConstant)  // keeps the stream in step with B's
                stage = .awaitingSelect
            case .awaitingSelect:
                guard buffer.count >= 6 else { return send }
                let fields = decryptor!.process(buffer[0..<6])
                buffer.removeFirst(6)
                let selected = MSE.readUInt32(fields[0..<4])
                let padLength = MSE.readUInt16(fields[4..<6])
                let method = CryptoMethods(rawValue: selected)
                guard selected.nonzeroBitCount == 1, provide.contains(method) else {
                    throw .selectNotOffered(selected: selected, offered: provide)
                }
                guard padLength <= MSE.maxPadding else { throw .paddingTooLong(field: "PadD", length: padLength) }
                stage = .awaitingPadD(select: method, length: padLength)
            case .awaitingPadD(let method, let length):
                guard buffer.count >= length else { return send }
                _ = decryptor!.process(buffer[0..<length])
                buffer.removeFirst(length)
                let encrypted = method == .rc4
                var payload = buffer
                if encrypted { decryptor!.apply(&payload) }
                buffer = []
                steps.append(MSEStep("mse_selected", [("method", .string(method.description)), ("pad", .int(length))]))
                outcome = MSEOutcome(method: method, offered: provide, infoHash: infoHash,
                                     encryptor: encrypted ? encryptor : nil, decryptor: encrypted ? decryptor : nil,
                                     payload: payload)
                stage = .done
            }
        }
    }

    /// The third message; also sets up both ciphers.
    private mutating func request(secret: [UInt8]) -> [UInt8] {
        let encryptor = MSE.cipher("keyA", secret: secret, infoHash: infoHash)
        let decryptor = MSE.cipher("keyB", secret: secret, infoHash: infoHash)
        vcPattern = MSE.cipher("keyB", secret: secret, infoHash: infoHash).process(MSE.verificationConstant)
        self.encryptor = encryptor
        self.decryptor = decryptor
        let req2 = MSE.req2(infoHash: infoHash)
        let req3 = MSE.hash("req3", secret)
        var message = MSE.hash("req1", secret)
        message += zip(req2, req3).map { $0 ^ $1 }
        // PadC stays empty, as every client sends it.
        var plain = MSE.verificationConstant + MSE.uint32(provide.rawValue) + MSE.uint16(0) + MSE.uint16(initialPayload.count)
        plain += initialPayload
        encryptor.apply(&plain)
        steps.append(MSEStep("mse_send_request", [("provide", .string(provide.description)),
                                                   ("initial_payload", .int(initialPayload.count))]))
        return message + plain
    }
}

