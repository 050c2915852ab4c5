import Dispatch
import FoundationEssentials
import Glibc
import JSON
import Metainfo
import Storage

/// `tt verify`: data on disk against its torrent's piece hashes, on all cores.
struct VerifyCommand: Command {
    static let spec = CommandSpec(
        name: "verify",
        summary: "check data on disk against its torrent: which pieces of which files are bad or missing",
        usage: "tt verify [--torrent FILE] [--json] [--progress] PATH",
        options: [
            OptionSpec(["--torrent", "-t"], value: "FILE",
                       help: "the .torrent to check against ('-' for stdin); default: the state 'tt download' keeps in PATH/../.tt/"),
            OptionSpec(["--progress"], help: "report progress: JSON Lines events on stdout with --json, lines on stderr otherwise"),
            OptionSpec(["--threads"], value: "N", help: "hashing threads (default: one per core)"),
        ],
        positionals: 1...1,
        discussion: """
        PATH is the file of a single-file torrent or the root folder of a multi-file one, or the folder it
        was saved into ('tt download -o DIR' writes DIR/<name>; 'tt verify DIR' works). Pieces are
        checked with SHA-1 (v1), the SHA-256 piece layers (v2), or both (hybrid). Exit status: 0 when
        every piece is good and every file has its exact size, 1 when something is bad, missing, short
        or too long (after the full report), 65 for a bad torrent, 66 when PATH does not exist.
        """,
        examples: ["tt verify --torrent x.torrent downloads/x", "tt verify downloads/x          # made by tt download",
                   "tt verify --json -t x.torrent x | jq '.files[] | select(.status != \"complete\")'"])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let arguments = invocation.arguments
        let environment = invocation.environment
        let argument = arguments.positionals[0]
        var path = environment.path(argument)
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        let threads = try arguments.integer("--threads", in: 1...256)

        guard FileManager.default.fileExists(atPath: path) else {
            throw TTError(.noInput, kind: "no_input", "\(argument): no such file or folder")
        }

        let torrent = try loadTorrent(invocation, path: path, argument: argument)
        for warning in torrent.warnings { invocation.warn(warning) }

        let layout: FileLayout
        let hashes: PieceHashes
        do throws(StorageError) {
            layout = try FileLayout(torrent: torrent)
            hashes = try PieceHashes(torrent: torrent, layout: layout)
        } catch {
            throw TTError(storage: error)
        }
        for warning in hashes.warnings { invocation.warn(warning) }

        let location = try DataLocation.resolve(argument, path: path, torrent: torrent)
        let contentPath = location.contentPath
        if let notFound = location.notFound { invocation.warn(notFound) }
        if let choice = location.choice { invocation.note(choice) } else if location.reading == .saveFolder {
            invocation.log("\(argument) is the folder '\(torrent.name)' was saved into; checking \(contentPath)")
        }

        // A download of some files only (`download --files`): the rest are reported skipped, and bytes of
        // theirs that share a piece with chosen files are read from the parts file beside the resume state.
        let output = PathName.deletingLast(contentPath)
        let state = try? ResumeState.load(path: ResumeState.path(output: output, infoHashes: torrent.infoHashes))
        let selection = state?.selectedFiles.map { FileSelection(Set($0)) }
        if selection != nil { invocation.log("only the files 'tt download' selected are checked; the others are skipped") }
        let store: PieceStore
        do {
            store = try PieceStore(layout: layout, contentPath: contentPath, access: .read, selection: selection,
                                   partsPath: selection.map { _ in ResumeState.partsPath(output: output, infoHashes: torrent.infoHashes) })
        } catch {
            throw TTError(storage: error)
        }
        var options = Verifier.Options()
        options.only = selection?.wantedPieces(layout)
        if let threads { options.workers = threads }
        if let method = environment.variables["TT_VERIFY_READ"] {
            guard let parsed = Verifier.ReadMethod(rawValue: method) else { throw .usage("TT_VERIFY_READ must be 'read' or 'mmap', got '\(method)'") }
            options.readMethod = parsed
        }
        let verifier = Verifier(store: store, hashes: hashes, options: options)

        let cancel = CancellationFlag()
        let interrupt = InterruptWatcher(cancel)
        defer { interrupt.stop() }
        let reporter = VerifyProgressReporter(invocation: invocation, explicit: arguments.has("--progress"))
        let report: VerifyReport
        do {
            report = try verifier.run(cancel: cancel) { progress in reporter.update(progress) }
        } catch {
            reporter.finish()
            throw TTError(storage: error)
        }
        reporter.finish()

        if report.cancelled {
            let done = report.verdicts.filter { $0 != .unchecked }.count
            throw TTError(.interrupted, kind: "interrupted",
                          "interrupted after checking \(done) of \(report.verdicts.count) pieces (\(report.badPieces.count) bad, \(report.missingPieces.count) missing so far)")
        }
        var view = VerifyView(torrent: torrent, path: argument, report: report, hashes: hashes)
        view.dataPath = contentPath
        if invocation.json {
            if arguments.has("--progress") {
                var fields: [JSONField] = [JSONField("event", .string("result"))]
                if case .object(let body) = view.json { fields += body }
                invocation.outputJSON(.object(fields))
            } else {
                invocation.outputJSON(view.json)
            }
        } else {
            invocation.output(view.text)
        }
        return report.ok ? .success : .checkFailed
    }

    /// `--torrent`, or the resume state `tt download` keeps beside the data.
    static func loadTorrent(_ invocation: Invocation, path: String, argument: String) throws(TTError) -> Torrent {
        if let source = invocation.arguments.value("--torrent") {
            return try TorrentInput.loadTorrent(source, invocation.environment)
        }
        // The data itself (state in its parent's .tt/), else the folder `tt download -o` wrote into (its own .tt/).
        var found = ResumeState.find(contentPath: path)
        if found.isEmpty { found = DataLocation.savedStates(in: path) }
        guard let (statePath, state) = found.first else {
            let folder = PathName.appending(PathName.deletingLast(path), ResumeState.directoryName)
            let own = PathName.appending(path, ResumeState.directoryName)
            throw .usage("no torrent given and no 'tt download' state for \(argument) in \(folder) or \(own); use --torrent FILE")
        }
        if found.count > 1 {
            invocation.warn("\(found.count) saved torrents match \(argument); using the newest, \(statePath) ('\(state.name)')")
        }
        invocation.log("using the torrent saved in \(statePath)")
        do {
            return try Torrent(bytes: state.torrentBytes)
        } catch {
            throw TTError(metainfo: error, source: statePath)
        }
    }
}

extension TTError {
    /// The one place storage failures become exit codes.
    init(storage error: StorageError) {
        switch error {
        case .unsafePath: self.init(.dataError, kind: "unsafe_path", error.description)
        case .badTorrent: self.init(.dataError, kind: "bad_torrent", error.description)
        case .badResumeState: self.init(.dataError, kind: "bad_resume_state", error.description)
        case .missing: self.init(.noInput, kind: "no_input", error.description)
        case .io: self.init(.ioError, kind: "io_error", error.description)
        }
    }
}

/// Turns Ctrl-C into a cancellation request while a command runs (then restores the default).
final class InterruptWatcher: @unchecked Sendable {
    private let source: DispatchSourceSignal

    init(_ cancel: CancellationFlag) {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { cancel.cancel() }
        source.resume()
    }

    func stop() {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
}
