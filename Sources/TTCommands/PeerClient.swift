import Foundation
import JSON
import Metainfo
import Net
import PeerWire
import UTP

/// What a `PeerClient` talks through: a blocking TCP connection, or a loop-driven stream (uTP, auto).
protocol PeerLink: AnyObject {
    func send(_ bytes: [UInt8], deadline: Deadline) throws(NetError)
    func receive(max: Int, deadline: Deadline) throws(NetError) -> [UInt8]
    func close()
}

extension TCPConnection: PeerLink {}
extension BlockingStream: PeerLink {}

/// One outgoing peer connection used in blocking style with deadlines (for `handshake` and
/// `fetch-piece`): send messages, wait for the next one, trace both directions.
final class PeerClient {
    let address: SocketAddress
    /// Set by the constructor for TCP, by `handshake` for uTP and auto (they dial with our handshake).
    private var link: PeerLink?
    let transportChoice: BlockingStream.Choice
    let connectTimeout: Double
    let local: SocketAddress?
    /// The carrier that won (`tcp` or `utp`), once connected.
    private(set) var transport: TransportKind?
    private var decoder = FrameDecoder(expectingHandshake: true)
    private let trace: PeerTrace?
    private let log: (String) -> Void
    /// Silence longer than this is a timeout (exit 75).
    let timeout: Double
    var peerName: String { address.description }

    /// Our handshake's reserved bits: extension protocol and fast.
    static let ourReserved = ReservedBits([ReservedBits.extensionProtocol, ReservedBits.fast])

    init(address: SocketAddress, connectTimeout: Double, timeout: Double, trace: PeerTrace?, log: @escaping (String) -> Void,
         transport: BlockingStream.Choice = .tcp, local: SocketAddress? = nil) throws(TTError) {
        self.address = address
        self.timeout = timeout
        self.trace = trace
        self.log = log
        self.transportChoice = transport
        self.connectTimeout = connectTimeout
        self.local = local
        guard transport == .tcp else { return }
        trace?.event("connect", [JSONFieldShim.peer(address), JSON.JSONField("transport", .string("tcp"))])
        do {
            link = try TCPConnection.connect(to: address, timeout: connectTimeout, from: local)
        } catch {
            throw TTError(net: error)
        }
        self.transport = .tcp
        trace?.event("connected", [JSON.JSONField("transport", .string("tcp"))])
        log("connected to \(address)")
    }

    deinit { link?.close() }

    func close() { link?.close(); link = nil }

    /// Dials uTP, or uTP and TCP at once, sending our handshake on each; keeps the first that answers.
    private func dial(opening: [UInt8]) throws(TTError) {
        trace?.event("connect", [JSONFieldShim.peer(address), JSON.JSONField("transport", .string(transportChoice.rawValue))])
        let utpTrace: ((UTPMultiplexer.TraceRecord) -> Void)? = trace.map { trace in { record in trace.utp(record) } }
        do {
            let stream = try BlockingStream.connect(to: address, choice: transportChoice, opening: opening, expect: Handshake.length,
                                                    timeout: connectTimeout, deadline: .after(connectTimeout + timeout),
                                                    from: local, trace: utpTrace)
            link = stream
            transport = stream.transport
        } catch {
            throw TTError(net: error)
        }
        trace?.event("connected", [JSON.JSONField("transport", .string(transport?.rawValue ?? "tcp"))])
        log("connected to \(address) over \(transport?.rawValue ?? "tcp")")
    }

    func send(_ message: PeerMessage) throws(TTError) {
        let bytes = message.encoded()
        trace?.message("out", message, length: bytes.count)
        do { try link?.send(bytes, deadline: .after(timeout)) } catch { throw wrap(error, while: "sending \(message.name)") }
    }

    /// Sends our handshake and waits for the peer's; returns it and the round-trip time.
    func handshake(infoHash: [UInt8], peerID: PeerID) throws(TTError) -> (Handshake, Double) {
        let ours = Handshake(reserved: Self.ourReserved, infoHash: infoHash, peerID: peerID)
        trace?.handshake("out", ours)
        let sent = monotonicSeconds()
        if link == nil {
            try dial(opening: ours.encoded())
        } else {
            do { try link?.send(ours.encoded(), deadline: .after(timeout)) } catch { throw wrap(error, while: "sending our handshake") }
        }
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
        let bytes: [UInt8]
        do throws(NetError) {
            guard let link else { throw NetError.closed(address: peerName) }
            bytes = try link.receive(max: 256 * 1024, deadline: deadline)
        } catch {
            throw wrap(error, while: "waiting for \(what)", beforeHandshake: beforeHandshake)
        }
        if bytes.isEmpty {
            trace?.event("closed", [])
            if beforeHandshake {
                throw TTError(.protocolError, kind: "closed",
                              "peer \(peerName) closed the connection before its handshake (it may not have this torrent, or refuses us)",
                              details: [("peer", peerName)])
            }
            throw TTError(.protocolError, kind: "closed", "peer \(peerName) closed the connection while we were waiting for \(what)",
                          details: [("peer", peerName)])
        }
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
