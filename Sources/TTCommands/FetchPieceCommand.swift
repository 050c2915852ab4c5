import Bencode
import FoundationEssentials
import Glibc
import Hashing
import JSON
import Metainfo
import Net
import PeerWire
import Swarm

/// `tt fetch-piece`: fetch one piece from one peer, check it against the torrent, write it.
struct FetchPieceCommand: Command {
    static let spec = CommandSpec(
        name: "fetch-piece",
        summary: "fetch one piece from one peer and check its SHA-1",
        usage: "tt fetch-piece --torrent T --peer HOST:PORT --piece N [-o FILE|-] [--transport tcp|utp|auto] [--encryption off|prefer|require] [--json] [--trace]",
        options: [
            OptionSpec(["--torrent", "-t"], value: "T", help: "the .torrent (required: its piece hashes check the data)"),
            OptionSpec(["--peer", "-p"], value: "HOST:PORT", help: "the peer to fetch from (required)"),
            OptionSpec(["--piece", "-n"], value: "N", help: "the piece index, from 0 (required)"),
            OptionSpec(["--output", "-o"], value: "FILE", help: "write the piece to FILE ('-' for stdout; the report then goes to stderr)"),
            OptionSpec(["--keep-bad"], help: "write the piece even when its hash is wrong (still exits 76)"),
            OptionSpec(["--pipeline"], value: "N", help: "requests kept in flight (default 16, at most the peer's reqq)"),
            EncryptionOption.spec(default: .off),
            PeerOptions.timeout, PeerOptions.connectTimeout, PeerOptions.trace, PeerOptions.transport, PeerOptions.bind, WebSeedFetch.option, WebSeedFetch.caFileOption,
        ],
        positionals: 0...0,
        discussion: """
        Handshakes, says interested, waits for unchoke (or allowed_fast), then requests the piece in
        16 KiB blocks with several in flight, assembles them and checks the SHA-1 from the torrent.
        Prints a report: piece, size, blocks, time, throughput, hash_ok. A bad hash exits 76 and
        writes nothing unless --keep-bad; a peer that is silent for --timeout exits 75.
        """,
        examples: ["tt fetch-piece --torrent x.torrent --peer 127.0.0.1:6881 --piece 0 -o piece0.bin",
                   "tt fetch-piece --torrent x.torrent --webseed http://127.0.0.1:8000/ --piece 0 --json",
                   "tt fetch-piece -t x.torrent -p 127.0.0.1:6881 -n 3 -o - | sha1sum"])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let arguments = invocation.arguments
        let environment = invocation.environment
        if let webseed = arguments.value("--webseed") { return try WebSeedFetch.run(invocation, url: webseed) }
        guard let torrentArgument = arguments.value("--torrent") else { throw .usage("tt fetch-piece needs --torrent T") }
        guard let peerArgument = arguments.value("--peer") else { throw .usage("tt fetch-piece needs --peer HOST:PORT") }
        guard let pieceText = arguments.value("--piece") else { throw .usage("tt fetch-piece needs --piece N") }
        let torrent = try TorrentInput.loadTorrent(torrentArgument, environment)
        guard torrent.version != .v2 else {
            throw TTError(.dataError, kind: "unsupported", "\(torrentArgument): v2-only torrents are not supported by fetch-piece (no SHA-1 piece hashes)")
        }
        guard let number = Int(pieceText), let piece = torrent.layout.index(number) else {
            throw .usage("--piece must be from 0 to \(torrent.pieceCount - 1) (the torrent has \(torrent.pieceCount) pieces), got '\(pieceText)'")
        }
        let pipeline = try arguments.integer("--pipeline", in: 1...1024) ?? 16
        let address = try PeerOptions.address(peerArgument)
        let timeout = try PeerOptions.seconds(invocation, "--timeout", default: 30)
        let connectTimeout = try PeerOptions.seconds(invocation, "--connect-timeout", default: 10)
        let encryption = try EncryptionOption.parse(invocation, default: .off)
        let output = arguments.value("--output")
        let toStdout = output == "-"
        let outputPath = output.flatMap { $0 == "-" ? nil : environment.path($0) }

        let start = monotonicSeconds()
        let trace = PeerOptions.trace(invocation, start: start, toStderr: toStdout)
        let lengths = Lengths(layout: torrent.layout)
        let client = try PeerClient(address: address, configuration: PeerClient.configuration(infoHash: torrent.infoHashes.wire, lengths: lengths),
                                    connectTimeout: connectTimeout, timeout: timeout, trace: trace, encryption: encryption,
                                    log: invocation.log,
                                    dialer: PeerOptions.dialer(try PeerOptions.transport(invocation), local: try PeerOptions.bind(invocation),
                                                               trace: trace))
        var greeting = try PeerGreeting.greet(client, wait: 1, sendFirst: [.interested])
        if greeting.has(piece: piece.value) == false {
            throw TTError(.protocolError, kind: "piece_missing", "peer \(address) does not have piece \(piece.value)",
                          details: [("peer", address.description)])
        }
        let fast = greeting.handshake.reserved.supportsFast
        var download = PieceDownload(piece: piece, lengths: lengths,
                                     maxInFlight: min(pipeline, max(1, greeting.extensions?.requestQueue ?? pipeline)))
        var requestStart: Double?
        var rejects = 0
        var chokes = 0
        var canRequest: Bool { !greeting.choked || greeting.allowedFast.contains(UInt32(piece.value)) }
        while !download.isComplete {
            if canRequest {
                let requests = download.nextRequests()
                if requestStart == nil && !requests.isEmpty { requestStart = monotonicSeconds() }
                client.link.update { session in for request in requests { session.send(.request(request)) } }
            }
            let what = canRequest ? "piece \(piece.value) blocks" : "unchoke"
            let event = try client.next(deadline: monotonicSeconds() + timeout, waitingFor: what)
            switch event {
            case .block(let index, let begin, let block), .session(.message(.piece(let index, let begin, let block))):
                do { try download.receive(index: index, begin: begin, block: block) } catch {
                    throw TTError(peerWire: error, peer: address.description)
                }
            case .session(.message(.reject(let request))):
                download.rejected(request)
                rejects += 1
                if rejects > 4 * download.blockCount {
                    throw TTError(.protocolError, kind: "rejected", "peer \(address) rejected our requests for piece \(piece.value) \(rejects) times",
                                  details: [("peer", address.description)])
                }
            case .session(.message(.choke)):
                greeting.choked = true
                chokes += 1
                download.choked(peerHasFast: fast)
            default:
                greeting.absorb(event)
                if case .session(.message(.haveNone)) = event {
                    throw TTError(.protocolError, kind: "piece_missing", "peer \(address) has no pieces (have_none)",
                                  details: [("peer", address.description)])
                }
            }
        }
        let finished = monotonicSeconds()
        client.close()
        let data = download.data
        let digest = SHA1.hash(data)
        let expected = Array(torrent.pieceHash(piece)!)
        let hashOK = digest == expected
        let elapsed = finished - (requestStart ?? start)
        let report: JSONValue = .object([
            JSONField("peer", PeerWireViews.peer(address)),
            JSONField("client", .optional(greeting.handshake.peerID.client)),
            JSONField("piece", .int(piece.value)),
            JSONField("offset", .int(torrent.layout.offset(of: piece))),
            JSONField("size", .int(data.count)),
            JSONField("blocks", .int(download.blockCount)),
            JSONField("pipeline", .int(download.maxInFlight)),
            JSONField("time", .double(round6(elapsed))),
            JSONField("total_time", .double(round6(finished - start))),
            JSONField("throughput", .double((Double(data.count) / max(elapsed, 1e-9)).rounded())),
            JSONField("sha1", .string(Hex.encode(digest))),
            JSONField("expected_sha1", .string(Hex.encode(expected))),
            JSONField("hash_ok", .bool(hashOK)),
            JSONField("output", .optional(toStdout ? "-" : output)),
            JSONField("written", .bool(output != nil && (hashOK || arguments.has("--keep-bad")))),
            JSONField("chokes", .int(chokes)),
            JSONField("rejects", .int(rejects)),
            JSONField("encryption", .string(MSEReport.encryption(client.mse))),
        ])
        if hashOK || arguments.has("--keep-bad") {
            if toStdout {
                environment.writeBytes(data)
            } else if let outputPath {
                try FileOutput.writeAtomically(data, to: outputPath)
            }
        }
        if let trace {
            trace.event("result", report.objectFields)
        } else if invocation.json {
            if toStdout {
                var bytes = JSONWriter().bytes(report)
                bytes.append(UInt8(ascii: "\n"))
                environment.writeError(String(decoding: bytes, as: UTF8.self))
            } else {
                invocation.outputJSON(report)
            }
        } else {
            let line = "piece \(piece.value): \(Format.bytes(Int64(data.count))) in \(download.blockCount) blocks from \(address)"
                + " in \(Format.seconds(elapsed)) (\(Format.rate(Double(data.count) / max(elapsed, 1e-9)))), sha1 \(hashOK ? "ok" : "BAD")"
            if toStdout { invocation.note(line) } else { invocation.output(line) }
        }
        guard hashOK else {
            throw TTError(.protocolError, kind: "bad_piece",
                          "piece \(piece.value) from peer \(address) failed its hash check (got \(Hex.encode(digest)), expected \(Hex.encode(expected)))"
                          + (arguments.has("--keep-bad") && output != nil ? "; written anyway (--keep-bad)" : "; nothing written"),
                          details: [("peer", address.description)])
        }
        return .success
    }

    static func round6(_ value: Double) -> Double { (value * 1e6).rounded() / 1e6 }
}
