import Dispatch
import FoundationEssentials
import Glibc
import JSON
import Net
import Tracker

/// `tt tracker`: a small in-memory tracker (HTTP and UDP) for local swarms, demos and tests.
struct TrackerCommand: Command {
    static let spec = CommandSpec(
        name: "tracker",
        summary: "run a small in-memory BitTorrent tracker (HTTP and UDP, announce and scrape)",
        usage: "tt tracker [--http-port N] [--udp-port N] [--bind ADDR] [--interval S] [--json]",
        options: [
            OptionSpec(["--http-port"], value: "N", help: "HTTP port (default 6969; 0 picks a free one; 'off' disables)"),
            OptionSpec(["--udp-port"], value: "N", help: "UDP port (default: the HTTP port, or 6969; 0 picks a free one; 'off' disables)"),
            OptionSpec(["--bind"], value: "ADDR", help: "address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)"),
            OptionSpec(["--interval"], value: "S", help: "announce interval handed to clients (default 60)"),
            OptionSpec(["--peer-ttl"], value: "S", help: "forget peers silent this long (default: three intervals)"),
        ],
        positionals: 0...0,
        discussion: """
        Serves /announce and /scrape over HTTP and BEP 15 over UDP until interrupted (SIGINT or SIGTERM).
        With --json, stdout carries JSON Lines: a 'listening' event, one event per request, and a final 'stopped' summary.
        """,
        examples: ["tt tracker", "tt tracker --http-port 0 --udp-port 0 --json | jq -c ."])

    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let arguments = invocation.arguments
        var options = TrackerServer.Options()
        options.bind = arguments.value("--bind") ?? "127.0.0.1"
        func port(_ key: String) throws(TTError) -> UInt16?? {
            guard let text = arguments.value(key) else { return .none }
            if text == "off" { return .some(nil) }
            guard let number = UInt16(text) else { throw .usage("\(key) needs a port from 0 to 65535 or 'off', got '\(text)'") }
            return .some(number)
        }
        let http = try port("--http-port")
        let udp = try port("--udp-port")
        options.httpPort = http ?? 6969
        // UDP follows the HTTP port (0 stays "any free port") unless given; with HTTP off it is 6969.
        options.udpPort = udp ?? (options.httpPort ?? 6969)
        guard options.httpPort != nil || options.udpPort != nil else { throw .usage("both --http-port and --udp-port are off") }
        if let interval = try arguments.integer("--interval", in: 1...86_400) {
            options.state.interval = interval
            options.state.minInterval = max(1, interval / 6)
            options.state.peerTTL = Double(interval * 3)
        }
        if let ttl = try arguments.integer("--peer-ttl", in: 1...864_000) { options.state.peerTTL = Double(ttl) }

        let json = invocation.json
        let verbose = invocation.verbosity >= .verbose
        options.logsRequests = json || verbose
        let environment = invocation.environment
        let server: TrackerServer
        do {
            server = try TrackerServer(options: options) { entry in
                if json {
                    environment.writeJSON(TrackerViews.log(entry))
                } else if verbose {
                    environment.writeError("\(entry.transport) \(entry.action) from \(entry.client)"
                                           + (entry.error.map { ": \($0)" } ?? "") + "\n")
                }
            }
        } catch {
            if case .badAddress = error { throw .usage("--bind needs a numeric IP address, got '\(options.bind)'") }
            throw TTError(.unavailable, kind: "listen_failed", "cannot listen: \(error)")
        }
        let httpURL = server.httpAddress.map { "http://\($0)/announce" }
        let udpURL = server.udpAddress.map { "udp://\($0)" }
        if json {
            environment.writeJSON(.object([
                JSONField("event", .string("listening")),
                JSONField("http", .optional(httpURL)),
                JSONField("udp", .optional(udpURL)),
                JSONField("http_port", .optional(server.httpAddress.map { Int($0.port) })),
                JSONField("udp_port", .optional(server.udpAddress.map { Int($0.port) })),
            ]))
        }
        for url in [httpURL, udpURL].compactMap({ $0 }) { invocation.note("tracker listening at \(url)") }

        // Stop cleanly on SIGINT/SIGTERM: the summary is the last line.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let queue = DispatchQueue(label: "tt.tracker.signals")
        let sources = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: queue) }
        let stopper = Stopper(server)
        for source in sources {
            source.setEventHandler { stopper.stop() }
            source.resume()
        }
        server.run()
        for source in sources { source.cancel() }
        let counts = server.counters.withLock { $0 }
        if json {
            environment.writeJSON(.object([
                JSONField("event", .string("stopped")),
                JSONField("announces", .int(counts.announces)),
                JSONField("scrapes", .int(counts.scrapes)),
                JSONField("errors", .int(counts.errors)),
                JSONField("torrents", .int(server.torrentCount)),
                JSONField("peers", .int(server.peerCount)),
            ]))
        } else {
            invocation.note("stopped after \(counts.announces) announces and \(counts.scrapes) scrapes")
        }
        return .success
    }

    /// Calls `stop()` once, off the signal queue (stop waits for the serving threads).
    final class Stopper: @unchecked Sendable {
        let server: TrackerServer
        var done = false
        init(_ server: TrackerServer) { self.server = server }
        func stop() {
            guard !done else { return }
            done = true
            if !startDetachedThread(name: "tt-tracker-stop", { [server] in server.stop() }) { server.stop() }
        }
    }
}
