import Bencode
import FoundationEssentials
import Glibc
import JSON
import Metainfo
import MSE
import Net
import PeerWire

/// `tt handshake`: shake hands with one peer and show what it is and what it supports.
struct HandshakeCommand: Command {
    static let spec = CommandSpec(
        name: "handshake",
        summary: "shake hands with one peer: its id, client, extensions and pieces",
        usage: "tt handshake HOST:PORT [--torrent T | --info-hash H] [--transport tcp|utp|auto] [--encryption off|prefer|require] [--json] [--trace]",
        options: [
            OptionSpec(["--torrent", "-t"], value: "T", help: "a .torrent, magnet link or info hash naming the torrent"),
            OptionSpec(["--info-hash"], value: "HEX", help: "the torrent's info hash (40 hex; 64 hex for v2)"),
            OptionSpec(["--wait"], value: "SECONDS",
                       help: "how long to wait after the handshake for the extension handshake and bitfield (default 3)"),
            EncryptionOption.spec(default: .off),
            PeerOptions.timeout, PeerOptions.connectTimeout, PeerOptions.trace, PeerOptions.transport, PeerOptions.bind,
        ],
        positionals: 1...1,
        discussion: """
        Sends our handshake (extension protocol and fast bits set) and extension handshake, then
        reports the peer's: peer id and the client it names, reserved bits, BEP 10 extensions, how
        many pieces it has (bitfield, have_all or have_none) and the handshake round-trip time.
        With --encryption prefer or require the handshake runs inside MSE/PE and the report says
        which method the peer selected ("encryption": "rc4" or "plaintext").
        A peer that answers for another torrent or hangs up exits 76; silence exits 75. A peer that
        closes a fresh connection before its handshake is asked again with a short back-off within
        --timeout. Without a torrent: whether the port accepts TCP and its round trip, and what the
        peer does with a handshake for a torrent it lacks (closed, reset, handshake, silent); exit 0
        when reachable, 69 refused or unreachable, 75 no answer to the connect.
        """,
        examples: ["tt handshake 127.0.0.1:6881 --torrent x.torrent", "tt handshake 127.0.0.1:6881 --json",
                   "tt announce --json x.torrent | jq -r '.peers[].addr' | xargs -n1 tt handshake --torrent x.torrent --json"])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let arguments = invocation.arguments
        let address = try PeerOptions.address(arguments.positionals[0])
        let timeout = try PeerOptions.seconds(invocation, "--timeout", default: 30)
        let connectTimeout = try PeerOptions.seconds(invocation, "--connect-timeout", default: 10)
        let wait = try PeerOptions.seconds(invocation, "--wait", default: 3)
        let encryption = try EncryptionOption.parse(invocation, default: .off)
        let input: TorrentInput
        switch (arguments.value("--torrent"), arguments.value("--info-hash")) {
        case (let torrent?, nil):
            input = try TorrentInput.load(torrent, invocation.environment, allowHashOnly: true)
        case (nil, let hash?):
            guard let hashes = InfoHashes(hex: hash) else { throw .usage("--info-hash needs 40 or 64 hex digits, got '\(hash)'") }
            input = .infoHash(hashes)
        case (nil, nil):
            // MSE keys derive from the info hash: without one there is nothing to encrypt for.
            guard encryption == .off else { throw .usage("--encryption \(encryption.rawValue) needs --torrent or --info-hash") }
            return try HandshakeProbe.run(invocation, address: address, connectTimeout: connectTimeout, wait: wait)
        default: throw .usage("give one of --torrent and --info-hash, not both")
        }
        let infoHash = input.infoHashes.wire
        let pieceCount = input.torrent?.pieceCount
        let start = monotonicSeconds()
        let trace = PeerOptions.trace(invocation, start: start, toStderr: false)
        let lengths = input.torrent.map { Lengths(layout: $0.layout) }
        let client = try PeerClient(address: address, configuration: PeerClient.configuration(infoHash: infoHash, lengths: lengths),
                                    connectTimeout: connectTimeout, timeout: timeout, trace: trace, encryption: encryption,
                                    log: invocation.log,
                                    dialer: PeerOptions.dialer(try PeerOptions.transport(invocation), local: try PeerOptions.bind(invocation),
                                                               trace: trace))
        let greeting: PeerGreeting
        do {
            greeting = try PeerGreeting.greet(client, wait: wait)
        } catch where error.kind == "closed" && encryption == .off {
            // Peers that require MSE/PE hang up on a plain handshake without a word.
            var hinted = error
            hinted.message += "; peers that require encryption do this too: try --encryption prefer"
            throw hinted
        }
        client.close()
        let view = json(address: address, infoHash: infoHash, greeting: greeting, pieceCount: pieceCount, mse: client.mse,
                        transport: client.transport)
        if let trace {
            trace.event("result", view.objectFields)
        } else if invocation.json {
            invocation.outputJSON(view)
        } else {
            invocation.output(text(address: address, greeting: greeting, pieceCount: pieceCount, mse: client.mse, transport: client.transport))
        }
        return .success
    }

    static func json(address: SocketAddress, infoHash: [UInt8], greeting: PeerGreeting, pieceCount: Int?, mse: MSEReport? = nil,
                     transport: TransportKind = .tcp) -> JSONValue {
        let handshake = greeting.handshake
        var fields = [JSONField("peer", PeerWireViews.peer(address)), JSONField("transport", .string(transport.rawValue)),
                      JSONField("info_hash", .string(Hex.encode(infoHash)))]
        fields += PeerWireViews.peerIDFields(handshake.peerID)
        fields += [
            JSONField("reserved", PeerWireViews.reserved(handshake.reserved)),
            JSONField("extensions", greeting.extensions.map(PeerWireViews.extensions) ?? .null),
            JSONField("pieces", .object([
                JSONField("have", .optional(greeting.hasAvailability || !greeting.haves.isEmpty ? greeting.havePieces(pieceCount: pieceCount) : nil)),
                JSONField("total", .optional(pieceCount)),
                JSONField("source", .string(greeting.availabilitySource)),
                JSONField("haves", .int(greeting.haves.count)),
            ])),
            JSONField("choked", .bool(greeting.choked)),
            JSONField("rtt", .double((greeting.rtt * 1e6).rounded() / 1e6)),
            JSONField("encryption", .string(MSEReport.encryption(mse))),
            JSONField("mse", MSEReport.json(mse)),
        ]
        return .object(fields)
    }

    static func text(address: SocketAddress, greeting: PeerGreeting, pieceCount: Int?, mse: MSEReport? = nil,
                     transport: TransportKind = .tcp) -> String {
        let handshake = greeting.handshake
        var lines: [String] = []
        func row(_ label: String, _ value: String) { lines.append(Format.padded(label, 12) + value) }
        row("peer", address.description + (transport == .utp ? " (uTP)" : ""))
        row("peer id", handshake.peerID.printable + "  (\(handshake.peerID.hex))")
        row("client", handshake.peerID.client ?? "unknown")
        var reserved = handshake.reserved.names
        reserved += handshake.reserved.unknownBits.map { "bit \($0)" }
        row("reserved", (reserved.isEmpty ? "none" : reserved.joined(separator: ", ")) + "  (\(handshake.reserved.hex))")
        if let extensions = greeting.extensions {
            if let version = extensions.version { row("version", version) }
            let names = extensions.messages.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            row("extensions", names.isEmpty ? "none" : names.joined(separator: ", "))
            var details: [String] = []
            if let port = extensions.listenPort { details.append("port \(port)") }
            if let queue = extensions.requestQueue { details.append("reqq \(queue)") }
            if let ip = extensions.yourIPText { details.append("sees us as \(ip)") }
            if let size = extensions.metadataSize { details.append("metadata \(size) bytes") }
            if !details.isEmpty { row("", details.joined(separator: ", ")) }
        } else {
            row("extensions", handshake.reserved.supportsExtensions ? "no extension handshake received" : "not supported")
        }
        let have = greeting.havePieces(pieceCount: pieceCount)
        let total = pieceCount.map { "/\($0)" } ?? ""
        switch greeting.availabilitySource {
        case "none" where greeting.haves.isEmpty: row("pieces", "unknown (no bitfield)")
        default: row("pieces", "\(have.map(String.init) ?? "?")\(total) (\(greeting.availabilitySource.replacing("_", with: " ")))")
        }
        row("rtt", Format.seconds(greeting.rtt))
        if let mse {
            let how = mse.provide.map { "MSE, offered \($0)" + (mse.retried ? ", after the plain handshake was refused" : "") }
                ?? "plain handshake accepted, no MSE needed"
            row("encryption", "\(MSEReport.encryption(mse))  (\(how))")
        } else {
            row("encryption", "plaintext  (no MSE)")
        }
        return lines.joined(separator: "\n")
    }
}

extension JSONValue {
    var objectFields: [JSONField] {
        if case .object(let fields) = self { return fields }
        return []
    }
}
