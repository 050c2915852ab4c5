import Foundation
import JSON
import Metainfo
import Net
import PeerWire
import Swarm
import UTP

/// One outgoing peer for `handshake` and `fetch-piece`: a `PeerLink` (the same `PeerSession` the
/// swarm uses) with the command's deadlines, trace and error mapping.
final class PeerClient {
    let address: SocketAddress
    let link: PeerLink
    /// Silence longer than this is a timeout (exit 75).
    let timeout: Double
    var peerName: String { address.description }

    /// Our session for a torrent (`lengths` known) or just an info hash.
    static func configuration(infoHash: [UInt8], lengths: Lengths?) -> PeerSession.Configuration {
        var configuration = PeerSession.Configuration(infoHash: infoHash, peerID: PeerOptions.ourPeerID)
        configuration.lengths = lengths
        configuration.clientVersion = PeerOptions.ourVersion
        configuration.requestQueue = 250
        return configuration
    }

    init(address: SocketAddress, configuration: PeerSession.Configuration, connectTimeout: Double, timeout: Double,
         trace: PeerTrace?, log: (String) -> Void, transport: TransportChoice = .tcp, local: SocketAddress? = nil) throws(TTError) {
        self.address = address
        self.timeout = timeout
        trace?.event("connect", [JSONFieldShim.peer(address), JSON.JSONField("transport", .string(transport.rawValue))])
        let dialer = PeerOptions.dialer(transport, local: local, trace: trace)
        do {
            link = try PeerLink(connecting: address, configuration: configuration, dialer: dialer, timeout: connectTimeout)
        } catch {
            throw TTError(swarm: error)
        }
        if let trace {
            link.trace = { traced in
                let direction = traced.outgoing ? "out" : "in"
                switch traced.frame {
                case .handshake(let handshake): trace.handshake(direction, handshake)
                case .message(let message, let length): trace.message(direction, message, length: length)
                }
            }
        }
        trace?.event("connected", [JSON.JSONField("transport", .string(link.stream.transport.rawValue))])
        log("connected to \(address) over \(link.stream.transport.rawValue)")
    }

    func close() { link.close() }

    /// The carrier in use (for `auto`, the one that answered first).
    var transport: TransportKind { link.stream.transport }

    func send(_ message: PeerMessage) { link.send(message) }

    /// Sends our handshake (and, once theirs is in, our extension handshake) and waits for the
    /// peer's; returns it and the round-trip time.
    func handshake() throws(TTError) -> (Handshake, Double) {
        let sent = monotonicSeconds()
        link.open()
        let deadline = monotonicSeconds() + timeout
        while true {
            if case .session(.handshake(let theirs)) = try next(deadline: deadline, waitingFor: "the peer's handshake") {
                return (theirs, monotonicSeconds() - sent)
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
