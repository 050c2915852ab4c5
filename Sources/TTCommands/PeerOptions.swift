import FoundationEssentials
import Glibc
import JSON
import Metainfo
import Net
import PeerWire
import Swarm
import UTP

/// Options and set-up shared by `handshake` and `fetch-piece`.
enum PeerOptions {
    static let timeout = OptionSpec(["--timeout"], value: "SECONDS",
                                    help: "give up when the peer is silent this long (default 30; exit 75)")
    static let connectTimeout = OptionSpec(["--connect-timeout"], value: "SECONDS", help: "TCP connect timeout (default 10)")
    static let trace = OptionSpec(["--trace"], help: "print every message in and out (and uTP packets) as JSON Lines on stdout")
    static let transport = OptionSpec(["--transport"], value: "tcp|utp|auto",
                                      help: "carrier: TCP (default), uTP (BEP 29), or auto (both at once; the first to answer wins)")
    static let bind = OptionSpec(["--bind"], value: "IP", help: "the local address to connect from")

    /// `--transport` (default tcp).
    static func transport(_ invocation: Invocation) throws(TTError) -> TransportChoice {
        guard let text = invocation.arguments.value("--transport") else { return .tcp }
        guard let choice = TransportChoice(rawValue: text) else {
            throw .usage("--transport must be tcp, utp or auto, got '\(text)'")
        }
        return choice
    }

    static let engineTransport = OptionSpec(["--transport"], value: "tcp|utp|auto",
                                            help: "accept and dial peers over TCP, uTP, or both (auto, the default: uTP first, TCP after 1 s)")

    /// `--transport` of download and seed (default auto): which carriers the engine accepts and dials.
    static func engineTransport(_ invocation: Invocation) throws(TTError) -> UTPComponent.Mode {
        guard let text = invocation.arguments.value("--transport") else { return .auto }
        guard let mode = UTPComponent.Mode(rawValue: text) else { throw .usage("--transport must be tcp, utp or auto, got '\(text)'") }
        return mode
    }

    /// `--bind IP`: a numeric local address.
    static func bind(_ invocation: Invocation) throws(TTError) -> SocketAddress? {
        guard let text = invocation.arguments.value("--bind") else { return nil }
        guard let address = SocketAddress(ip: text, port: 0) else { throw .usage("--bind needs a numeric IP address, got '\(text)'") }
        return address
    }

    /// The dialer for one peer: TCP, uTP, or both racing (the first to deliver the peer's handshake wins).
    static func dialer(_ choice: TransportChoice, local: SocketAddress?, trace: PeerTrace?) -> any PeerDialer {
        let tcp: any PeerDialer = TCPDialer(local: local)
        let utp = UTPDialer(local: local, trace: trace.map { trace in { record in trace.utp(record) } })
        switch choice {
        case .tcp: return tcp
        case .utp: return utp
        case .auto: return RacingDialer([utp, tcp])
        }
    }

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

/// `--transport`: which carrier a peer command dials.
enum TransportChoice: String {
    case tcp, utp, auto
}
