import Foundation
import JSON
import Metainfo
import TestSupport
import Testing

/// A swarm on ::1 only: two libtorrent seeders listening on [::1], `tt tracker` on [::1] handing
/// them out as BEP 7 `peers6`, and `tt download` fetching from them over IPv6.
@Suite struct IPv6SwarmTests {
    /// A TCP port free a moment ago on ::1, or nil when the machine has no IPv6 loopback.
    static func freePort6() -> Int? {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        guard bound == 0 else { return nil }
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin6_port))
    }

    /// Waits until something accepts TCP connections on [::1]:port.
    static func waitForTCP6(port: Int, timeout: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(port).bigEndian
            address.sin6_addr = in6addr_loopback
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
            close(fd)
            if result == 0 { return true }
            usleep(50_000)
        }
        return false
    }

    /// libtorrent seeding from `folder`, listening on [::1]:port and announcing to the torrent's tracker.
    static func seeder(torrent: String, folder: String, port: Int) throws -> ManagedProcess {
        let script = """
        import sys, time, libtorrent as lt
        ses = lt.session({'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
                          'enable_outgoing_utp': False, 'enable_incoming_utp': False, 'listen_interfaces': sys.argv[1],
                          'allow_multiple_connections_per_ip': True,
                          'alert_mask': lt.alert.category_t.tracker_notification | lt.alert.category_t.error_notification})
        h = ses.add_torrent({'ti': lt.torrent_info(sys.argv[2]), 'save_path': sys.argv[3]})
        while True:
            for a in ses.pop_alerts(): print(a.message(), flush=True)
            time.sleep(0.2)
        """
        return try ManagedProcess(RealTools.systemPython, ["-u", "-c", script, "[::1]:\(port)", torrent, folder], label: "libtorrent-v6")
    }

    @Test func downloadOnIPv6LoopbackFromLibtorrentThroughPeers6() throws {
        guard let trackerPort = Self.freePort6(), let port1 = Self.freePort6(), let port2 = Self.freePort6() else {
            withKnownIssue("this machine has no IPv6 loopback (::1)") { Issue.record("no ::1") }
            return
        }
        try #require(RealTools.libtorrent, "python3-libtorrent is not installed (scripts/install-tools installs it)")
        let directory = TemporaryDirectory("tt-ipv6")
        let tracker = "http://[::1]:\(trackerPort)/announce"
        let made = try Seeders.makeTorrent(in: directory, size: 3_000_000, pieceLength: 64 * 1024, seed: 71, trackers: [tracker])
        let server = try ManagedProcess(ttExecutable, ["tracker", "--bind", "::1", "--http-port", String(trackerPort),
                                                       "--udp-port", "off", "--interval", "5"], label: "tt-tracker")
        defer { server.stop() }
        #expect(Self.waitForTCP6(port: trackerPort), "\(server.log)")
        let seeders = [try Self.seeder(torrent: made.torrent, folder: directory.file("seed"), port: port1),
                       try Self.seeder(torrent: made.torrent, folder: directory.file("seed"), port: port2)]
        defer { seeders.forEach { $0.stop() } }

        // Both seeders have announced when the tracker hands out both, as peers6 (BEP 7).
        var addresses: Set<String> = []
        let deadline = Date().addingTimeInterval(30)
        while addresses.count < 2 && Date() < deadline {
            let announce = CLI.run(["announce", "--json", made.torrent, "--timeout", "5"])
            if announce.code == 0, let peers = try JSONParser().parse(announce.stdout)["peers"]?.arrayValue {
                addresses = Set(peers.compactMap { $0["addr"]?.stringValue })
            }
            if addresses.count < 2 { usleep(200_000) }
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
