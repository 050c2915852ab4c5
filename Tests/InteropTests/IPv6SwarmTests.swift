import Foundation
import JSON
import Metainfo
import TestSupport
import Testing

/// A swarm on ::1 only: two libtorrent seeders listening on [::1], `tt tracker` on [::1] handing
/// them out as BEP 7 `peers6`, and `tt download` fetching from them over IPv6.
@Suite struct IPv6SwarmTests {
    /// Whether this machine has an IPv6 loopback (a socket binds to [::1]).
    static func hasIPv6Loopback() -> Bool {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        } == 0
    }

    /// libtorrent seeding from `folder`, listening on [::1] (the port it reports: `port` of the process) and
    /// announcing to the torrent's tracker.
    static func seeder(torrent: String, folder: String) throws -> ManagedProcess {
        let script = """
        import sys, time, libtorrent as lt
        ses = lt.session({'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
                          'enable_outgoing_utp': False, 'enable_incoming_utp': False, 'listen_interfaces': sys.argv[1],
                          'allow_multiple_connections_per_ip': True,
                          'alert_mask': lt.alert.category_t.tracker_notification | lt.alert.category_t.error_notification})
        \(Seeders.libtorrentReportPort)
        h = ses.add_torrent({'ti': lt.torrent_info(sys.argv[2]), 'save_path': sys.argv[3]})
        while True:
            for a in ses.pop_alerts(): print(a.message(), flush=True)
            time.sleep(0.2)
        """
        let process = try ManagedProcess(RealTools.systemPython, ["-u", "-c", script, "[::1]:0", torrent, folder], label: "libtorrent-v6")
        _ = try process.reportedPort()
        return process
    }

    @Test func downloadOnIPv6LoopbackFromLibtorrentThroughPeers6() throws {
        guard Self.hasIPv6Loopback() else {
            withKnownIssue("this machine has no IPv6 loopback (::1)") { Issue.record("no ::1") }
            return
        }
        try #require(RealTools.libtorrent, "python3-libtorrent is not installed (scripts/install-tools installs it)")
        let directory = TemporaryDirectory("tt-ipv6")
        let server = try ManagedProcess(ttExecutable, ["tracker", "--bind", "::1", "--http-port", "0",
                                                       "--udp-port", "off", "--interval", "5", "--json"], label: "tt-tracker")
        defer { server.stop() }
        let tracker = "http://[::1]:\(try server.listeningPort("http_port"))/announce"
        let made = try Seeders.makeTorrent(in: directory, size: 3_000_000, pieceLength: 64 * 1024, seed: 71, trackers: [tracker])
        let seeders = [try Self.seeder(torrent: made.torrent, folder: directory.file("seed")),
                       try Self.seeder(torrent: made.torrent, folder: directory.file("seed"))]
        defer { seeders.forEach { $0.stop() } }
        let (port1, port2) = (seeders[0].port, seeders[1].port)

        // Both seeders have announced when the tracker hands out both, as peers6 (BEP 7).
        var addresses: Set<String> = []
        try waitUntil(timeout: 30, poll: 0.2) {
            let announce = CLI.run(["announce", "--json", made.torrent, "--timeout", "5"])
            if announce.code == 0, let peers = try JSONParser().parse(announce.stdout)["peers"]?.arrayValue {
                addresses = Set(peers.compactMap { $0["addr"]?.stringValue })
            }
            return addresses.count >= 2
        }
        #expect(addresses == ["[::1]:\(port1)", "[::1]:\(port2)"], "\(seeders.map(\.log))\n\(server.log)")

        let result = CLI.run(["download", made.torrent, "-o", directory.file("DL"), "--json", "--bind", "::1", "--stall-timeout", "30"])
        #expect(result.code == 0, "\(result.stderr)")
        let events = try result.stdoutText.split(separator: "\n").map { try JSONParser().parse(Array($0.utf8)) }
        let connected = Set(events.filter { $0["event"] == "peer_connected" }.compactMap { $0["addr"]?.stringValue })
        #expect(!connected.isEmpty && connected.isSubset(of: addresses), "\(connected)")
        #expect(events.contains { $0["event"] == "tracker_announced" && $0["tracker"]?.stringValue == tracker })
        #expect(events.last?["event"] == "finished" && events.last?["outcome"] == "complete")
        #expect(readBytes(directory.file("DL/data.bin")) == made.bytes)
    }
}
