import Foundation
import JSON
import Metainfo
import Net
import PeerWire
import Swarm

/// Options and set-up shared by `handshake` and `fetch-piece`.
enum PeerOptions {
    static let timeout = OptionSpec(["--timeout"], value: "SECONDS",
                                    help: "give up when the peer is silent this long (default 30; exit 75)")
    static let connectTimeout = OptionSpec(["--connect-timeout"], value: "SECONDS", help: "TCP connect timeout (default 10)")
    static let trace = OptionSpec(["--trace"], help: "print every message in and out as JSON Lines on stdout")

    static func seconds(_ invocation: Invocation, _ key: String, default value: Double) throws(TTError) -> Double {
        guard let text = invocation.arguments.value(key) else { return value }
        guard let number = Double(text), number > 0, number <= 86400 else {
            throw .usage("\(key) needs a number of seconds greater than 0, got '\(text)'")
        }
        return number
    }

    /// Parses the peer address (numeric, or a host name that resolves).
    static func address(_ text: String) throws(TTError) -> SocketAddress {
        do {
            _ = try SocketAddress.split(text)
        } catch {
            throw .usage("'\(text)' is not a peer address; expected HOST:PORT or [IPv6]:PORT")
        }
        do {
            return try SocketAddress.resolve(text)
        } catch {
            throw TTError(net: error)
        }
    }

    /// The trace writer for `--trace`: stdout unless stdout carries data (then stderr).
    static func trace(_ invocation: Invocation, start: Double, toStderr: Bool) -> PeerTrace? {
        guard invocation.arguments.has("--trace") else { return nil }
        let environment = invocation.environment
        return PeerTrace(start: start) { value in
            if toStderr {
                var bytes = JSONWriter().bytes(value)
                bytes.append(UInt8(ascii: "\n"))
                environment.writeError(String(decoding: bytes, as: UTF8.self))
            } else {
                environment.writeJSON(value)
            }
        }
    }

    static var ourPeerID: PeerID { PeerID.ours() }
    static var ourVersion: String { ClientIdentity.name }
}

/// What a peer says about itself right after the handshake.
struct PeerGreeting {
    var handshake: Handshake
    var rtt: Double
    var extensions: ExtensionHandshake?
    /// "bitfield", "have_all", "have_none", or "none" when it said nothing before we stopped waiting.
    var availabilitySource = "none"
    var bitfield: [UInt8]?
    var haveAll = false
    var haves: Set<UInt32> = []
    var choked = true
    var allowedFast: Set<UInt32> = []

    /// Pieces the peer has, when that is known (`pieceCount` from the torrent, or nil).
    func havePieces(pieceCount: Int?) -> Int? {
        if haveAll { return pieceCount }
        var count = haves.count
        if let bitfield {
            count = bitfield.reduce(0) { $0 + $1.nonzeroBitCount }
            for piece in haves where bitfield.count > Int(piece) / 8 && bitfield[Int(piece) / 8] & (0x80 >> UInt8(piece % 8)) == 0 {
                count += 1
            }
        }
        return count
    }

    func has(piece: Int) -> Bool? {
        if haveAll || haves.contains(UInt32(piece)) { return true }
        if let bitfield { return bitfield.count > piece / 8 && bitfield[piece / 8] & (0x80 >> UInt8(piece % 8)) != 0 }
        if availabilitySource == "have_none" { return false }
        return nil
    }

    /// Takes one event of the greeting phase (the session has checked indices against the torrent).
    mutating func absorb(_ event: PeerLinkEvent) {
        switch event {
        case .session(.extensionHandshake(let handshake)): extensions = handshake
        case .session(.message(let message)):
            switch message {
            case .bitfield(let bytes): bitfield = bytes; availabilitySource = "bitfield"
            case .haveAll: haveAll = true; availabilitySource = "have_all"
            case .haveNone: availabilitySource = "have_none"
            case .have(let piece): haves.insert(piece)
            case .choke: choked = true
            case .unchoke: choked = false
            case .allowedFast(let piece): allowedFast.insert(piece)
            default: break
            }
        default: break
        }
    }

    var hasAvailability: Bool { availabilitySource != "none" }

    /// Sends ours and reads theirs: handshake, extension handshake, have_none, then waits up to
    /// `wait` seconds for the peer's extension handshake and availability.
    static func greet(_ client: PeerClient, wait: Double, sendFirst: [PeerMessage] = []) throws(TTError) -> PeerGreeting {
        let (handshake, rtt) = try client.handshake()
        var greeting = PeerGreeting(handshake: handshake, rtt: rtt)
        client.link.update { session in
            session.sendAvailability(Bitfield(pieceCount: 0))
            for message in sendFirst { session.send(message) }
        }
        let deadline = monotonicSeconds() + wait
        let wantsExtensions = handshake.reserved.supportsExtensions
        while !(greeting.hasAvailability && (!wantsExtensions || greeting.extensions != nil)) {
            guard let event = try client.nextIfAny(deadline: deadline) else { break }
            greeting.absorb(event)
        }
        return greeting
    }
}
