import Net

/// MSE/PE over a blocking `TCPConnection` (for one-peer commands such as `tt handshake`).
public enum BlockingMSE {
    /// Runs the initiator's side; the BitTorrent handshake follows through the returned ciphers
    /// (no initial payload, so a peer that selects plaintext reads it unencrypted, as Transmission
    /// expects). `onStep` sees each step for `--trace`.
    public static func initiate(_ connection: TCPConnection, infoHash: [UInt8], provide: CryptoMethods,
                                timeout: Double, onStep: (MSEStep) -> Void = { _ in }) throws(MSEConnectionError) -> MSEOutcome {
        let peer = connection.remote.description
        var initiator = MSEInitiator(infoHash: infoHash, provide: provide)
        let deadline = Deadline.after(timeout)
        var step = "sending our key"
        do {
            try connection.send(initiator.start(), deadline: deadline)
            initiator.takeSteps().forEach(onStep)
            step = "waiting for the peer's key"
            while initiator.outcome == nil {
                let bytes = try connection.receive(max: 4096, deadline: deadline)
                if bytes.isEmpty { throw MSEConnectionError.closed(peer: peer, step: step) }
                let reply: [UInt8]
                do { reply = try initiator.receive(bytes) } catch { throw MSEConnectionError.handshake(peer: peer, error) }
                let steps = initiator.takeSteps()
                steps.forEach(onStep)
                if steps.contains(where: { $0.name == "mse_send_request" }) { step = "waiting for crypto_select" }
                if !reply.isEmpty { try connection.send(reply, deadline: deadline) }
            }
        } catch let error as MSEConnectionError {
            throw error
        } catch let error as NetError {
            switch error {
            case .closed: throw .closed(peer: peer, step: step)
            case .timeout: throw .timeout(peer: peer, step: step)
            default: throw .net(error)
            }
        } catch {
            throw .net(.system(operation: "MSE handshake with \(peer)", reason: "\(error)"))
        }
        return initiator.outcome!
    }
}
