import Bencode
import Hashing
import JSON
import Metainfo
import Net
import Storage
import WebSeed

/// `tt fetch-piece --webseed URL`: one piece from one BEP 19 web seed over HTTP range requests,
/// checked against the torrent (the inspection twin of `--peer`).
enum WebSeedFetch {
    static let option = OptionSpec(["--webseed", "-w"], value: "URL",
                                   help: "fetch from this web seed (BEP 19 url-list entry) instead of a peer")

    static let caFileOption = OptionSpec(["--ca-file"], value: "PEM",
                                         help: "trust these certificates for an https:// web seed instead of the system's")

    static func run(_ invocation: Invocation, url: String) throws(TTError) -> ExitCode {
        let arguments = invocation.arguments
        let environment = invocation.environment
        guard let torrentArgument = arguments.value("--torrent") else { throw .usage("tt fetch-piece needs --torrent T") }
        guard arguments.value("--peer") == nil else { throw .usage("give one of --peer and --webseed") }
        guard let pieceText = arguments.value("--piece") else { throw .usage("tt fetch-piece needs --piece N") }
        let torrent = try TorrentInput.loadTorrent(torrentArgument, environment)
        guard let number = Int(pieceText), let piece = torrent.layout.index(number) else {
            throw .usage("--piece must be from 0 to \(torrent.pieceCount - 1) (the torrent has \(torrent.pieceCount) pieces), got '\(pieceText)'")
        }
        let timeout = try PeerOptions.seconds(invocation, "--timeout", default: 30)
        let output = arguments.value("--output")
        let toStdout = output == "-"
        let layout: FileLayout
        do { layout = try FileLayout(torrent: torrent) } catch { throw TTError(storage: error) }
        let client: WebSeedClient
        do {
            client = try WebSeedClient(url: url, torrent: torrent, layout: layout, caFile: arguments.value("--ca-file"))
        } catch {
            throw TTError(webSeed: error)
        }

        let start = monotonicSeconds()
        let trace = PeerOptions.trace(invocation, start: start, toStderr: toStdout)
        let fetched: WebSeedClient.Piece
        do {
            fetched = try client.fetch(piece, deadline: .after(timeout)) { request in
                invocation.log("GET \(request.url) Range: \(request.range) → \(request.status), \(request.bytes) bytes")
                trace?.event("http_request", [
                    JSONField("url", .string(request.url)), JSONField("range", .string(request.range)),
                    JSONField("status", .int(request.status)), JSONField("bytes", .int(request.bytes)),
                    JSONField("seconds", .double(FetchPieceCommand.round6(request.seconds))),
                ])
            }
        } catch {
            throw TTError(webSeed: error)
        }
        let elapsed = monotonicSeconds() - start
        let data = fetched.bytes
        let expected = torrent.pieceHash(piece).map { Array($0) } ?? []
        let keep = fetched.hashMatches || arguments.has("--keep-bad")
        let report: JSONValue = .object([
            JSONField("webseed", .string(url)),
            JSONField("source", .string("webseed")),
            JSONField("piece", .int(piece.value)),
            JSONField("offset", .int(torrent.layout.offset(of: piece))),
            JSONField("size", .int(data.count)),
            JSONField("requests", .int(fetched.requests.count)),
            JSONField("time", .double(FetchPieceCommand.round6(elapsed))),
            JSONField("throughput", .double((Double(data.count) / max(elapsed, 1e-9)).rounded())),
            JSONField("sha1", .string(Hex.encode(fetched.sha1))),
            JSONField("expected_sha1", .string(Hex.encode(expected))),
            JSONField("hash_ok", .bool(fetched.hashMatches)),
            JSONField("output", .optional(output)),
            JSONField("written", .bool(output != nil && keep)),
        ])
        if keep {
            if toStdout {
                environment.writeBytes(data)
            } else if let output {
                try FileOutput.writeAtomically(data, to: environment.path(output))
            }
        }
        if let trace {
            trace.event("result", report.objectFields)
        } else if invocation.json {
            if toStdout { environment.writeError(JSONWriter().string(report) + "\n") } else { invocation.outputJSON(report) }
        } else {
            let line = "piece \(piece.value): \(Format.bytes(Int64(data.count))) in \(fetched.requests.count) HTTP request\(fetched.requests.count == 1 ? "" : "s") from \(url)"
                + " in \(Format.seconds(elapsed)) (\(Format.rate(Double(data.count) / max(elapsed, 1e-9)))), sha1 \(fetched.hashMatches ? "ok" : "BAD")"
            if toStdout { invocation.note(line) } else { invocation.output(line) }
        }
        guard fetched.hashMatches else {
            throw TTError(.protocolError, kind: "bad_piece",
                          "piece \(piece.value) from web seed \(url) failed its hash check (got \(Hex.encode(fetched.sha1)), expected \(Hex.encode(expected)))"
                          + (arguments.has("--keep-bad") && output != nil ? "; written anyway (--keep-bad)" : "; nothing written"),
                          details: [("webseed", url)])
        }
        return .success
    }
}

extension TTError {
    /// Web seed failures: 64 for a URL that cannot be used, 69 unreachable, 75 timeout, 76 a bad answer.
    init(webSeed error: WebSeedError) {
        switch error {
        case .badURL: self.init(.usage, kind: "usage", error.description)
        case .unsupported: self.init(.dataError, kind: "unsupported", error.description)
        case .unreachable: self.init(.unavailable, kind: "unreachable", error.description, details: [("webseed", error.url)])
        case .timeout: self.init(.timeout, kind: "timeout", error.description, details: [("webseed", error.url)])
        case .status(_, let code, _):
            self.init(.protocolError, kind: "http_status", error.description, details: [("webseed", error.url), ("status", String(code))])
        case .badResponse: self.init(.protocolError, kind: "bad_response", error.description, details: [("webseed", error.url)])
        }
    }
}
