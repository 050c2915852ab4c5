import Net

/// What a command or session does about MSE/PE (`--encryption off|prefer|require`).
public enum EncryptionPolicy: String, CaseIterable, Sendable {
    /// Plain BitTorrent only: never dial MSE, drop incoming MSE.
    case off
    /// Dial plain first and, when the peer hangs up on the plain handshake, again with MSE
    /// (RC4 or plaintext offered); accept both kinds of incoming connection.
    case prefer
    /// RC4 only, both ways; a plaintext handshake is refused.
    case require

    /// `crypto_provide` when dialing (nil: no MSE).
    public var provide: CryptoMethods? {
        switch self {
        case .off: nil
        case .prefer: [.plaintext, .rc4]
        case .require: .rc4
        }
    }

    /// Methods accepted from an initiator; plaintext is chosen when offered (RC4 when only it is).
    public var accept: CryptoMethods {
        switch self {
        case .off: []
        case .prefer: [.plaintext, .rc4]
        case .require: .rc4
        }
    }

    /// True when an incoming plain BitTorrent handshake is welcome.
    public var acceptsPlaintextHandshake: Bool { self != .require }
}

/// Why an MSE handshake over a connection failed: the handshake itself, or the carrier.
public enum MSEConnectionError: Error, Sendable, CustomStringConvertible {
    case handshake(peer: String, MSEError)
    /// The peer hung up before the handshake finished (a plaintext-only peer does this).
    case closed(peer: String, step: String)
    case timeout(peer: String, step: String)
    /// A plain BitTorrent handshake arrived and the policy requires encryption.
    case plaintextRefused(peer: String)
    /// An MSE handshake arrived and the policy is `off`.
    case encryptionRefused(peer: String)
    case net(NetError)

    public var description: String {
        switch self {
        case .handshake(let peer, let error): "peer \(peer): MSE handshake failed: \(error)"
        case .closed(let peer, let step): "peer \(peer) closed the connection during the MSE handshake (\(step))"
        case .timeout(let peer, let step): "peer \(peer): MSE handshake timed out (\(step))"
        case .plaintextRefused(let peer): "peer \(peer) sent a plaintext handshake and encryption is required"
        case .encryptionRefused(let peer): "peer \(peer) started an MSE handshake and encryption is off"
        case .net(let error): error.description
        }
    }
}

/// The 20 bytes a plain BitTorrent handshake starts with; anything else on an incoming
/// connection is taken for MSE.
public let plainHandshakePrefix: [UInt8] = [19] + Array("BitTorrent protocol".utf8)
