import Bencode
import FoundationEssentials
import Glibc
import JSON
import Metainfo

/// `tt info`: what a torrent is — identity, sizes, pieces, files, trackers, magnet.
struct InfoCommand: Command {
    static let spec = CommandSpec(
        name: "info",
        summary: "summarise a .torrent: info hash, name, sizes, pieces, files, trackers, magnet",
        usage: "tt info [--json] [--pieces] [--lenient] TORRENT|MAGNET|-",
        options: [OptionSpec(["--pieces"], help: "also list every piece hash"),
                  OptionSpec(["--lenient"], help: "show a torrent a client would have to guess about (unsafe or duplicate paths, duplicate keys) with warnings, exit 0")],
        positionals: 1...1,
        discussion: "A magnet link shows what the link itself carries: info hash(es), name, trackers and peers.",
        examples: ["tt info x.torrent", "tt info --json x.torrent | jq -r .info_hash"])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let source = invocation.arguments.positionals[0]
        if source.hasPrefix("magnet:") {
            let magnet: MagnetLink
            do { magnet = try MagnetLink(parsing: source) } catch { throw TTError(metainfo: error, source: "magnet link") }
            if invocation.json {
                invocation.outputJSON(.object([
                    JSONField("name", .optional(magnet.displayName)),
                    JSONField("info_hash", .optional(magnet.infoHashes.v1Hex)),
                    JSONField("info_hash_v2", .optional(magnet.infoHashes.v2Hex)),
                    JSONField("trackers", .array(magnet.trackers.map { .array([.string($0)]) })),
                    JSONField("peers", .array(magnet.peers.map(JSONValue.string))),
                    JSONField("magnet", .string(magnet.link)),
                ]))
            } else {
                var lines: [String] = []
                if let name = magnet.displayName { lines.append("name          \(name.terminalSafe)") }
                if let v1 = magnet.infoHashes.v1Hex { lines.append("info hash     \(v1)") }
                if let v2 = magnet.infoHashes.v2Hex { lines.append("info hash v2  \(v2)") }
                for (index, tracker) in magnet.trackers.enumerated() { lines.append((index == 0 ? "trackers      " : "              ") + tracker.terminalSafe) }
                for (index, peer) in magnet.peers.enumerated() { lines.append((index == 0 ? "peers         " : "              ") + peer.terminalSafe) }
                lines.append("(a magnet link: sizes and files come with the metadata — 'tt download' fetches it)")
                invocation.output(lines.joined(separator: "\n"))
            }
            return .success
        }
        let torrent = try TorrentInput.loadTorrent(source, invocation.environment, lenient: true)
        let withPieces = invocation.arguments.has("--pieces")
        let refusal = invocation.arguments.has("--lenient") ? nil : torrent.problems.first
        if invocation.json {
            // One document on stdout: the torrent, or (when refused) the error.
            if refusal == nil { invocation.outputJSON(TorrentView.json(torrent, pieces: withPieces)) }
        } else {
            invocation.output(text(torrent, pieces: withPieces))
            if refusal == nil {
                for warning in torrent.warnings { invocation.warn(TerminalText.escape(warning)) }
            } else {
                for problem in torrent.problems.dropFirst() { invocation.warn(problem.message) }
            }
        }
        if let refusal {
            let more = torrent.problems.count > 1 ? " (and \(torrent.problems.count - 1) more)" : ""
            throw TTError(.dataError, kind: refusal.rule.kind,
                          "\(source == "-" ? "stdin" : source): invalid torrent: \(refusal.message)\(more); --lenient shows it anyway",
                          details: [("rule", refusal.rule.kind)])
        }
        return .success
    }

    static func text(_ torrent: Torrent, pieces: Bool) -> String {
        var lines: [String] = []
        func row(_ label: String, _ value: String) {
            lines.append(Format.padded(label, 14) + value)
        }
        row("name", torrent.terminalName)
        if let v1 = torrent.infoHashes.v1Hex { row("info hash", v1) }
        if let v2 = torrent.infoHashes.v2Hex { row("info hash v2", v2) }
        row("version", torrent.version.rawValue)
        row("size", "\(Format.bytes(torrent.contentLength)) (\(torrent.contentLength) bytes)"
            + (torrent.padLength > 0 ? " + \(torrent.padLength) bytes of padding" : ""))
        row("pieces", "\(torrent.pieceCount) × \(Format.bytes(Int64(torrent.pieceLength)))"
            + (torrent.pieceCount > 0 && torrent.layout.lastPieceLength != torrent.pieceLength
               ? " (last \(Format.bytes(Int64(torrent.layout.lastPieceLength))))" : ""))
        row("private", torrent.isPrivate ? "yes" : "no")
        if let createdBy = torrent.createdBy { row("created by", createdBy.terminalSafe) }
        if let date = torrent.creationDate {
            row("created", Format.iso8601(secondsSince1970: date))
        }
        if let comment = torrent.comment { row("comment", comment.terminalSafe) }
        if torrent.trackerTiers.isEmpty {
            row("trackers", "none")
        } else {
            for (index, tier) in torrent.trackerTiers.enumerated() {
                row(index == 0 ? "trackers" : "", "tier \(index + 1): " + tier.map(\.terminalSafe).joined(separator: ", "))
            }
        }
        for (index, seed) in torrent.webSeeds.enumerated() { row(index == 0 ? "web seeds" : "", seed.terminalSafe) }
        // Each file with its index in the torrent's list (pad files count, as in BEP 53 and `download --files`).
        let realFiles = torrent.files.enumerated().filter { !$0.element.isPadding }
        let padCount = torrent.files.count - realFiles.count
        row("files", "\(realFiles.count)" + (padCount > 0 ? " (+\(padCount) pad files)" : ""))
        let shown = realFiles.prefix(1000)
        let width = shown.map { Format.bytes($0.element.length).count }.max() ?? 0
        let indexWidth = String(shown.last?.offset ?? 0).count
        for (index, file) in shown {
            let size = Format.bytes(file.length)
            let number = String(index)
            var line = "  " + String(repeating: " ", count: indexWidth - number.count) + number + "  "
                + String(repeating: " ", count: width - size.count) + size + "  " + file.terminalPath
            if let target = file.symlinkTarget { line += " -> " + TerminalText.escape(target.joined(separator: "/")) }
            let shownAttributes = file.attributes.filter { $0 != "l" }
            if !shownAttributes.isEmpty { line += "  [\(shownAttributes)]" }
            lines.append(line)
        }
        if realFiles.count > shown.count { lines.append("  … and \(realFiles.count - shown.count) more (see --json)") }
        row("magnet", MagnetLink(torrent: torrent).link)
        if pieces {
            lines.append("piece hashes:")
            for piece in torrent.layout.indices {
                if let hash = torrent.pieceHash(piece) { lines.append("  \(piece.value)  \(Hex.encode(hash))") }
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// The flat JSON view of a torrent that `info --json` prints (tt-info(1)).
enum TorrentView {
    static func json(_ torrent: Torrent, pieces: Bool) -> JSONValue {
        var fields: [JSONField] = [
            JSONField("name", .string(torrent.name)),
            JSONField("info_hash", .optional(torrent.infoHashes.v1Hex)),
            JSONField("info_hash_v2", .optional(torrent.infoHashes.v2Hex)),
            JSONField("version", .string(torrent.version.rawValue)),
            JSONField("name_hex", .optional(torrent.rawName.map(Hex.encode))),
            JSONField("total_size", .int(torrent.contentLength)),
            JSONField("pad_size", .int(torrent.padLength)),
            JSONField("piece_length", .int(torrent.pieceLength)),
            JSONField("piece_count", .int(torrent.pieceCount)),
            JSONField("last_piece_length", .int(torrent.layout.lastPieceLength)),
            JSONField("multi_file", .bool(torrent.isMultiFile)),
            JSONField("private", .bool(torrent.isPrivate)),
            JSONField("created_by", .optional(torrent.createdBy)),
            JSONField("creation_date", .optional(torrent.creationDate)),
            JSONField("comment", .optional(torrent.comment)),
            JSONField("trackers", .array(torrent.trackerTiers.map { .array($0.map(JSONValue.string)) })),
            JSONField("web_seeds", .array(torrent.webSeeds.map(JSONValue.string))),
            JSONField("file_count", .int(torrent.files.filter { !$0.isPadding }.count)),
            JSONField("files", .array(torrent.files.enumerated().map { file($0.element, index: $0.offset) })),
            JSONField("magnet", .string(MagnetLink(torrent: torrent).link)),
            JSONField("warnings", .array(torrent.warnings.map(JSONValue.string))),
            JSONField("problems", .array(torrent.problems.map { .object([JSONField("kind", .string($0.rule.kind)),
                                                                          JSONField("message", .string($0.message))]) })),
        ]
        if pieces {
            fields.append(JSONField("pieces", .array(torrent.layout.indices.compactMap { piece in
                torrent.pieceHash(piece).map { .string(Hex.encode($0)) }
            })))
        }
        return .object(fields)
    }

    static func file(_ file: TorrentFile, index: Int) -> JSONValue {
        .object([
            JSONField("index", .int(index)),
            JSONField("path", .string(file.displayPath)),
            JSONField("path_components", .array(file.path.map(JSONValue.string))),
            JSONField("size", .int(file.length)),
            JSONField("offset", .int(file.offset)),
            JSONField("padding", .bool(file.isPadding)),
            JSONField("attributes", .string(file.attributes)),
            JSONField("symlink_target", .optional(file.symlinkTarget.map { $0.joined(separator: "/") })),
            JSONField("pieces_root", .optional(file.piecesRoot.map(Hex.encode))),
        ])
    }
}
