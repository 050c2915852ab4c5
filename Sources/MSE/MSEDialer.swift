import Net

/// A `PeerDialer` that runs MSE/PE over whatever `inner` dials (TCP, uTP), under `policy`, for
/// one torrent (SKEY is its info hash). `onStep` sees each step with the peer's address, the
/// `mse_retry` step included when `prefer` retries encrypted after a refused plain handshake.
public struct MSEDialer: PeerDialer {
    public let policy: EncryptionPolicy
    public let infoHash: [UInt8]
    public let inner: any PeerDialer
    /// Longest the MSE exchange may take once connected (seconds).
    public let handshakeTimeout: Double
    public var onStep: ((SocketAddress, MSEStep) -> Void)?

    public init(policy: EncryptionPolicy, infoHash: [UInt8], inner: any PeerDialer = TCPDialer(), handshakeTimeout: Double = 20,
                onStep: ((SocketAddress, MSEStep) -> Void)? = nil) {
        self.policy = policy
        self.infoHash = infoHash
        self.inner = inner
        self.handshakeTimeout = handshakeTimeout
        self.onStep = onStep
    }

    public func dial(_ address: SocketAddress, loop: EventLoop, timeout: Double,
                     completion: @escaping (Result<any ByteStream, NetError>) -> Void) {
        let inner = self.inner
        let onStep = self.onStep
        EncryptedDialer.dial(address, loop: loop, infoHash: infoHash, policy: policy, timeout: handshakeTimeout,
                             connect: { target, done in inner.dial(target, loop: loop, timeout: timeout, completion: done) },
                             onStep: { step in onStep?(address, step) }) { result in
            completion(result.mapError(\.netError))
        }
    }
}

extension MSEConnectionError {
    /// The same failure as the `NetError` a dialer reports: hang-ups and bad handshakes are the
    /// peer closing on us (exit 76), timeouts stay timeouts (75).
    public var netError: NetError {
        switch self {
        case .net(let error): error
        case .timeout(let peer, let step): .timeout(what: "in the MSE handshake with \(peer) (\(step))")
        case .closed(let peer, let step): .closed(address: "\(peer) during the MSE handshake (\(step))")
        case .handshake(let peer, let error): .closed(address: "\(peer) after a failed MSE handshake (\(error))")
        case .plaintextRefused(let peer): .closed(address: "\(peer) (plaintext handshake refused: encryption required)")
        case .encryptionRefused(let peer): .closed(address: "\(peer) (MSE refused: encryption off)")
        }
    }
}
