import Foundation
import JSON
import Metainfo
import MSE
import Net
import PeerWire

/// One outgoing peer connection used in blocking style with deadlines (for `handshake` and
/// `fetch-piece`): send messages, wait for the next one, trace both directions.
final class PeerClient {
    let address: SocketAddress
    private(set) var connection: TCPConnection
    private let connectTimeout: Double
    /// `--encryption`: whether the handshake is wrapped in MSE/PE.
    let encryption: EncryptionPolicy
    /// What MSE did, once `handshake` has run (nil for a plain handshake).
    private(set) var mse: MSEReport?
    private var encryptor: RC4?
    private var decryptor: RC4?
    private var decoder = FrameDecoder(expectingHandshake: true)
    private let trace: PeerTrace?
    private let log: (String) -> Void
    /// Silence longer than this is a timeout (exit 75).
    let timeout: Double
    var peerName: String { address.description }

    /// Our handshake's reserved bits: extension protocol and fast.
    static let ourReserved = ReservedBits([ReservedBits.extensionProtocol, ReservedBits.fast])

    init(address: SocketAddress, connectTimeout: Double, timeout: Double, trace: PeerTrace?,
         encryption: EncryptionPolicy = .off, log: @escaping (String) -> Void) throws(TTError) {
        self.address = address
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.encryption = encryption
        self.trace = trace
        self.log = log
        connection = try Self.connect(address, timeout: connectTimeout, trace: trace, log: log)
    }

    private static func connect(_ address: SocketAddress, timeout: Double, trace: PeerTrace?,
                                log: (String) -> Void) throws(TTError) -> TCPConnection {
        trace?.event("connect", [JSONFieldShim.peer(address)])
        let connection: TCPConnection
        do {
            connection = try TCPConnection.connect(to: address, timeout: timeout)
        } catch {
            throw TTError(net: error)
        }
        trace?.event("connected", [])
        log("connected to \(address)")
        return connection
    }

    /// Runs MSE/PE before the BitTorrent handshake as `encryption` says; under `prefer`, a peer
    /// that hangs up on it is dialed again in plaintext.
    private func negotiateEncryption(infoHash: [UInt8]) throws(TTError) {
        guard let provide = encryption.provide else { return }
        let onStep: (MSEStep) -> Void = { [trace] step in trace?.event(step.name, MSEReport.fields(step)) }
        do {
            let outcome = try BlockingMSE.initiate(connection, infoHash: infoHash, provide: provide, timeout: timeout, onStep: onStep)
            encryptor = outcome.encryptor
            decryptor = outcome.decryptor
            if !outcome.payload.isEmpty { decoder.append(outcome.payload) }
            mse = MSEReport(provide: provide, selected: outcome.method, retriedPlaintext: false, failure: nil)
            log("MSE with \(address): \(outcome.method)")
        } catch let error where encryption == .prefer && error.peerRefused {
            trace?.event("mse_fallback", [JSONField("reason", .string(error.description))])
            log("\(error); retrying in plaintext")
            connection.close()
            connection = try Self.connect(address, timeout: connectTimeout, trace: trace, log: log)
            mse = MSEReport(provide: provide, selected: nil, retriedPlaintext: true, failure: error.description)
        } catch {
            throw TTError(mse: error)
        }
    }

    deinit { connection.close() }

    func send(_ message: PeerMessage) throws(TTError) {
        var bytes = message.encoded()
        trace?.message("out", message, length: bytes.count)
        encryptor?.apply(&bytes)
        do { try connection.send(bytes, deadline: .after(timeout)) } catch { throw wrap(error, while: "sending \(message.name)") }
    }

    /// Sends our handshake and waits for the peer's; returns it and the round-trip time.
    func handshake(infoHash: [UInt8], peerID: PeerID) throws(TTError) -> (Handshake, Double) {
        try negotiateEncryption(infoHash: infoHash)
        let sent = monotonicSeconds()
        let ours = Handshake(reserved: Self.ourReserved, infoHash: infoHash, peerID: peerID)
        trace?.handshake("out", ours)
        var bytes = ours.encoded()
        encryptor?.apply(&bytes)
        do { try connection.send(bytes, deadline: .after(timeout)) } catch { throw wrap(error, while: "sending our handshake") }
        let deadline = Deadline.after(timeout)
        while true {
            do throws(PeerWireError) {
                if case .handshake(let theirs)? = try decoder.next() {
                    let rtt = monotonicSeconds() - sent
                    trace?.handshake("in", theirs)
                    guard theirs.infoHash == infoHash else {
                        throw PeerWireError.wrongInfoHash(expected: infoHash, received: theirs.infoHash)
                    }
                    return (theirs, rtt)
                }
            } catch {
                throw TTError(peerWire: error, peer: peerName)
            }
            try fill(deadline: deadline, waitingFor: "the peer's handshake", beforeHandshake: true)
        }
    }

    /// The next message, waiting at most `deadline` (timeout is exit 75).
    func next(deadline: Deadline, waitingFor what: String) throws(TTError) -> PeerMessage {
        while true {
            do throws(PeerWireError) {
                if case .message(let message, let length)? = try decoder.next() {
                    trace?.message("in", message, length: length)
                    return message
                }
            } catch {
                throw TTError(peerWire: error, peer: peerName)
            }
            try fill(deadline: deadline, waitingFor: what, beforeHandshake: false)
        }
    }

    /// Like `next`, but nil when the deadline passes (for optional waits).
    func nextIfAny(deadline: Deadline) throws(TTError) -> PeerMessage? {
        do {
            return try next(deadline: deadline, waitingFor: "")
        } catch let error where error.code == .timeout {
            return nil
        }
    }

    private func fill(deadline: Deadline, waitingFor what: String, beforeHandshake: Bool) throws(TTError) {
        var bytes: [UInt8]
        do {
            bytes = try connection.receive(max: 256 * 1024, deadline: deadline)
        } catch {
            throw wrap(error, while: "waiting for \(what)", beforeHandshake: beforeHandshake)
        }
        if bytes.isEmpty {
            trace?.event("closed", [])
            if beforeHandshake {
                let hint = encryption == .off ? ", or requires encryption: try --encryption prefer" : ""
                throw TTError(.protocolError, kind: "closed",
                              "peer \(peerName) closed the connection before its handshake (it may not have this torrent, or refuses us\(hint))",
                              details: [("peer", peerName)])
            }
            throw TTError(.protocolError, kind: "closed", "peer \(peerName) closed the connection while we were waiting for \(what)",
                          details: [("peer", peerName)])
        }
        decryptor?.apply(&bytes)
        decoder.append(bytes)
    }

    private func wrap(_ error: NetError, while what: String, beforeHandshake: Bool = false) -> TTError {
        switch error {
        case .timeout:
            return TTError(.timeout, kind: "timeout", "peer \(peerName): no answer for \(Format.seconds(timeout)) \(what)",
                           details: [("peer", peerName)])
        case .closed:
            return TTError(.protocolError, kind: "closed",
                           "peer \(peerName) hung up \(beforeHandshake ? "before its handshake" : what)", details: [("peer", peerName)])
        default:
            return TTError(net: error)
        }
    }
}

/// Small helpers to build trace fields without importing JSON everywhere.
enum JSONFieldShim {
    static func peer(_ address: SocketAddress) -> JSON.JSONField { JSON.JSONField("peer", PeerWireViews.peer(address)) }
}
