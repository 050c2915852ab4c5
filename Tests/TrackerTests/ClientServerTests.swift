import Bencode
import Foundation
import JSON
import Net
import Synchronization
import Testing
import TestSupport
@testable import Tracker

/// Our client against our tracker, in-process, over real loopback sockets.
@Suite struct ClientServerTests {
    func server(bind: String = "127.0.0.1") throws -> TrackerServer {
        var options = TrackerServer.Options()
        options.bind = bind
        options.httpPort = 0
        options.udpPort = 0
        let server = try TrackerServer(options: options)
        server.start()
        return server
    }

    let hash = [UInt8](repeating: 0x42, count: 20)

    @Test(arguments: ["http", "udp"])
    func announceAndScrape(_ scheme: String) throws {
        let server = try server()
        defer { server.stop() }
        let url = scheme == "http" ? "http://\(server.httpAddress!)/announce" : "udp://\(server.udpAddress!)"
        let client = TrackerClient()
        let first = try client.announce(url, AnnounceRequest(infoHash: hash, port: 7001, left: 0, event: .started))
        #expect(first.peers.isEmpty && first.complete == 1 && first.interval == 60)
        let second = try client.announce(url, AnnounceRequest(infoHash: hash, port: 7002, left: 10, event: .started))
        #expect(second.peers.map(\.addr) == ["127.0.0.1:7001"])
        #expect(second.complete == 1 && second.incomplete == 1)
        let other = [UInt8](repeating: 0x43, count: 20)
        let scrape = try client.scrape(url, infoHashes: [hash, other])
        #expect(scrape == [ScrapeEntry(infoHash: hash, complete: 1, incomplete: 1, downloaded: 0),
                           ScrapeEntry(infoHash: other, complete: 0, incomplete: 0, downloaded: 0)])
        _ = try client.announce(url, AnnounceRequest(infoHash: hash, port: 7002, event: .stopped))
        #expect(try client.scrape(url, infoHashes: [hash])[0].incomplete == 0)
    }

    @Test func ipv6OverUDPAndHTTP() throws {
        if let missing = ipv6LoopbackMissing {
            withKnownIssue("no IPv6 loopback on this machine: \(missing)") { Issue.record("IPv6 tracker test not run") }
            return
        }
        let server = try server(bind: "::1")
        defer { server.stop() }
        let client = TrackerClient()
        for url in ["udp://[::1]:\(server.udpAddress!.port)", "http://[::1]:\(server.httpAddress!.port)/announce"] {
            _ = try client.announce(url, AnnounceRequest(infoHash: hash, port: 8001, left: 1, event: .started))
            let response = try client.announce(url, AnnounceRequest(infoHash: hash, port: 8002, left: 1, event: .started))
            #expect(response.peers.map(\.addr).contains("[::1]:8001"), "\(url)")
        }
    }

    @Test func malformedHTTPRequestsGetFailureReasons() throws {
        let server = try server()
        defer { server.stop() }
        let client = TrackerClient()
        #expect(throws: TrackerError.failure("http://\(server.httpAddress!)/other", "no such path; use /announce or /scrape")) {
            try client.announce("http://\(server.httpAddress!)/other", AnnounceRequest(infoHash: hash))
        }
        let connection = try TCPConnection.connect(to: server.httpAddress!, timeout: 5)
        try connection.send(Array("GET /announce?info_hash=abc HTTP/1.1\r\n\r\n".utf8))
        let reply = try connection.receiveAll(limit: 4096, deadline: .after(5))
        #expect(String(decoding: reply, as: UTF8.self).contains("failure reason"))
    }

    @Test func cliAnnounceJSONShape() throws {
        let server = try server()
        defer { server.stop() }
        let url = "http://\(server.httpAddress!)/announce"
        _ = try TrackerClient().announce(url, AnnounceRequest(infoHash: hash, port: 6999, left: 0))
        let result = CLI.run(["announce", Hex.encode(hash), "--tracker", url, "--json", "--event", "started"])
        #expect(result.code == 0, "\(result.stderr)")
        let json = try JSONParser().parse(result.stdout)
        guard case .object(let fields) = json else { Issue.record("not an object"); return }
        #expect(fields.map(\.key) == ["tracker", "protocol", "interval", "min_interval", "complete", "incomplete", "downloaded",
                                      "tracker_id", "warning", "peers", "info_hash"])
        #expect(json["protocol"]?.stringValue == "http" && json["info_hash"]?.stringValue == Hex.encode(hash))
        #expect(json["peers"] == .array([["addr": "127.0.0.1:6999", "ip": "127.0.0.1", "port": .int(6999)]]))
        #expect(json["tracker_id"] == .null && json["warning"] == .null)
    }

    @Test func cliAllReportsEachTracker() throws {
        let server = try server()
        defer { server.stop() }
        let refusing = RefusingPort(use: .udp)
        defer { refusing.close() }
        let dead = "udp://127.0.0.1:\(refusing.port)"
        let result = CLI.run(["announce", Hex.encode(hash), "--tracker", "udp://\(server.udpAddress!)", "--tracker", dead,
                              "--tracker", "http://\(server.httpAddress!)/announce", "--all", "--json"])
        #expect(result.code == 0, "\(result.stderr)")
        let items = try JSONParser().parse(result.stdout).arrayValue ?? []
        #expect(items.count == 3)
        #expect(items.map { $0["protocol"]?.stringValue } == ["udp", "udp", "http"])
        #expect(items[1]["error"]?["exit_code"]?.intValue == 69)
        #expect(items[0]["interval"]?.intValue == 60 && items[2]["interval"]?.intValue == 60)
    }

    @Test func cliUsesTheTorrentsTiersInOrder() throws {
        let server = try server()
        defer { server.stop() }
        let folder = TemporaryDirectory()
        folder.write("data.bin", pseudoRandomBytes(count: 40_000, seed: 3))
        let refusing = RefusingPort()
        defer { refusing.close() }
        let dead = "http://127.0.0.1:\(refusing.port)/announce"
        let live = "http://\(server.httpAddress!)/announce"
        let made = CLI.run(["create", folder.file("data.bin"), "-a", dead, "-a", live, "--no-date", "-o", folder.file("x.torrent")])
        #expect(made.code == 0, "\(made.stderr)")
        // `-a` twice makes two tiers with `tt create`? Either way the live one must answer.
        let result = CLI.run(["announce", folder.file("x.torrent"), "--json", "-v"])
        #expect(result.code == 0, "\(result.stderr)")
        let json = try JSONParser().parse(result.stdout)
        #expect(json["tracker"]?.stringValue == live)
        // A magnet with the tracker works too, and scrape sees the one leecher we registered.
        let info = try JSONParser().parse(CLI.run(["info", "--json", folder.file("x.torrent")]).stdout)
        let infoHash = info["info_hash"]!.stringValue!
        let scrape = CLI.run(["scrape", "magnet:?xt=urn:btih:\(infoHash)&tr=\(live)", "--json"])
        #expect(scrape.code == 0, "\(scrape.stderr)")
        let counts = try JSONParser().parse(scrape.stdout)["torrents"]?.arrayValue?.first
        #expect(counts?["incomplete"]?.intValue == 1 && counts?["found"]?.boolValue == true)
    }

    @Test func cliUsageErrors() {
        #expect(CLI.run(["announce", String(repeating: "a", count: 40)]).code == 64)  // no tracker anywhere
        #expect(CLI.run(["announce", String(repeating: "a", count: 40), "--tracker", "gopher://x/"]).code == 64)
        #expect(CLI.run(["announce", String(repeating: "a", count: 40), "--tracker", "udp://x:1", "--event", "paused"]).code == 64)
        #expect(CLI.run(["tracker", "--http-port", "99999"]).code == 64)
        #expect(CLI.run(["announce", "nope.torrent", "--tracker", "udp://x:1"]).code == 66)
    }
}

/// `tt tracker` as a process: JSON Lines out, clean stop on SIGTERM with a summary last.
@Suite struct TrackerCommandProcessTests {
    @Test func servesAndLogsJSONLines() throws {
        let process = try ManagedProcess(ttExecutable, ["tracker", "--http-port", "0", "--udp-port", "0", "--json", "-q"])
        defer { process.stop() }
        guard let listening = process.waitForEvent("listening", timeout: 5), let http = listening["http"]?.stringValue, let udp = listening["udp"]?.stringValue else {
            Issue.record("no listening event: \(process.log)")
            return
        }
        #expect(listening["event"]?.stringValue == "listening")
        let hash = String(repeating: "ab", count: 20)
        #expect(CLI.run(["announce", hash, "--tracker", http, "--port", "7100"]).code == 0)
        let viaUDP = CLI.run(["announce", hash, "--tracker", udp, "--port", "7101", "--json"])
        #expect(try JSONParser().parse(viaUDP.stdout)["peers"]?.arrayValue?.first?["addr"]?.stringValue == "127.0.0.1:7100")
        #expect(CLI.run(["scrape", hash, "--tracker", udp]).code == 0)
        kill(process.pid, SIGTERM)
        #expect(process.wait(timeout: 10) == 0)
        let lines = process.log.split(separator: "\n").compactMap { try? JSONParser().parse(Array($0.utf8)) }
        #expect(lines.map { $0["event"]?.stringValue ?? "?" } == ["listening", "announce", "announce", "scrape", "stopped"])
        #expect(lines.last?["announces"]?.intValue == 2 && lines.last?["peers"]?.intValue == 2)
        #expect(lines[2]["protocol"]?.stringValue == "udp" && lines[2]["peers_returned"]?.intValue == 1)
    }
}
