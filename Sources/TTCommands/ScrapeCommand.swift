import Bencode
import JSON
import Metainfo
import Tracker

/// `tt scrape`: seeders, leechers and completed downloads for one or more torrents, in one request.
struct ScrapeCommand: Command {
    static let spec = CommandSpec(
        name: "scrape",
        summary: "ask a tracker for seeders, leechers and completed counts of one or more torrents",
        usage: "tt scrape TORRENT|MAGNET|INFOHASH… [--tracker URL] [--json]",
        options: [
            OptionSpec(["--tracker", "-t"], value: "URL", repeats: true, help: "scrape here instead of the first input's trackers (repeatable)"),
            TrackerViews.timeoutOption,
            TrackerViews.caFileOption,
            OptionSpec(["--udp-retransmit"], value: "SECONDS", help: "seconds before the first UDP retransmission (default 15, BEP 15)"),
        ],
        positionals: 1...1000,
        discussion: "HTTP trackers are scraped at their 'scrape' URL (the last path part 'announce…' becomes 'scrape…').",
        examples: ["tt scrape x.torrent", "tt scrape --json a.torrent b.torrent | jq '.torrents[].complete'"])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let arguments = invocation.arguments
        var inputs: [TorrentInput] = []
        for argument in arguments.positionals {
            inputs.append(try TorrentInput.load(argument, invocation.environment, allowHashOnly: true))
        }
        var tiers = TrackerTiers(try TrackerViews.tiers(arguments, inputs[0]))
        let client = try TrackerViews.client(arguments)
        let wires = inputs.map { $0.infoHashes.wire }
        let result = tiers.first { (url: String) throws(TrackerError) -> [ScrapeEntry] in
            invocation.log("scraping \(url)")
            return try client.scrape(url, infoHashes: wires)
        }
        switch result {
        case .success(let (tracker, entries)):
            let found = Dictionary(entries.map { ($0.infoHash, $0) }, uniquingKeysWith: { first, _ in first })
            if invocation.json {
                invocation.outputJSON(.object([
                    JSONField("tracker", .string(tracker)),
                    JSONField("protocol", .string(TrackerViews.protocolName(tracker))),
                    JSONField("torrents", .array(wires.map { TrackerViews.scrapeEntry(found[$0], hash: $0) })),
                ]))
            } else {
                var lines = ["tracker \(tracker) (\(TrackerViews.protocolName(tracker)))",
                             "info hash                                  seeders  leechers  completed"]
                for wire in wires {
                    let entry = found[wire]
                    func cell(_ value: Int?, _ width: Int) -> String {
                        let text = value.map(String.init) ?? "-"
                        return String(repeating: " ", count: max(0, width - text.count)) + text
                    }
                    lines.append(Hex.encode(wire) + "  " + cell(entry?.complete, 8) + "  " + cell(entry?.incomplete, 8)
                                 + "  " + cell(entry?.downloaded, 9))
                }
                invocation.output(lines.joined(separator: "\n"))
            }
            return .success
        case .failure(let errors):
            throw TTError(trackers: errors)
        }
    }
}
