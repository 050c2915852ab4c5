import Foundation
import JSON
import Testing
import TestSupport

/// `tt announce` and `tt scrape` against opentracker with real seeders, and real clients
/// finding each other through `tt tracker`. Each test owns its ports and stops its processes.
@Suite(.serialized) struct RealTrackerInteropTests {
    /// A small torrent whose only tracker tiers are `trackers`; returns (torrent path, info hash).
    func makeTorrent(_ folder: TemporaryDirectory, trackers: [String]) throws -> (String, String) {
        folder.write("seed/data.bin", pseudoRandomBytes(count: 300_000, seed: 11))
        var arguments = ["create", folder.file("seed/data.bin"), "--no-date", "--force", "-o", folder.file("x.torrent")]
        for tracker in trackers { arguments += ["-a", tracker] }
        let made = CLI.run(arguments)
        guard made.code == 0 else { throw RealToolError.failed("tt create: \(made.stderr)") }
        let info = try JSONParser().parse(CLI.run(["info", "--json", folder.file("x.torrent")]).stdout)
        return (folder.file("x.torrent"), info["info_hash"]!.stringValue!)
    }

    /// Scrapes with `tt scrape` until `complete` seeders are registered (the tracker's count is the event; 60 s at most).
    func waitForSeeders(_ hash: String, tracker: String, complete: Int) -> Int? {
        var last: Int?
        waitUntil(timeout: 60, poll: 0.25) {
            let result = CLI.run(["scrape", hash, "--tracker", tracker, "--json", "--timeout", "5"])
            last = (try? JSONParser().parse(result.stdout))?["torrents"]?.arrayValue?.first?["complete"]?.intValue.map(Int.init)
            return last == complete
        }
        return last
    }

    @Test func opentrackerWithAria2AndLibtorrentSeeders() throws {
        let folder = TemporaryDirectory("tt-interop")
        // The info hash first (opentracker serves only listed hashes; trackers are outside the info dictionary),
        // then the torrent naming the port opentracker got.
        let (_, hash) = try makeTorrent(folder, trackers: [])
        let tracker = try OpenTracker(whitelist: [hash])
        defer { tracker.stop() }
        let (torrent, sameHash) = try makeTorrent(folder, trackers: [tracker.httpURL])
        try #require(sameHash == hash, "the tracker URL changed the info hash")
        let aria = try Seeders.aria2Seeder(aria2c: try #require(RealTools.aria2c), torrent: torrent, dataFolder: folder.file("seed"), host: "127.0.0.2")
        defer { aria.stop() }
        let lt = try RealClients.libtorrent("seed", torrent: torrent, folder: folder.file("seed"), address: "127.0.0.3",
                                            seconds: 120, scratch: folder)
        defer { lt.stop() }
        let (ariaPort, ltPort) = (aria.port, lt.port)

        // Scrape first (our own announces would add a leecher): two seeders over both protocols.
        #expect(waitForSeeders(hash, tracker: tracker.httpURL, complete: 2) == 2, "aria2: \(aria.log)\nlibtorrent: \(lt.log)")
        let udpScrape = CLI.run(["scrape", torrent, "--tracker", tracker.udpURL, "--json"])
        #expect(udpScrape.code == 0, "\(udpScrape.stderr)")
        let counts = try JSONParser().parse(udpScrape.stdout)["torrents"]?.arrayValue?.first
        #expect(counts?["complete"]?.intValue == 2 && counts?["found"]?.boolValue == true)

        let expected: Set<String> = ["127.0.0.2:\(ariaPort)", "127.0.0.3:\(ltPort)"]
        for url in [tracker.httpURL, tracker.udpURL] {
            let result = CLI.run(["announce", torrent, "--tracker", url, "--json", "--port", "6999"])
            #expect(result.code == 0, "\(url): \(result.stderr)")
            let json = try JSONParser().parse(result.stdout)
            let addrs = Set(json["peers"]?.arrayValue?.compactMap { $0["addr"]?.stringValue } ?? [])
            #expect(expected.isSubset(of: addrs), "\(url): \(addrs)")
            #expect(json["complete"]?.intValue == 2)
            #expect(json["protocol"]?.stringValue == (url.hasPrefix("udp") ? "udp" : "http"))
            #expect((json["interval"]?.intValue ?? 0) > 0)
        }
        // The torrent's own tracker list (no --tracker) works the same.
        #expect(CLI.run(["announce", torrent, "--event", "stopped", "--port", "6999"]).code == 0)
    }

    @Test func opentrackerRefusesUnlistedHashes() throws {
        let tracker = try OpenTracker(whitelist: [String(repeating: "0", count: 40)])
        defer { tracker.stop() }
        let unlisted = String(repeating: "ab", count: 20)
        let http = CLI.run(["announce", unlisted, "--tracker", tracker.httpURL, "--json"])
        #expect(http.code == 76)
        let error = try JSONParser().parse(http.stdout)["error"]
        #expect(error?["kind"]?.stringValue == "tracker_failure")
        #expect(error?["failure_reason"]?.stringValue?.contains("not authorized") == true, "\(http.stdout)")
        #expect(http.stderr.contains(tracker.httpURL) && http.stderr.contains("not authorized"))
        // Over UDP, opentracker answers an unlisted hash with a bare 8-byte announce reply.
        let udp = CLI.run(["announce", unlisted, "--tracker", tracker.udpURL, "--timeout", "5"])
        #expect(udp.code == 76 && udp.stderr.contains(tracker.udpURL), "\(udp.stderr)")
    }

    @Test func realClientsFindEachOtherThroughTTTracker() throws {
        let folder = TemporaryDirectory("tt-interop")
        let server = try ManagedProcess(ttExecutable, ["tracker", "--http-port", "0", "--udp-port", "0",
                                                       "--interval", "5", "--json", "-q"], label: "tt tracker")
        defer { server.stop() }
        let httpPort = try server.listeningPort("http_port"), udpPort = try server.listeningPort("udp_port")
        // aria2 uses the HTTP tracker; libtorrent announces to both tiers (HTTP and UDP).
        let (torrent, _) = try makeTorrent(folder, trackers: ["http://127.0.0.1:\(httpPort)/announce", "udp://127.0.0.1:\(udpPort)"])
        let aria = try Seeders.aria2Seeder(aria2c: try #require(RealTools.aria2c), torrent: torrent, dataFolder: folder.file("seed"), host: "127.0.0.2")
        defer { aria.stop() }
        let seeded = waitForAnnounce(server, from: "127.0.0.2")
        #expect(seeded, "aria2 never announced: \(server.log)\n\(aria.log)")

        try FileManager.default.createDirectory(atPath: folder.file("download"), withIntermediateDirectories: true)
        let downloader = try RealClients.libtorrent("download", torrent: torrent, folder: folder.file("download"),
                                                    address: "127.0.0.3", seconds: 90, scratch: folder)
        defer { downloader.stop() }
        let status = downloader.wait(timeout: 120)
        #expect(status == 0 && downloader.log.contains("COMPLETE"), "libtorrent: \(downloader.log)\ntracker: \(server.log)")
        #expect(readBytes(folder.file("download/data.bin")) == readBytes(folder.file("seed/data.bin")))

        let events = server.log.split(separator: "\n").compactMap { try? JSONParser().parse(Array($0.utf8)) }
        let announces = events.filter { $0["event"]?.stringValue == "announce" }
        #expect(announces.contains { $0["client"]?.stringValue?.hasPrefix("127.0.0.2:") == true && $0["left"]?.intValue == 0 })
        #expect(announces.contains { $0["client"]?.stringValue?.hasPrefix("127.0.0.3:") == true && $0["protocol"]?.stringValue == "http" })
        #expect(announces.contains { $0["client"]?.stringValue?.hasPrefix("127.0.0.3:") == true && $0["protocol"]?.stringValue == "udp" },
                "libtorrent announced over UDP too: \(server.log)")
    }

    /// Waits (60 s at most) for an announce event from `ip` in `tt tracker --json`'s log.
    func waitForAnnounce(_ server: ManagedProcess, from ip: String) -> Bool {
        waitUntil(timeout: 60, poll: 0.25) {
            server.events.contains { $0["event"]?.stringValue == "announce" && $0["client"]?.stringValue?.hasPrefix("\(ip):") == true }
        }
    }
}

