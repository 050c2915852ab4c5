import Net

/// Dials a peer under an `EncryptionPolicy` over any carrier (`connect` makes the TCP or uTP
/// stream): `off` plain, `require` MSE offering RC4 only, `prefer` plain first and, when the
/// peer hangs up on the plain handshake, MSE offering both (`PlaintextFirstStream`).
public enum EncryptedDialer {
    public typealias Connect = (SocketAddress, @escaping (Result<ByteStream, NetError>) -> Void) -> Void

    public static func dial(_ address: SocketAddress, loop: EventLoop, infoHash: [UInt8], policy: EncryptionPolicy,
                            timeout: Double, connect: @escaping Connect, onStep: @escaping (MSEStep) -> Void = { _ in },
                            completion: @escaping (Result<ByteStream, MSEConnectionError>) -> Void) {
        connect(address) { result in
            let stream: ByteStream
            switch result {
            case .failure(let error): completion(.failure(.net(error))); return
            case .success(let connected): stream = connected
            }
            guard let provide = policy.provide else { completion(.success(stream)); return }
            if policy == .prefer {
                // Plain first; the stream itself retries encrypted if the peer refuses plain.
                let retrying = PlaintextFirstStream(plain: stream, loop: loop, onStep: onStep) { done in
                    connect(address) { again in
                        switch again {
                        case .failure(let error): done(.failure(.net(error)))
                        case .success(let fresh):
                            MSEHandshake.initiate(fresh, loop: loop, infoHash: infoHash, provide: provide, timeout: timeout,
                                                  onStep: onStep) { done($0.map { $0 as any ByteStream }) }
                        }
                    }
                }
                completion(.success(retrying))
                return
            }
            MSEHandshake.initiate(stream, loop: loop, infoHash: infoHash, provide: provide, timeout: timeout, onStep: onStep) { outcome in
                switch outcome {
                case .success(let encrypted):
                    completion(.success(encrypted))
                case .failure(let error):
                    completion(.failure(error))
                }
            }
        }
    }

    /// `connect` for plain TCP.
    public static func tcp(loop: EventLoop, timeout: Double) -> Connect {
        { address, done in
            StreamChannel.connect(loop: loop, to: address, timeout: timeout) { result in
                done(result.map { $0 as ByteStream })
            }
        }
    }
}
