import FoundationEssentials
import Glibc
import JSON
import Metainfo
import MSE
import Net
import PeerWire
import Swarm

/// One outgoing peer for `handshake` and `fetch-piece`: a `PeerLink` (the same `PeerSession` the
/// swarm uses) with the command's deadlines, trace and error mapping.
final class PeerClient {
    let address: SocketAddress
    private(set) var link: PeerLink
    /// Silence longer than this is a timeout (exit 75); it also bounds the reconnect attempts.
    let timeout: Double
    var peerName: String { address.description }
    let encryption: EncryptionPolicy
    /// What MSE did so far (`--encryption prefer|require`); nil under `off`.
    var mse: MSEReport? {
        guard encryption != .off else { return nil }
        var report = MSEReport(policy: encryption, provide: nil, selected: nil, retried: false, failure: nil)
        if let stream = link.stream as? MSEStream {
            report.provide = stream.offered
            report.selected = stream.method
        } else if let stream = link.stream as? PlaintextFirstStream {
            report.retried = stream.retried
            if let encrypted = stream.inner as? MSEStream {
                report.provide = encrypted.offered
                report.selected = encrypted.method
            }
        }
        return report
    }
    private let configuration: PeerSession.Configuration
    /// How the peer is reached (TCP unless a uTP or encrypting dialer is given); reconnects use it too.
    private let dialer: any PeerDialer
    private let connectTimeout: Double
    private let trace: PeerTrace?
    private let log: (String) -> Void

    /// Our session for a torrent (`lengths` known) or just an info hash.
    static func configuration(infoHash: [UInt8], lengths: Lengths?) -> PeerSession.Configuration {
        var configuration = PeerSession.Configuration(infoHash: infoHash, peerID: PeerOptions.ourPeerID)
        configuration.lengths = lengths
        configuration.clientVersion = PeerOptions.ourVersion
        configuration.requestQueue = 250
        return configuration
    }

    init(address: SocketAddress, configuration: PeerSession.Configuration, connectTimeout: Double, timeout: Double,
         trace: PeerTrace?, encryption: EncryptionPolicy = .off, log: @escaping (String) -> Void,
         dialer: any PeerDialer = TCPDialer()) throws(TTError) {
        self.address = address
        self.timeout = timeout
        self.configuration = configuration
        self.encryption = encryption
        // MSE runs inside the dial (require), or inside the stream when a plain attempt is refused
        // (prefer); reconnects go through the same dialer.
        self.dialer = MSEDialer(policy: encryption, infoHash: configuration.infoHash, inner: dialer, handshakeTimeout: timeout) { _, step in
            trace?.event(step.name, MSEReport.fields(step))
        }
        let dialer = self.dialer
        self.connectTimeout = connectTimeout
        self.trace = trace
        self.log = log
        trace?.event("connect", [JSONFieldShim.peer(address), JSON.JSONField("attempt", .int(1))])
        do {
            link = try PeerLink(connecting: address, configuration: configuration, dialer: dialer, timeout: connectTimeout)
        } catch {
            throw TTError(swarm: error)
        }
        if encryption == .require { log("MSE with \(address): \(mse?.selected?.description ?? "none")") }
        attachTrace()
        trace?.event("connected", [JSON.JSONField("transport", .string(link.stream.transport.rawValue))])
        log("connected to \(address) over \(link.stream.transport.rawValue)")
    }

    private func attachTrace() {
        if let trace {
            link.trace = { traced in
                let direction = traced.outgoing ? "out" : "in"
                switch traced.frame {
                case .handshake(let handshake): trace.handshake(direction, handshake)
                case .message(let message, let length): trace.message(direction, message, length: length)
                }
            }
        }
    }

    func close() { link.close() }

    /// The carrier in use (for `--transport auto`, the one that answered first).
    var transport: TransportKind { link.stream.transport }

    func send(_ message: PeerMessage) { link.send(message) }

    /// Sends our handshake (and, once theirs is in, our extension handshake) and waits for the
    /// peer's; returns it and the round-trip time.
    ///
    /// A peer that closes a fresh connection before its handshake is asked again, after 0.25 s, 0.5 s,
    /// 1 s… while `timeout` allows: Transmission drops a peer that reconnects at once (as after
    /// `tt handshake`), and takes it a moment later. Each attempt shows in the trace.
    func handshake() throws(TTError) -> (Handshake, Double) {
        let deadline = monotonicSeconds() + timeout
        var backoff = 0.25
        var attempt = 1
        var firstClose: SwarmError?
        while true {
            let sent = monotonicSeconds()
            link.open()
            // A peer that takes us back answers at once; a reconnect it leaves unanswered ends the tries.
            let attemptDeadline = firstClose == nil ? deadline : min(deadline, sent + max(2, connectTimeout / 2))
            do throws(SwarmError) {
                while true {
                    if case .session(.handshake(let theirs)) = try link.next(deadline: attemptDeadline, waitingFor: "the peer's handshake") {
                        return (theirs, monotonicSeconds() - sent)
                    }
                }
            } catch {
                if case .peerClosed(_, beforeHandshake: true, _, _) = error, firstClose == nil { firstClose = error }
                guard case .peerClosed(_, beforeHandshake: true, _, _) = error, monotonicSeconds() + backoff < deadline else {
                    if let firstClose {
                        var failure = TTError(swarm: firstClose)
                        failure.message += "; asked again \(attempt - 1) time\(attempt == 2 ? "" : "s") within --timeout, "
                            + (error.isTimeout ? "the last unanswered" : "the last: \(error)")
                        throw failure
                    }
                    if case .peerTimeout = error {
                        throw TTError(.timeout, kind: "timeout", "peer \(peerName): no answer for \(Format.seconds(timeout)) waiting for the peer's handshake",
                                      details: [("peer", peerName)])
                    }
                    throw TTError(swarm: error)
                }
                link.close()
                attempt += 1
                trace?.event("retry", [JSONFieldShim.peer(address), JSON.JSONField("attempt", .int(attempt)),
                                       JSON.JSONField("after", .double(backoff)), JSON.JSONField("reason", .string(error.description))])
                log("\(error.description); trying again in \(Format.seconds(backoff)) (attempt \(attempt))")
                usleep(UInt32(backoff * 1_000_000))
                backoff = min(backoff * 2, 4)
                do {
                    link = try PeerLink(connecting: address, configuration: configuration, dialer: dialer,
                                        timeout: max(0.1, min(connectTimeout, deadline - monotonicSeconds())))
                } catch {
                    throw TTError(swarm: error)
                }
                attachTrace()
                trace?.event("connected", [JSON.JSONField("attempt", .int(attempt))])
            }
        }
    }

    /// The next event, waiting at most until `deadline` (timeout is exit 75).
    func next(deadline: Double, waitingFor what: String) throws(TTError) -> PeerLinkEvent {
        do {
            return try link.next(deadline: deadline, waitingFor: what)
        } catch .peerTimeout {
            throw TTError(.timeout, kind: "timeout", "peer \(peerName): no answer for \(Format.seconds(timeout)) waiting for \(what)",
                          details: [("peer", peerName)])
        } catch {
            throw TTError(swarm: error)
        }
    }

    /// Like `next`, but nil when the deadline passes (for optional waits).
    func nextIfAny(deadline: Double) throws(TTError) -> PeerLinkEvent? {
        do {
            return try link.nextIfAny(deadline: deadline)
        } catch {
            throw TTError(swarm: error)
        }
    }
}

/// Small helpers to build trace fields without importing JSON everywhere.
enum JSONFieldShim {
    static func peer(_ address: SocketAddress) -> JSON.JSONField { JSON.JSONField("peer", PeerWireViews.peer(address)) }
}

extension SwarmError {
    var isTimeout: Bool { if case .peerTimeout = self { return true }; return false }
}
