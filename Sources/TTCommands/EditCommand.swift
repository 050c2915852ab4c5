import FoundationEssentials
import Glibc
import JSON
import Metainfo
import Tracker

/// `tt edit`: change a torrent's trackers, web seeds, comment, private flag or source without re-hashing.
struct EditCommand: Command {
    static let spec = CommandSpec(
        name: "edit",
        summary: "change a torrent's trackers, web seeds, comment, private flag or source, without re-hashing",
        usage: "tt edit TORRENT|- -o OUT.torrent [--add-tracker URL…] [--remove-tracker URL|GLOB…] [--tier N] [--web-seed URL…] [--comment TEXT] [--private|--no-private] [--source TEXT]",
        options: [
            OptionSpec(["--output", "-o"], value: "FILE", help: "where to write the edited torrent ('-' for stdout); required"),
            OptionSpec(["--force", "-f"], help: "overwrite OUT if it exists (OUT may be the input itself)"),
            OptionSpec(["--add-tracker", "-a"], value: "URL", repeats: true, help: "add a tracker (repeatable; each in a new tier unless --tier)"),
            OptionSpec(["--tier"], value: "N", help: "put the added trackers in tier N, counted from 1 as 'tt info' shows them"),
            OptionSpec(["--remove-tracker"], value: "URL|GLOB", repeats: true, help: "remove trackers equal to URL or matching a glob ('*' matches all)"),
            OptionSpec(["--web-seed", "-w"], value: "URL", repeats: true, help: "add a web seed (BEP 19 url-list)"),
            OptionSpec(["--remove-web-seed"], value: "URL|GLOB", repeats: true, help: "remove web seeds equal to URL or matching a glob"),
            OptionSpec(["--comment"], value: "TEXT", help: "set the comment ('' removes it)"),
            OptionSpec(["--private"], help: "set the private flag (BEP 27; changes the info hash)"),
            OptionSpec(["--no-private"], help: "clear the private flag (changes the info hash)"),
            OptionSpec(["--source"], value: "TEXT", help: "set the info 'source' tag ('' removes it; changes the info hash)"),
        ],
        positionals: 1...1,
        discussion: """
        Only --private, --no-private and --source touch the info dictionary, so only they change the
        info hash (and make a torrent of a different swarm); every other edit keeps the info
        dictionary's bytes as they are. Keys tt does not know are kept.
        """,
        examples: ["tt edit x.torrent -o y.torrent --add-tracker udp://127.0.0.1:6969/announce",
                   "tt edit x.torrent -o x.torrent -f --remove-tracker '*example.org*' --comment ''",
                   "tt edit --json x.torrent -o y.torrent --private | jq '{original_info_hash, info_hash}'"])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let arguments = invocation.arguments
        let environment = invocation.environment
        guard let output = arguments.value("--output") else { throw .usage("tt edit needs -o OUT.torrent (or -o - for stdout)") }
        if arguments.has("--private") && arguments.has("--no-private") { throw .usage("choose one of --private and --no-private") }
        let outputPath = environment.path(output)
        if output != "-" && !arguments.has("--force") && FileManager.default.fileExists(atPath: outputPath) {
            throw TTError(.ioError, kind: "exists", "\(output) already exists; use --force to overwrite")
        }
        let source = arguments.positionals[0]
        let bytes = try TorrentInput.readInput(source, environment)
        let original: Torrent
        do { original = try Torrent(bytes: bytes) } catch { throw TTError(metainfo: error, source: source == "-" ? "stdin" : source) }

        var editor = TorrentEditor()
        editor.trackerTiers = try editedTiers(original.trackerTiers, arguments, invocation)
        editor.webSeeds = try editedWebSeeds(original.webSeeds, arguments, invocation)
        editor.comment = arguments.value("--comment")
        editor.source = arguments.value("--source")
        if arguments.has("--private") { editor.isPrivate = true }
        if arguments.has("--no-private") { editor.isPrivate = false }

        let result: TorrentEditor.Result
        let edited: Torrent
        do {
            result = try editor.apply(to: bytes)
            edited = try Torrent(bytes: result.bytes)
        } catch {
            throw TTError(metainfo: error, source: source == "-" ? "stdin" : source)
        }
        if output == "-" { environment.writeBytes(result.bytes) } else { try FileOutput.writeAtomically(result.bytes, to: outputPath) }
        report(invocation, output: output, original: original, edited: edited, infoChanged: result.infoChanged)
        return .success
    }

    static func report(_ invocation: Invocation, output: String, original: Torrent, edited: Torrent, infoChanged: Bool) {
        if invocation.json {
            let json: JSONValue = .object([
                JSONField("path", .string(output)),
                JSONField("info_hash_changed", .bool(infoChanged)),
                JSONField("info_hash", .optional(edited.infoHashes.v1Hex)),
                JSONField("info_hash_v2", .optional(edited.infoHashes.v2Hex)),
                JSONField("original_info_hash", .optional(original.infoHashes.v1Hex)),
                JSONField("original_info_hash_v2", .optional(original.infoHashes.v2Hex)),
                JSONField("trackers", .array(edited.trackerTiers.map { .array($0.map(JSONValue.string)) })),
                JSONField("web_seeds", .array(edited.webSeeds.map(JSONValue.string))),
                JSONField("comment", .optional(edited.comment)),
                JSONField("private", .bool(edited.isPrivate)),
            ])
            // With -o - the torrent itself is on stdout, so the report goes to stderr.
            if output == "-" { invocation.environment.writeError(JSONWriter().string(json) + "\n") } else { invocation.outputJSON(json) }
            return
        }
        let trackers = edited.trackers.count
        let summary = "\(output == "-" ? "stdout" : output): \(trackers) tracker\(trackers == 1 ? "" : "s") in \(edited.trackerTiers.count) tier\(edited.trackerTiers.count == 1 ? "" : "s"), \(edited.webSeeds.count) web seed\(edited.webSeeds.count == 1 ? "" : "s"), private: \(edited.isPrivate ? "yes" : "no")"
        let old = original.infoHashes.v1Hex ?? original.infoHashes.v2Hex ?? ""
        let new = edited.infoHashes.v1Hex ?? edited.infoHashes.v2Hex ?? ""
        let hashLine = infoChanged
            ? "info hash changed: \(old) → \(new) (a different swarm: the info dictionary was edited)"
            : "info hash unchanged: \(new)"
        if output == "-" { invocation.note(summary); invocation.note(hashLine) } else { invocation.output(summary); invocation.output(hashLine) }
    }

    // MARK: Trackers and web seeds

    /// The tiers after removals then additions; nil when no tracker option was given.
    static func editedTiers(_ tiers: [[String]], _ arguments: ParsedArguments, _ invocation: Invocation) throws(TTError) -> [[String]]? {
        let added = arguments.all("--add-tracker"), removed = arguments.all("--remove-tracker")
        let tier = try arguments.integer("--tier", in: 1...10_000)
        if tier != nil && added.isEmpty { throw .usage("--tier says where --add-tracker puts trackers; no --add-tracker given") }
        guard !added.isEmpty || !removed.isEmpty else { return nil }
        for url in added {
            do { _ = try TrackerURL(url) } catch { throw .usage("--add-tracker '\(url)': \(error)") }
        }
        var result = tiers
        for pattern in removed {
            let before = result.joined().count
            result = result.map { $0.filter { !matches(pattern, $0) } }
            if result.joined().count == before { invocation.warn("--remove-tracker '\(pattern)' matched no tracker") }
        }
        result.removeAll(where: \.isEmpty)
        if let tier {
            guard tier <= result.count + 1 else {
                throw .usage("--tier \(tier): the torrent has \(result.count) tier\(result.count == 1 ? "" : "s") after removals; use 1 to \(result.count + 1)")
            }
            if tier == result.count + 1 { result.append([]) }
            for url in added where !result[tier - 1].contains(url) { result[tier - 1].append(url) }
        } else {
            for url in added where !result.joined().contains(url) { result.append([url]) }
        }
        return result
    }

    static func editedWebSeeds(_ seeds: [String], _ arguments: ParsedArguments, _ invocation: Invocation) throws(TTError) -> [String]? {
        let added = arguments.all("--web-seed"), removed = arguments.all("--remove-web-seed")
        guard !added.isEmpty || !removed.isEmpty else { return nil }
        for url in added where !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw .usage("--web-seed '\(url)': a web seed is an http:// or https:// URL")
        }
        var result = seeds
        for pattern in removed {
            let before = result.count
            result.removeAll { matches(pattern, $0) }
            if result.count == before { invocation.warn("--remove-web-seed '\(pattern)' matched no web seed") }
        }
        for url in added where !result.contains(url) { result.append(url) }
        return result
    }

    /// Equal, or a shell glob (fnmatch) over the whole URL.
    static func matches(_ pattern: String, _ url: String) -> Bool {
        pattern == url || fnmatch(pattern, url, 0) == 0
    }
}
