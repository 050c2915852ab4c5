import Bencode
import JSON
import Metainfo
import Tracker

/// JSON and text views for `announce`, `scrape` and `tracker`, and the one mapping of
/// tracker errors to exit codes.
enum TrackerViews {
    static func peer(_ peer: TrackerPeer) -> JSONValue {
        .object(PeerView.fields(ip: peer.ip, port: Int(peer.port)))
    }

    static func protocolName(_ url: String) -> String {
        (try? TrackerURL(url).scheme.rawValue) ?? "unknown"
    }

    static func hashFields(_ hashes: InfoHashes) -> [JSONField] {
        var fields = [JSONField("info_hash", .optional(hashes.v1Hex))]
        if let v2 = hashes.v2Hex { fields.append(JSONField("info_hash_v2", .string(v2))) }
        return fields
    }

    static func announce(_ response: AnnounceResponse, tracker: String, hashes: InfoHashes) -> JSONValue {
        .object([
            JSONField("tracker", .string(tracker)),
            JSONField("protocol", .string(protocolName(tracker))),
            JSONField("interval", .optional(response.interval)),
            JSONField("min_interval", .optional(response.minInterval)),
            JSONField("complete", .optional(response.complete)),
            JSONField("incomplete", .optional(response.incomplete)),
            JSONField("downloaded", .optional(response.downloaded)),
            JSONField("tracker_id", .optional(response.trackerID)),
            JSONField("warning", .optional(response.warning)),
            JSONField("peers", .array(response.peers.map(peer))),
        ] + hashFields(hashes))
    }

    static func failed(_ error: TrackerError, hashes: InfoHashes) -> JSONValue {
        let mapped = TTError(tracker: error)
        return .object([
            JSONField("tracker", .string(error.tracker)),
            JSONField("protocol", .string(protocolName(error.tracker))),
            JSONField("error", .object([JSONField("kind", .string(mapped.kind)), JSONField("message", .string(mapped.message)),
                                        JSONField("exit_code", .int(Int(mapped.code.rawValue)))])),
        ] + hashFields(hashes))
    }

    static func announceText(_ response: AnnounceResponse, tracker: String) -> String {
        var lines: [String] = []
        func row(_ label: String, _ value: String) { lines.append(Format.padded(label, 14) + value) }
        row("tracker", "\(tracker) (\(protocolName(tracker)))")
        if let interval = response.interval {
            row("interval", "\(interval) s" + (response.minInterval.map { " (min \($0) s)" } ?? ""))
        }
        row("seeders", response.complete.map(String.init) ?? "?")
        row("leechers", response.incomplete.map(String.init) ?? "?")
        if let downloaded = response.downloaded { row("completed", String(downloaded)) }
        if let id = response.trackerID { row("tracker id", id) }
        if let warning = response.warning { row("warning", warning) }
        row("peers", String(response.peers.count))
        for peer in response.peers { lines.append("  " + peer.addr) }
        return lines.joined(separator: "\n")
    }

    static func scrapeEntry(_ entry: ScrapeEntry?, hash: [UInt8]) -> JSONValue {
        .object([
            JSONField("info_hash", .string(Hex.encode(hash))),
            JSONField("found", .bool(entry != nil)),
            JSONField("complete", .optional(entry?.complete)),
            JSONField("incomplete", .optional(entry?.incomplete)),
            JSONField("downloaded", .optional(entry?.downloaded)),
            JSONField("name", .optional(entry?.name)),
        ])
    }

    static func log(_ entry: TrackerServer.LogEntry) -> JSONValue {
        var fields: [JSONField] = [
            JSONField("event", .string(entry.action)),
            JSONField("protocol", .string(entry.transport)),
            JSONField("client", .string(entry.client)),
        ]
        if entry.infoHashes.count == 1 {
            fields.append(JSONField("info_hash", .string(Hex.encode(entry.infoHashes[0]))))
        } else if !entry.infoHashes.isEmpty {
            fields.append(JSONField("info_hashes", .array(entry.infoHashes.map { .string(Hex.encode($0)) })))
        }
        if entry.action == "announce" {
            fields += [
                JSONField("announce_event", .optional(entry.event)),
                JSONField("port", .optional(entry.port.map(Int.init))),
                JSONField("left", .optional(entry.left)),
                JSONField("peers_returned", .optional(entry.peersReturned)),
                JSONField("complete", .optional(entry.complete)),
                JSONField("incomplete", .optional(entry.incomplete)),
            ]
        }
        if let error = entry.error { fields.append(JSONField("message", .string(error))) }
        return .object(fields)
    }

    /// `--timeout SECONDS`, shared by announce and scrape.
    static let timeoutOption = OptionSpec(["--timeout"], value: "SECONDS",
                                          help: "give up on a tracker after this long (default 15; UDP retransmits within it)")

    /// `--ca-file PEM`, shared by announce and scrape.
    static let caFileOption = OptionSpec(["--ca-file"], value: "PEM",
                                         help: "trust these certificates for https:// trackers instead of the system's")

    static func client(_ arguments: ParsedArguments) throws(TTError) -> TrackerClient {
        var options = TrackerClient.Options()
        if let text = arguments.value("--timeout") {
            guard let seconds = Double(text), seconds > 0, seconds <= 3600 else {
                throw .usage("--timeout needs seconds between 0 and 3600, got '\(text)'")
            }
            options.timeout = seconds
        }
        if let base = arguments.value("--udp-retransmit") .flatMap(Double.init), base > 0 { options.udpRetransmitBase = base }
        options.caFile = arguments.value("--ca-file")
        return TrackerClient(options: options)
    }

    /// The trackers to use: `--tracker` values (each its own tier, in order) or the input's tiers.
    static func tiers(_ arguments: ParsedArguments, _ input: TorrentInput) throws(TTError) -> [[String]] {
        let given = arguments.all("--tracker")
        if !given.isEmpty { return given.map { [$0] } }
        switch input {
        case .torrent(let torrent, _): if !torrent.trackerTiers.isEmpty { return torrent.trackerTiers }
        case .magnet(let magnet): if !magnet.trackers.isEmpty { return magnet.trackers.map { [$0] } }
        case .infoHash: break
        }
        throw .usage("no tracker: the input lists none; give one with --tracker URL")
    }
}

extension TTError {
    /// The one place tracker failures become exit codes (README, "Output and exit codes"): 69 unreachable,
    /// 75 timeout, 76 refusal or bad response, 64 bad URL.
    init(tracker error: TrackerError) {
        switch error {
        case .badURL: self.init(.usage, kind: "bad_tracker_url", error.description, details: [("tracker", error.tracker)])
        case .unreachable: self.init(.unavailable, kind: "tracker_unreachable", error.description, details: [("tracker", error.tracker)])
        case .timeout: self.init(.timeout, kind: "tracker_timeout", error.description, details: [("tracker", error.tracker)])
        case .failure(_, let reason):
            self.init(.protocolError, kind: "tracker_failure", error.description,
                      details: [("tracker", error.tracker), ("failure_reason", reason)])
        case .badResponse, .tooLarge:
            self.init(.protocolError, kind: "bad_tracker_response", error.description, details: [("tracker", error.tracker)])
        }
    }

    /// Every tracker failed: the last error's code, all of them in the message.
    init(trackers errors: TrackerErrors) {
        guard let last = errors.errors.last else {
            self.init(.usage, kind: "usage", "no tracker to ask")
            return
        }
        if errors.errors.count == 1 {
            self.init(tracker: last)
            return
        }
        let base = TTError(tracker: last)
        self.init(base.code, kind: base.kind, "all \(errors.errors.count) trackers failed: "
                  + errors.errors.map(\.description).joined(separator: "; "), details: base.details)
    }
}
