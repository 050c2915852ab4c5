import Bencode
import FoundationEssentials
import Glibc
import JSON
import Metainfo

/// `tt create`: a .torrent from a file or folder, hashed on all cores.
struct CreateCommand: Command {
    static let spec = CommandSpec(
        name: "create",
        summary: "make a .torrent from a file or folder (v1, v2 or hybrid)",
        usage: "tt create PATH -o OUT.torrent [-a URL…] [--piece-size N] [--private] [--v2|--hybrid]",
        options: [
            OptionSpec(["--output", "-o"], value: "FILE", help: "where to write the torrent ('-' for stdout); required"),
            OptionSpec(["--announce", "-a"], value: "URL", repeats: true,
                       help: "tracker URL; repeat for backups in one tier, or join a tier's URLs with ','"),
            OptionSpec(["--piece-size"], value: "BYTES", help: "piece size (power of two ≥ 16384; K/M suffixes); default: automatic"),
            OptionSpec(["--private"], help: "set the private flag (BEP 27)"),
            OptionSpec(["--comment"], value: "TEXT", help: "a comment"),
            OptionSpec(["--web-seed", "-w"], value: "URL", repeats: true, help: "a web seed URL (BEP 19)"),
            OptionSpec(["--name"], value: "NAME", help: "the torrent's name (default: the file or folder name)"),
            OptionSpec(["--source"], value: "TEXT", help: "an info 'source' tag (changes the info hash)"),
            OptionSpec(["--v2"], help: "a v2-only torrent (BEP 52)"),
            OptionSpec(["--hybrid"], help: "a hybrid v1+v2 torrent (BEP 52, with BEP 47 pad files)"),
            OptionSpec(["--no-date"], help: "leave out the creation date and creator, so the same input gives the same bytes"),
            OptionSpec(["--force", "-f"], help: "overwrite OUT if it exists"),
        ],
        positionals: 1...1,
        examples: ["tt create ./data -a http://127.0.0.1:6969/announce -o data.torrent",
                   "tt create big.iso --hybrid --piece-size 1M -o big.torrent"])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let arguments = invocation.arguments
        let environment = invocation.environment
        guard let output = arguments.value("--output") else { throw .usage("tt create needs -o OUT.torrent (or -o - for stdout)") }
        if arguments.has("--v2") && arguments.has("--hybrid") { throw .usage("choose one of --v2 and --hybrid") }
        let outputPath = environment.path(output)
        if output != "-" && !arguments.has("--force") && FileManager.default.fileExists(atPath: outputPath) {
            throw TTError(.ioError, kind: "exists", "\(output) already exists; use --force to overwrite")
        }
        var options = TorrentCreator.Options()
        options.trackerTiers = arguments.all("--announce").map { $0.split(separator: ",").map(String.init) }
        options.webSeeds = arguments.all("--web-seed")
        options.comment = arguments.value("--comment")
        options.isPrivate = arguments.has("--private")
        options.name = arguments.value("--name")
        options.source = arguments.value("--source")
        options.version = arguments.has("--v2") ? .v2 : (arguments.has("--hybrid") ? .hybrid : .v1)
        if !arguments.has("--no-date") {
            options.creationDate = Int64(Date().timeIntervalSince1970)
            options.createdBy = ClientIdentity.name
        }
        if let text = arguments.value("--piece-size") {
            guard let size = ParsedArguments.byteSize(text), size >= 16 * 1024, size <= 1 << 28, size & (size - 1) == 0 else {
                throw .usage("--piece-size must be a power of two from 16K to 256M, got '\(text)'")
            }
            options.pieceLength = size
        }
        let path = environment.path(arguments.positionals[0])
        if let name = options.name, UnsafePathReason.check(name) != nil {
            throw .usage("--name '\(name.terminalSafe)' is not a safe file name")
        }
        let bar = ProgressBar(environment: environment, enabled: invocation.verbosity >= .normal, label: "hashing")
        let started = Date()
        let bytes: [UInt8]
        do {
            bytes = try TorrentCreator(options: options).create(path: path, progress: { done, total in bar.update(done: done, total: total) },
                                                                skipped: { invocation.warn("left out \"\(TerminalText.escape($0))\": a symlink that leads outside \(TerminalText.escape(arguments.positionals[0])) or nowhere") })
        } catch {
            bar.finish()
            switch error {
            case .noSuchPath, .empty: throw TTError(.noInput, kind: "no_input", error.description)
            case .unreadable: throw TTError(.ioError, kind: "io_error", error.description)
            case .badPieceLength: throw .usage(error.description)
            }
        }
        bar.finish()
        if output == "-" {
            environment.writeBytes(bytes)
        } else {
            try FileOutput.writeAtomically(bytes, to: outputPath)
        }
        let torrent: Torrent
        do { torrent = try Torrent(bytes: bytes) } catch { throw TTError(metainfo: error, source: "created torrent") }
        let seconds = Date().timeIntervalSince(started)
        if invocation.json && output != "-" {
            invocation.outputJSON(.object([
                JSONField("path", .string(output)),
                JSONField("info_hash", .optional(torrent.infoHashes.v1Hex)),
                JSONField("info_hash_v2", .optional(torrent.infoHashes.v2Hex)),
                JSONField("name", .string(torrent.name)),
                JSONField("total_size", .int(torrent.contentLength)),
                JSONField("pad_size", .int(torrent.padLength)),
                JSONField("piece_length", .int(torrent.pieceLength)),
                JSONField("piece_count", .int(torrent.pieceCount)),
                JSONField("seconds", .double(seconds)),
            ]))
        } else if output != "-" {
            invocation.output("\(TerminalText.escape(output)): \(torrent.terminalName), \(Format.bytes(torrent.contentLength)) in \(torrent.pieceCount) pieces of \(Format.bytes(Int64(torrent.pieceLength)))")
            invocation.output("info hash \(torrent.infoHashes.v1Hex ?? torrent.infoHashes.v2Hex!)")
        }
        return .success
    }
}
