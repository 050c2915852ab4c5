/// The answering side of an MSE/PE handshake, as a state machine without I/O.
///
/// It learns the torrent from HASH('req2', SKEY) xor HASH('req3', S), so one listener serves
/// every torrent it knows; it finds where PadA ends by looking for HASH('req1', S) within the
/// 532 bytes after Ya.
public struct MSEReceiver {
    private enum Stage: Equatable { case awaitingKey, awaitingSync, awaitingTorrent, awaitingProvide, awaitingPadC(provide: CryptoMethods, length: Int),
                                    awaitingInitialPayloadLength, awaitingInitialPayload(length: Int), done, failed }

    /// HASH('req2', SKEY) → SKEY for each torrent we serve.
    private let torrents: [[UInt8]: [UInt8]]
    /// Methods we accept; plaintext is chosen when the initiator offers it too.
    public let allowed: CryptoMethods
    private let keys: DHKeyPair
    private let padB: [UInt8]
    private var stage = Stage.awaitingKey
    private var buffer: [UInt8] = []
    private var secret: [UInt8] = []
    private var syncPattern: [UInt8] = []
    private var infoHash: [UInt8] = []
    private var offered = CryptoMethods()
    private var selected = CryptoMethods()
    private var encryptor: RC4?
    private var decryptor: RC4?
    private var steps: [MSEStep] = []
    public private(set) var outcome: MSEOutcome?

    public init(infoHashes: [[UInt8]], allowed: CryptoMethods, keys: DHKeyPair = .generate(),
                padB: [UInt8] = MSE.randomPadding()) {
        precondition(padB.count <= MSE.maxPadding)
        var torrents: [[UInt8]: [UInt8]] = [:]
        for hash in infoHashes { torrents[MSE.req2(infoHash: hash)] = hash }
        self.torrents = torrents
        self.allowed = allowed
        self.keys = keys
        self.padB = padB
    }

    public mutating func takeSteps() -> [MSEStep] {
        defer { steps = [] }
        return steps
    }

    /// Takes bytes from the initiator; returns bytes to send. After an error the handshake is over.
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
            case .done, .failed:
                return send
            case .awaitingKey:
                guard buffer.count >= DiffieHellman.keySize else { return send }
                let theirKey = Array(buffer[0..<DiffieHellman.keySize])
                buffer.removeFirst(DiffieHellman.keySize)
                guard let secret = keys.sharedSecret(with: theirKey) else { throw .badPublicKey }
                self.secret = secret
                syncPattern = MSE.hash("req1", secret)
                steps.append(MSEStep("mse_key"))
                steps.append(MSEStep("mse_send_key", [("pad", .int(padB.count))]))
                send += keys.publicKey + padB
                stage = .awaitingSync
            case .awaitingSync:
                let window = MSE.maxPadding + syncPattern.count
                guard let at = MSE.find(syncPattern, in: buffer, from: 0, limit: MSE.maxPadding) else {
                    if buffer.count >= window { throw .noSync(what: "HASH('req1', S)", window: window) }
                    return send
                }
                steps.append(MSEStep("mse_sync", [("pad", .int(at))]))
                buffer.removeFirst(at + syncPattern.count)
                stage = .awaitingTorrent
            case .awaitingTorrent:
                guard buffer.count >= 20 else { return send }
                let req3 = MSE.hash("req3", secret)
                let req2 = zip(buffer[0..<20], req3).map { $0 ^ $1 }
                buffer.removeFirst(20)
                guard let hash = torrents[req2] else { throw .unknownTorrent }
                infoHash = hash
                decryptor = MSE.cipher("keyA", secret: secret, infoHash: hash)
                encryptor = MSE.cipher("keyB", secret: secret, infoHash: hash)
                stage = .awaitingProvide
            case .awaitingProvide:
                guard buffer.count >= 14 else { return send }
                let fields = decryptor!.process(buffer[0..<14])
                buffer.removeFirst(14)
                guard fields[0..<8].allSatisfy({ $0 == 0 }) else { throw .badVerificationConstant }
                let provide = CryptoMethods(rawValue: MSE.readUInt32(fields[8..<12]))
                let padLength = MSE.readUInt16(fields[12..<14])
                guard padLength <= MSE.maxPadding else { throw .paddingTooLong(field: "PadC", length: padLength) }
                stage = .awaitingPadC(provide: provide, length: padLength)
            case .awaitingPadC(let provide, let length):
                guard buffer.count >= length else { return send }
                _ = decryptor!.process(buffer[0..<length])
                buffer.removeFirst(length)
                offered = provide
                let common = provide.intersection(allowed)
                // Plaintext when the initiator offers it (libtorrent's default, prefer_rc4 off): the handshake
                // stays obfuscated and the payload costs no RC4; a peer that wants RC4 offers only RC4.
                if common.contains(.plaintext) { selected = .plaintext } else if common.contains(.rc4) { selected = .rc4 } else {
                    throw .noCommonMethod(offered: provide, allowed: allowed)
                }
                steps.append(MSEStep("mse_request", [("provide", .string(provide.description)), ("pad", .int(length))]))
                stage = .awaitingInitialPayloadLength
            case .awaitingInitialPayloadLength:
                guard buffer.count >= 2 else { return send }
                let length = MSE.readUInt16(decryptor!.process(buffer[0..<2])[...])
                buffer.removeFirst(2)
                // PadD stays empty.
                var answer = MSE.verificationConstant + MSE.uint32(selected.rawValue) + MSE.uint16(0)
                encryptor!.apply(&answer)
                send += answer
                steps.append(MSEStep("mse_send_select", [("method", .string(selected.description))]))
                stage = .awaitingInitialPayload(length: length)
            case .awaitingInitialPayload(let length):
                guard buffer.count >= length else { return send }
                // IA is always encrypted; what follows it only when RC4 was selected.
                var payload = decryptor!.process(buffer[0..<length])
                var rest = Array(buffer[length...])
                buffer = []
                let encrypted = selected == .rc4
                if encrypted { decryptor!.apply(&rest) }
                payload += rest
                steps.append(MSEStep("mse_selected", [("method", .string(selected.description)), ("initial_payload", .int(length))]))
                outcome = MSEOutcome(method: selected, offered: offered, infoHash: infoHash,
                                     encryptor: encrypted ? encryptor : nil, decryptor: encrypted ? decryptor : nil,
                                     payload: payload)
                stage = .done
            }
        }
    }
}
