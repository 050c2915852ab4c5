import Bencode
import DHT
import FoundationEssentials
import Glibc
import JSON
import Metainfo
import Net
import PeerWire
import UTP

/// `tt handshake HOST:PORT` without a torrent: what can be learned with no info hash to offer —
/// whether the port accepts TCP and how fast, what the peer does with a handshake for a torrent it
/// does not have, and whether the same port answers a uTP SYN and a DHT ping (tt-handshake(1),
/// "Without a torrent").
enum HandshakeProbe {
    enum Outcome: String {
        /// Closed the connection in an orderly way (most clients: libtorrent, Transmission, aria2).
        case closed
        /// Reset it (RST).
        case reset
        /// Answered with a handshake anyway (then it would have to close or talk about a torrent it lacks).
        case handshake
        /// Sent something that is not a handshake.
        case other
        /// Said nothing before `--wait` ran out.
        case silent
    }

    static func run(_ invocation: Invocation, address: SocketAddress, connectTimeout: Double, wait: Double) throws(TTError) -> ExitCode {
        let start = monotonicSeconds()
        let trace = PeerOptions.trace(invocation, start: start, toStderr: false)
        trace?.event("connect", [JSONFieldShim.peer(address)])
        let connection: TCPConnection
        do {
            connection = try TCPConnection.connect(to: address, timeout: connectTimeout)
        } catch {
            throw TTError(net: error)
        }
        defer { connection.close() }
        let connectRTT = monotonicSeconds() - start
        trace?.event("connected", [JSON.JSONField("rtt", .double(round6(connectRTT)))])
        invocation.log("connected to \(address) in \(Format.seconds(connectRTT))")

        // A random info hash: no peer has that torrent, so its answer shows how it treats strangers.
        let probeHash = (0..<20).map { _ in UInt8.random(in: 0...255) }
        let ours = Handshake(reserved: ReservedBits([ReservedBits.extensionProtocol, ReservedBits.fast]), infoHash: probeHash, peerID: PeerOptions.ourPeerID)
        let sentAt = monotonicSeconds()
        var outcome = Outcome.silent
        var received: [UInt8] = []
        var theirs: Handshake?
        do {
            try connection.send(ours.encoded(), deadline: .after(connectTimeout))
            trace?.event("handshake_probe", [JSON.JSONField("direction", .string("out")), JSON.JSONField("info_hash", .string(Hex.encode(probeHash)))])
            let deadline = Deadline.after(wait)
            while received.count < Handshake.length {
                let chunk = try connection.receive(max: Handshake.length - received.count, deadline: deadline)
                if chunk.isEmpty { outcome = received.isEmpty ? .closed : .other; break }
                received += chunk
            }
            if received.count >= Handshake.length {
                if let handshake = try? Handshake(decoding: received) { theirs = handshake; outcome = .handshake } else { outcome = .other }
            }
        } catch .timeout {
            outcome = received.isEmpty ? .silent : .other
        } catch .closed {
            outcome = received.isEmpty ? .reset : .other
        } catch {
            throw TTError(net: error)
        }
        let after = monotonicSeconds() - sentAt
        // The same port over UDP: many clients share it between uTP and the DHT.
        let utp = UTPProbe.probe(address, timeout: min(wait, connectTimeout))
        let dht = DHTProbe.ping(address, timeout: min(wait, connectTimeout))
        var view = json(address: address, rtt: connectRTT, probeHash: probeHash, outcome: outcome, after: after, theirs: theirs,
                        bytes: received.count, wait: wait)
        if case .object(var fields) = view {
            fields.append(JSONField("utp", udpJSON(utp)))
            fields.append(JSONField("dht", dhtJSON(dht)))
            view = .object(fields)
        }
        if let trace {
            trace.event("result", view.objectFields)
        } else if invocation.json {
            invocation.outputJSON(view)
        } else {
            invocation.output(text(address: address, rtt: connectRTT, outcome: outcome, after: after, theirs: theirs, bytes: received.count, wait: wait)
                              + "\n" + udpText(utp: utp, dht: dht))
        }
        return .success
    }

    static func json(address: SocketAddress, rtt: Double, probeHash: [UInt8], outcome: Outcome, after: Double, theirs: Handshake?,
                     bytes: Int, wait: Double) -> JSONValue {
        var probe: [JSONField] = [
            JSONField("info_hash", .string(Hex.encode(probeHash))),
            JSONField("outcome", .string(outcome.rawValue)),
            JSONField("after", .double(round6(outcome == .silent ? wait : after))),
            JSONField("bytes", .int(bytes)),
        ]
        if let theirs {
            probe += PeerWireViews.peerIDFields(theirs.peerID)
            probe.append(JSONField("reserved", PeerWireViews.reserved(theirs.reserved)))
            probe.append(JSONField("same_info_hash", .bool(theirs.infoHash == probeHash)))
        }
        return .object([
            JSONField("peer", PeerWireViews.peer(address)),
            JSONField("reachable", .bool(true)),
            JSONField("transport", .string("tcp")),
            JSONField("rtt", .double(round6(rtt))),
            JSONField("probe", .object(probe)),
        ])
    }

    static func text(address: SocketAddress, rtt: Double, outcome: Outcome, after: Double, theirs: Handshake?, bytes: Int, wait: Double) -> String {
        let said: String
        switch outcome {
        case .closed: said = "closed the connection \(Format.seconds(after)) after a handshake for a torrent it lacks (as most clients do)"
        case .reset: said = "reset the connection \(Format.seconds(after)) after a handshake for a torrent it lacks"
        case .handshake:
            said = "answered a handshake for a torrent it lacks with its own (\(theirs?.peerID.client ?? theirs?.peerID.printable ?? "unknown client"))"
        case .other: said = "sent \(bytes) bytes that are not a handshake"
        case .silent: said = "said nothing for \(Format.seconds(wait)) after a handshake for a torrent it lacks"
        }
        return """
        peer        \(address)
        tcp         reachable, connected in \(Format.seconds(rtt))
        handshake   \(said)
        (give --torrent or --info-hash for the full handshake: id, client, extensions, pieces)
        """
    }

    static func udpJSON(_ result: Result<Double, NetError>) -> JSONValue {
        switch result {
        case .success(let rtt): return .object([JSONField("reachable", .bool(true)), JSONField("rtt", .double(round6(rtt)))])
        case .failure(let error): return .object([JSONField("reachable", .bool(false)), JSONField("error", .string(error.description))])
        }
    }

    static func dhtJSON(_ result: Result<DHTProbe.Pong, DHTProbe.Failure>) -> JSONValue {
        switch result {
        case .success(let pong):
            return .object([JSONField("reachable", .bool(true)), JSONField("id", .string(pong.id.hex)),
                            JSONField("version", pong.version.map { .string(ClientVersion.describe($0)) } ?? .null),
                            JSONField("sees_us_as", pong.observedAddress.map { .string($0.description) } ?? .null),
                            JSONField("rtt", .double(round6(pong.rtt)))])
        case .failure(let failure):
            return .object([JSONField("reachable", .bool(false)), JSONField("error", .string(failure.description))])
        }
    }

    static func udpText(utp: Result<Double, NetError>, dht: Result<DHTProbe.Pong, DHTProbe.Failure>) -> String {
        let utpLine: String
        switch utp {
        case .success(let rtt): utpLine = "answers a SYN in \(Format.seconds(rtt))"
        case .failure(let error): utpLine = "no (\(error))"
        }
        let dhtLine: String
        switch dht {
        case .success(let pong):
            dhtLine = "node \(pong.id.hex)" + (pong.version.map { ", \(TerminalText.escape(ClientVersion.describe($0)))" } ?? "")
                + ", answered a ping in \(Format.seconds(pong.rtt))"
        case .failure(let failure): dhtLine = "no (\(failure))"
        }
        return "utp         \(utpLine)\ndht         \(dhtLine)"
    }

    static func round6(_ value: Double) -> Double { (value * 1e6).rounded() / 1e6 }
}
