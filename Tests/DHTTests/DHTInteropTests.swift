import Foundation
import JSON
import Testing
import TestSupport

/// `tt dht` against libtorrent's and aria2's DHT nodes, all on loopback.
@Suite(.serialized) struct DHTInteropTests {
    let state = TemporaryDirectory("tt-dht-interop")
    var variables: [String: String] { ["XDG_STATE_HOME": state.path] }

    @Test func pingSampleAndFindNodeAgainstLibtorrent() throws {
        guard RealTools.libtorrent else { withKnownIssue("libtorrent's Python binding is not available") { Issue.record("missing") }; return }
        let node = try DHTHelpers.libtorrentNode(host: "127.0.0.2", contacts: [])
        defer { node.stop() }
        let contact = "127.0.0.2:\(node.port)"
        let ping = CLI.run(["dht", "ping", contact, "--json", "--no-state"])
        #expect(ping.code == 0, "\(ping.stderr)")
        let pong = try JSONParser().parse(ping.stdout)
        #expect(pong["node"]?["version"]?.stringValue?.hasPrefix("libtorrent") == true)
        #expect(pong["node"]?["addr"]?.stringValue == contact)
        #expect(pong["ip"]?.stringValue?.hasPrefix("127.0.0.1:") == true)

        let sample = CLI.run(["dht", "sample", contact, "--json", "--no-state"])
        #expect(sample.code == 0, "\(sample.stderr)")
        #expect(try JSONParser().parse(sample.stdout)["samples"]?.arrayValue?.first?["interval"]?.intValue != nil)

        let trace = CLI.run(["dht", "find-node", String(repeating: "ab", count: 20), "--node", contact, "--trace", "--no-state"])
        #expect(trace.code == 0, "\(trace.stderr)")
        let lines = trace.stdoutText.split(separator: "\n").compactMap { try? JSONParser().parse(Array($0.utf8)) }
        #expect(lines.first?["event"]?.stringValue == "krpc" && lines.first?["q"]?.stringValue == "find_node")
        #expect(lines.first?["a"]?["target"]?.stringValue == String(repeating: "ab", count: 20))
        #expect(lines.contains { $0["direction"]?.stringValue == "in" && $0["y"]?.stringValue == "r" && $0["q"]?.stringValue == "find_node"
            && ($0["r"]?["nodes"]?.arrayValue != nil || $0["r"]?["id"]?.stringValue?.count == 40) })
        #expect(lines.last?["event"]?.stringValue == "result")
    }

    @Test func getPeersFindsALibtorrentSeederThroughAChainOfLibtorrentNodes() throws {
        guard RealTools.libtorrent else { withKnownIssue("libtorrent's Python binding is not available") { Issue.record("missing") }; return }
        let directory = TemporaryDirectory("tt-dht-chain")
        let made = try Seeders.makeTorrent(in: directory, size: 300_000)
        let first = try DHTHelpers.libtorrentNode(host: "127.0.0.2", contacts: [])
        defer { first.stop() }
        let middle = try DHTHelpers.libtorrentNode(host: "127.0.0.3", contacts: ["127.0.0.2:\(first.port)"])
        defer { middle.stop() }
        let seeder = try DHTHelpers.libtorrentNode(host: "127.0.0.4", contacts: ["127.0.0.3:\(middle.port)"],
                                                   torrent: made.torrent, saveFolder: directory.file("seed"))
        defer { seeder.stop() }
        let ports = [first.port, middle.port, seeder.port]
        let hash = try JSONParser().parse(CLI.run(["info", "--json", made.torrent]).stdout)["info_hash"]!.stringValue!
        let (result, json) = DHTHelpers.retryCLI(["dht", "get-peers", hash, "--bootstrap", "127.0.0.2:\(ports[0])", "--json", "--no-state", "--timeout", "10"],
                                                 timeout: 60) { json in
            json["peers"]?.arrayValue?.contains { $0["addr"]?.stringValue == "127.0.0.4:\(ports[2])" } == true
        }
        #expect(json?["peers"]?.arrayValue?.contains { $0["addr"]?.stringValue == "127.0.0.4:\(ports[2])" && $0["source"]?.stringValue == "dht" } == true,
                "\(result.stdoutText) \(result.stderr)\n\(seeder.log.suffix(500))")
        #expect((json?["nodes_replied"]?.intValue ?? 0) >= 2)
        #expect(json?["time_to_first_peer"]?.intValue != nil || json?["time_to_first_peer"] != .null)
    }

    @Test func libtorrentAnnouncesThroughTTServeAndTTFindsIt() throws {
        guard RealTools.libtorrent else { withKnownIssue("libtorrent's Python binding is not available") { Issue.record("missing") }; return }
        let directory = TemporaryDirectory("tt-dht-serve")
        let made = try Seeders.makeTorrent(in: directory, size: 100_000, seed: 11)
        let serve = try DHTHelpers.ttServe(host: "127.0.0.1", state: state.path)
        defer { serve.stop() }
        let servePort = serve.port
        let seeder = try DHTHelpers.libtorrentNode(host: "127.0.0.5", contacts: ["127.0.0.1:\(servePort)"],
                                                   torrent: made.torrent, saveFolder: directory.file("seed"))
        defer { seeder.stop() }
        let ltPort = seeder.port
        #expect(serve.waitForOutput("\"q\":\"announce_peer\"", timeout: 30), "\(serve.log.suffix(800))")
        let hash = try JSONParser().parse(CLI.run(["info", "--json", made.torrent]).stdout)["info_hash"]!.stringValue!
        let get = CLI.run(["dht", "get-peers", hash, "--bootstrap", "127.0.0.1:\(servePort)", "--json", "--no-state", "--timeout", "10"])
        #expect(get.code == 0, "\(get.stderr)")
        let json = try JSONParser().parse(get.stdout)
        #expect(json["peers"]?.arrayValue?.contains { $0["addr"]?.stringValue == "127.0.0.5:\(ltPort)" } == true, "\(get.stdoutText)")
    }

    @Test func aria2TalksToTTServe() throws {
        guard let aria2c = RealTools.aria2c else { withKnownIssue("aria2c is not available") { Issue.record("missing") }; return }
        let directory = TemporaryDirectory("tt-dht-aria2")
        let made = try Seeders.makeTorrent(in: directory, size: 50_000, seed: 12)
        let serve = try DHTHelpers.ttServe(host: "127.0.0.1", state: state.path)
        defer { serve.stop() }
        let servePort = serve.port
        // aria2's DHT (UDP) and peer (TCP) ports are checked to be its own.
        let aria = try startListening("aria2c with DHT", host: "127.0.0.3", uses: [.udp, .tcp]) { ports in
            try ManagedProcess(aria2c, [
                "--enable-dht=true", "--enable-dht6=false", "--dht-listen-port=\(ports[0])", "--listen-port=\(ports[1])",
                "--dht-entry-point=127.0.0.1:\(servePort)", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
                "--dht-file-path=\(directory.file("aria2.dht"))", "--interface=127.0.0.3", "--dir=\(directory.file("out"))",
                "--console-log-level=warn", "--summary-interval=0", "--seed-time=0", made.torrent,
            ], label: "aria2c-dht")
        }
        defer { aria.stop() }
        #expect(serve.waitForOutput("\"q\":\"get_peers\"", timeout: 40), "\(serve.log.suffix(800))\n\(aria.log.suffix(500))")
    }
}
