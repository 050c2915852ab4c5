import Dispatch
import JSON
import Metainfo
import Synchronization
import Tracker

/// `tt announce`: one announce, printed whole — interval, counts, warning, peers.
struct AnnounceCommand: Command {
    static let spec = CommandSpec(
        name: "announce",
        summary: "announce to a torrent's trackers (HTTP, HTTPS, UDP) and print interval, counts and peers",
        usage: "tt announce TORRENT|MAGNET|INFOHASH [--tracker URL] [--event E] [--port N] [--numwant N] [--all] [--json]",
        options: [
            OptionSpec(["--tracker", "-t"], value: "URL", repeats: true, help: "announce here instead of the torrent's trackers (repeatable)"),
            OptionSpec(["--event"], value: "EVENT", help: "started, stopped or completed (default: none, a regular announce)"),
            OptionSpec(["--port"], value: "N", help: "the port we say we listen on (default 6881)"),
            OptionSpec(["--numwant"], value: "N", help: "how many peers to ask for (default 50)"),
            OptionSpec(["--left"], value: "BYTES", help: "bytes left to download (default: the torrent's size, or 1 when unknown)"),
            OptionSpec(["--uploaded"], value: "BYTES", help: "bytes uploaded so far (default 0)"),
            OptionSpec(["--downloaded"], value: "BYTES", help: "bytes downloaded so far (default 0)"),
            OptionSpec(["--all"], help: "ask every tracker at once and report each (default: BEP 12 order, first answer wins)"),
            TrackerViews.timeoutOption,
            TrackerViews.caFileOption,
            OptionSpec(["--udp-retransmit"], value: "SECONDS", help: "seconds before the first UDP retransmission (default 15, BEP 15)"),
        ],
        positionals: 1...1,
        discussion: "A tracker's failure reason is an error (exit 76) that quotes it. Exit 69: unreachable; 75: timed out.",
        examples: ["tt announce x.torrent", "tt announce --json x.torrent | jq -r '.peers[].addr'",
                   "tt announce 0123…cdef --tracker udp://127.0.0.1:6969 --event started"])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let arguments = invocation.arguments
        let input = try TorrentInput.load(arguments.positionals[0], invocation.environment, allowHashOnly: true)
        let hashes = input.infoHashes
        var tiers = TrackerTiers(try TrackerViews.tiers(arguments, input))
        let client = try TrackerViews.client(arguments)
        var eventValue = AnnounceRequest.Event.none
        if let text = arguments.value("--event") {
            guard let event = AnnounceRequest.Event(rawValue: text), event != .none else {
                throw .usage("--event must be started, stopped or completed, got '\(text)'")
            }
            eventValue = event
        }
        let left = try arguments.integer("--left", in: 0...Int.max).map(Int64.init) ?? (input.torrent.map { $0.totalLength } ?? 1)
        let request = AnnounceRequest(
            infoHash: hashes.wire,
            port: UInt16(try arguments.integer("--port", in: 1...65535) ?? 6881),
            uploaded: Int64(try arguments.integer("--uploaded", in: 0...Int.max) ?? 0),
            downloaded: Int64(try arguments.integer("--downloaded", in: 0...Int.max) ?? 0),
            left: left, event: eventValue, numWant: try arguments.integer("--numwant", in: 0...10_000) ?? 50)

        if arguments.has("--all") {
            return announceAll(invocation, urls: tiers.all, client: client, request: request, hashes: hashes)
        }
        let result = tiers.first { (url: String) throws(TrackerError) -> AnnounceResponse in
            invocation.log("announcing to \(url)")
            do throws(TrackerError) {
                return try client.announce(url, request)
            } catch {
                invocation.log("  \(error)")
                throw error
            }
        }
        switch result {
        case .success(let (tracker, response)):
            if invocation.json {
                invocation.outputJSON(TrackerViews.announce(response, tracker: tracker, hashes: hashes))
            } else {
                invocation.output(TrackerViews.announceText(response, tracker: tracker))
            }
            if let warning = response.warning { invocation.warn("tracker \(tracker) warns: \(warning)") }
            return .success
        case .failure(let errors):
            throw TTError(trackers: errors)
        }
    }

    /// Every tracker at once, each on its own thread; results in the trackers' order.
    static func announceAll(_ invocation: Invocation, urls: [String], client: TrackerClient, request: AnnounceRequest,
                            hashes: InfoHashes) -> ExitCode {
        let results = Mutex<[Int: Result<AnnounceResponse, TrackerError>]>([:])
        DispatchQueue.concurrentPerform(iterations: urls.count) { index in
            let result: Result<AnnounceResponse, TrackerError>
            do throws(TrackerError) { result = .success(try client.announce(urls[index], request)) } catch { result = .failure(error) }
            results.withLock { $0[index] = result }
        }
        let ordered = results.withLock { table in urls.indices.map { table[$0]! } }
        var views: [JSONValue] = []
        var texts: [String] = []
        var firstError: TrackerError?
        var anySuccess = false
        for (url, result) in zip(urls, ordered) {
            switch result {
            case .success(let response):
                anySuccess = true
                views.append(TrackerViews.announce(response, tracker: url, hashes: hashes))
                texts.append(TrackerViews.announceText(response, tracker: url))
                if let warning = response.warning { invocation.warn("tracker \(url) warns: \(warning)") }
            case .failure(let error):
                firstError = firstError ?? error
                views.append(TrackerViews.failed(error, hashes: hashes))
                texts.append("tracker       \(url) (\(TrackerViews.protocolName(url)))\nerror         \(error)")
                invocation.warn(error.description)
            }
        }
        if invocation.json {
            invocation.outputJSON(.array(views))
        } else {
            invocation.output(texts.joined(separator: "\n\n"))
        }
        if anySuccess { return .success }
        return firstError.map { TTError(tracker: $0).code } ?? .success
    }
}
