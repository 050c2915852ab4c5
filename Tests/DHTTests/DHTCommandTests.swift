import DHT
import Foundation
import JSON
import Testing
import TestSupport

/// `tt dht` argument handling and failures: each a one-line error and its documented exit code.
@Suite struct DHTCommandTests {
    @Test func usageErrorsAndBadInput() {
        #expect(CLI.run(["dht", "pnig", "127.0.0.1:1"]).stderr.contains("did you mean 'ping'"))
        #expect(CLI.run(["dht", "pnig", "127.0.0.1:1"]).code == 64)
        #expect(CLI.run(["dht", "ping"]).code == 64)
        #expect(CLI.run(["dht", "ping", "nonsense"]).code == 64)
        #expect(CLI.run(["dht", "find-node", "xyz", "--no-state"]).code == 64)
        #expect(CLI.run(["dht", "announce", String(repeating: "a", count: 40), "--no-state"]).code == 64)
        #expect(CLI.run(["dht", "get-peers", "magnet:?xt=urn:btih:nothex", "--no-state"]).code == 65)
        #expect(CLI.run(["dht", "get-peers", "/no/such.torrent", "--no-state"]).code == 66)
        #expect(CLI.run(["dht", "ping", "127.0.0.1:1", "--timeout", "-3"]).code == 64)
        // The loopback guard holds inside the test bundle: public addresses are refused, default routers unused.
        let blocked = CLI.run(["dht", "ping", "192.0.2.1:6881", "--json", "--no-state"])
        #expect(blocked.code == 69)
        #expect(blocked.stdoutText.contains("\"kind\":\"blocked\""))
        let noContacts = CLI.run(["dht", "get-peers", String(repeating: "a", count: 40), "--no-state"])
        #expect(noContacts.code == 69 && noContacts.stderr.contains("--bootstrap"))
    }

    @Test func silentNodeTimesOut() throws {
        // A UDP port that never answers.
        let silent = try UDPSocketHolder()
        let result = CLI.run(["dht", "ping", "127.0.0.1:\(silent.port)", "--timeout", "0.5", "--no-state", "--json"])
        #expect(result.code == 75, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("tt: error:") && result.stderr.split(separator: "\n").count == 1)
    }
}

import Net
final class UDPSocketHolder {
    let socket: UDPSocket
    let port: UInt16
    init() throws {
        socket = try UDPSocket(family: .ipv4, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        port = socket.localAddress!.port
    }
}

/// `tt dht serve` as a process: JSON Lines of queries, a summary when stopped; IPv6 (BEP 32) too.
@Suite(.serialized) struct DHTServeTests {
    @Test func serveLogsQueriesAndStopsWithASummaryOnIPv4AndIPv6() throws {
        let state = TemporaryDirectory("tt-dht-serve-log")
        for (host, bracketed) in [("127.0.0.1", "127.0.0.1"), ("::1", "[::1]")] {
            let serve = try DHTHelpers.ttServe(host: host, state: state.path)
            let port = serve.port
            let ping = CLI.run(["dht", "ping", "\(bracketed):\(port)", "--bind", host == "::1" ? "::" : "0.0.0.0", "--json", "--no-state"])
            #expect(ping.code == 0, "\(ping.stderr)")
            let pong = try JSONParser().parse(ping.stdout)
            #expect(pong["node"]?["version"]?.stringValue == "tt 0.1")
            #expect(pong["ip"]?.stringValue?.hasPrefix(host == "::1" ? "[::1]:" : "127.0.0.1:") == true)
            #expect(serve.waitForOutput("\"q\":\"ping\"", timeout: 10))
            serve.stop()
            let lines = serve.log.split(separator: "\n").compactMap { try? JSONParser().parse(Array($0.utf8)) }
            #expect(lines.first?["event"]?.stringValue == "listening")
            #expect(lines.contains { $0["event"]?.stringValue == "query" && $0["q"]?.stringValue == "ping" && $0["id"]?.stringValue?.count == 40 })
            #expect(lines.last?["event"]?.stringValue == "stopped" && lines.last?["queries"]?.intValue == 1, "\(serve.log)")
        }
    }
}

@Suite struct DHTProbeTests {
    @Test func blockingPingOfATTNodeAndOfASilentPort() throws {
        let state = TemporaryDirectory("tt-dht-probe")
        let serve = try DHTHelpers.ttServe(host: "127.0.0.1", state: state.path)
        let port = serve.port
        defer { serve.stop() }
        let pong = try DHTProbe.ping(SocketAddress(ip: "127.0.0.1", port: UInt16(port))!, timeout: 5).get()
        #expect(pong.version.map(ClientVersion.describe) == "tt 0.1")
        #expect(pong.observedAddress?.ip == "127.0.0.1")
        let silent = try UDPSocketHolder()
        guard case .failure(.timeout) = DHTProbe.ping(SocketAddress(ip: "127.0.0.1", port: silent.port)!, timeout: 0.3) else {
            Issue.record("a silent port answered")
            return
        }
        guard case .failure(.blocked) = DHTProbe.ping(SocketAddress(ip: "192.0.2.1", port: 6881)!, timeout: 0.3) else {
            Issue.record("a public address was not blocked")
            return
        }
    }
}
