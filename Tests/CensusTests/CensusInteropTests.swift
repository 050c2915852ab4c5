import Foundation
import JSON
import Testing
import TestSupport

/// `tt swarm` against a local swarm of real clients behind opentracker: seeders from libtorrent,
/// aria2, Transmission, qBittorrent and ctorrent, a libtorrent leecher holding only some pieces,
/// and a peer announced by hand on a port nothing listens on. Every client must be named right,
/// every count must be what each peer actually holds, and the dead peer must be reported refused.
@Suite(.serialized) struct CensusInteropTests {
    static let pieceLength = 64 * 1024
    static let pieceCount = 40
    /// Pieces the partial leecher keeps (the rest of its copy is damaged, so its check drops them).
    static let partialPieces = 0..<12

    /// libtorrent holding only the pieces whose bytes are intact, in upload mode so it never downloads;
    /// on `host` and the port it reports (`port` of the process).
    static func partialLeecher(torrent: String, folder: String, host: String) throws -> ManagedProcess {
        let script = """
        import sys, time, libtorrent as lt
        s = {'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
             'enable_outgoing_utp': False, 'enable_incoming_utp': False, 'listen_interfaces': sys.argv[1],
             'alert_mask': 0, 'outgoing_interfaces': sys.argv[1].rsplit(':', 1)[0]}
        ses = lt.session(s)
        \(Seeders.libtorrentReportPort)
        h = ses.add_torrent({'ti': lt.torrent_info(sys.argv[2]), 'save_path': sys.argv[3], 'flags': lt.torrent_flags.upload_mode})
        while True:
            st = h.status()
            print('state', st.state, st.num_pieces, flush=True)
            time.sleep(0.5)
        """
        let process = try ManagedProcess(RealTools.systemPython, ["-u", "-c", script, "\(host):0", torrent, folder], label: "libtorrent-partial")
        _ = try process.reportedPort()
        return process
    }

    @Test func censusOfARealSwarm() throws {
        for tool in [("aria2", "/usr/bin/aria2c"), ("transmission-daemon", "/usr/bin/transmission-daemon"), ("ctorrent", "/usr/bin/ctorrent"),
                     ("qbittorrent-nox", "/usr/bin/qbittorrent-nox")] {
            try #require(RealTools.ensure(tool.0, probe: tool.1), "\(tool.0) is not installed")
        }
        try #require(RealTools.libtorrent, "libtorrent's Python binding is not installed")
        let directory = TemporaryDirectory("tt-census")
        let size = Self.pieceCount * Self.pieceLength - 1000
        let bytes = pseudoRandomBytes(count: size, seed: 16)
        directory.write("seed/swarm.bin", bytes)
        // The hash first (opentracker serves only listed hashes), then the torrent with its URL.
        let bare = CLI.run(["create", "seed/swarm.bin", "--piece-size", "64K", "-o", "bare.torrent"], cwd: directory.path)
        try #require(bare.code == 0, "\(bare.stderr)")
        let hash = try #require(try JSONParser().parse(CLI.run(["info", "--json", "bare.torrent"], cwd: directory.path).stdout)["info_hash"]?.stringValue)
        let tracker = try OpenTracker(whitelist: [hash])
        defer { tracker.stop() }
        let made = CLI.run(["create", "seed/swarm.bin", "--piece-size", "64K", "-a", tracker.httpURL, "-o", "swarm.torrent"], cwd: directory.path)
        try #require(made.code == 0, "\(made.stderr)")
        let torrent = directory.file("swarm.torrent")
        let seedFolder = directory.file("seed")

        // Each client on its own loopback address.
        var processes: [ManagedProcess] = []
        defer { for process in processes { process.stop() } }
        var expected: [(client: String, addr: String, have: Int)] = []
        let lt = try Seeders.libtorrentSeeder(torrent: torrent, dataFolder: seedFolder, host: "127.0.0.2")
        processes.append(lt)
        expected.append(("libtorrent", "127.0.0.2:\(lt.port)", Self.pieceCount))
        let aria = try Seeders.aria2Seeder(aria2c: "/usr/bin/aria2c", torrent: torrent, dataFolder: seedFolder, host: "127.0.0.3")
        processes.append(aria)
        expected.append(("aria2", "127.0.0.3:\(aria.port)", Self.pieceCount))
        let tr = try Seeders.transmissionSeeder(daemon: "/usr/bin/transmission-daemon", torrent: torrent, dataFolder: seedFolder,
                                                configFolder: directory.file("transmission"), host: "127.0.0.4")
        processes.append(tr)
        expected.append(("Transmission", "127.0.0.4:\(tr.port)", Self.pieceCount))
        let ct = try Seeders.ctorrentSeeder(torrent: torrent, dataFile: directory.file("seed/swarm.bin"), host: "127.0.0.6")
        processes.append(ct)
        expected.append(("CTorrent", "127.0.0.6:\(ct.port)", Self.pieceCount))
        let qb = try Seeders.qBittorrentSeeder(torrent: torrent, dataFolder: seedFolder, profile: directory.file("qb"), host: "127.0.0.7")
        processes.append(qb)
        expected.append(("qBittorrent", "127.0.0.7:\(qb.port)", Self.pieceCount))
        // The partial leecher: a copy whose pieces after the first twelve are damaged.
        var damaged = bytes
        for index in Self.partialPieces.upperBound..<Self.pieceCount { damaged[index * Self.pieceLength] ^= 0xFF }
        directory.write("partial/swarm.bin", damaged)
        let partial = try Self.partialLeecher(torrent: torrent, folder: directory.file("partial"), host: "127.0.0.8")
        processes.append(partial)
        expected.append(("libtorrent", "127.0.0.8:\(partial.port)", Self.partialPieces.count))
        for (_, addr, _) in expected {
            let parts = addr.split(separator: ":")
            #expect(waitForTCP(host: String(parts[0]), port: Int(parts[1])!, timeout: 40), "nothing listens on \(addr)")
        }
        // A peer nobody runs, announced by hand: the census must find it refused. Its port is held
        // (bound, never listening) so no one else can take it meanwhile.
        let refusing = RefusingPort(use: .tcpAndUDP)
        defer { refusing.close() }
        let deadPort = refusing.port
        let announced = CLI.run(["announce", "swarm.torrent", "--port", String(deadPort), "--event", "started"], cwd: directory.path)
        try #require(announced.code == 0, "\(announced.stderr)")

        // Everyone is given with --peer too: some clients announce from another source address than they listen on.
        let peers = expected.flatMap { ["--peer", $0.addr] }
        let run = runCommand(ttExecutable, ["swarm", torrent, "--json", "--duration", "8", "--transport", "tcp"] + peers, timeout: 60)
        try #require(run.status == 0, "\(run.output)")
        let report = try JSONParser().parse(Array(run.output.utf8))
        let reported = report["peers"]?.arrayValue ?? []
        for (client, addr, have) in expected {
            let peer = reported.first { $0["addr"]?.stringValue == addr }
            #expect(peer?["reachable"] == .bool(true), "\(addr) (\(client)): \(peer.map { "\($0)" } ?? "missing")")
            #expect(peer?["client"]?.stringValue?.contains(client) == true, "\(addr): \(peer?["client"] ?? .null), expected \(client)")
            #expect(peer?["pieces"]?["have"]?.intValue == Int64(have), "\(addr) (\(client)) holds \(have) pieces: \(peer?["pieces"] ?? .null)")
        }
        let dead = reported.first { $0["port"]?.intValue == Int64(deadPort) }
        #expect(dead?["reachable"] == .bool(false) && dead?["error"]?.stringValue == "refused", "\(dead.map { "\($0)" } ?? "missing")")
        #expect(dead?["sources"]?.arrayValue?.contains(.string("tracker")) == true, "the dead peer came from the tracker")
        let summary = try #require(report["summary"])
        #expect(summary["seeders_reached"]?.intValue == 5, "\(summary)")
        #expect(summary["minimum_copies"]?.intValue == 5, "pieces 12… are on the five seeders only: \(summary)")
        #expect(summary["rarest_pieces"]?.arrayValue?.first?.intValue == Int64(Self.partialPieces.upperBound), "\(summary)")
        #expect(summary["completable"] == .bool(true))
        let tracked = report["sources"]?.arrayValue?.first { $0["source"]?.stringValue == "tracker" }
        #expect(tracked?["error"] == .null && (tracked?["peers"]?.intValue ?? 0) >= 1, "\(tracked.map { "\($0)" } ?? "no tracker source")")
    }
}

/// Peers that only speak uTP or only accept encryption, from libtorrent: the census must reach
/// both and say how.
@Suite(.serialized) struct CensusTransportInteropTests {
    /// libtorrent seeding with `settings` (a Python dict literal) on `host` and the port it reports (`port` of the process).
    static func libtorrent(torrent: String, folder: String, host: String, settings: String) throws -> ManagedProcess {
        let script = """
        import sys, time, libtorrent as lt
        s = {'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
             'listen_interfaces': sys.argv[1], 'alert_mask': 0, 'outgoing_interfaces': sys.argv[1].rsplit(':', 1)[0]}
        s.update(\(settings))
        ses = lt.session(s)
        \(Seeders.libtorrentReportPort)
        h = ses.add_torrent({'ti': lt.torrent_info(sys.argv[2]), 'save_path': sys.argv[3]})
        while True:
            print('state', h.status().state, h.status().progress, flush=True)
            time.sleep(0.5)
        """
        let process = try ManagedProcess(RealTools.systemPython, ["-u", "-c", script, "\(host):0", torrent, folder], label: "libtorrent")
        _ = try process.reportedPort()
        return process
    }

    @Test func utpOnlyAndEncryptionOnlyPeersAreReportedAsSuch() throws {
        try #require(RealTools.libtorrent, "libtorrent's Python binding is not installed")
        let directory = TemporaryDirectory("tt-census-transports")
        let made = try Seeders.makeTorrent(in: directory, name: "ways.bin", size: 2 << 20, pieceLength: 64 * 1024)
        let folder = (made.data as NSString).deletingLastPathComponent
        let first = try Self.libtorrent(torrent: made.torrent, folder: folder, host: "127.0.0.11",
                                        settings: "{'enable_incoming_tcp': False, 'enable_outgoing_tcp': False}")
        defer { first.stop() }
        let second = try Self.libtorrent(torrent: made.torrent, folder: folder, host: "127.0.0.12",
                                         settings: "{'enable_incoming_utp': False, 'enable_outgoing_utp': False, 'in_enc_policy': lt.enc_policy.forced, 'out_enc_policy': lt.enc_policy.forced, 'allowed_enc_level': lt.enc_level.rc4}")
        defer { second.stop() }
        let utpOnly = ("127.0.0.11", first.port), encrypted = ("127.0.0.12", second.port)
        // Both listen (they reported their ports); wait until each says it seeds: libtorrent hangs up on
        // an encrypted handshake for a torrent it is still loading.
        #expect(first.waitForOutput("state seeding", timeout: 60), "libtorrent (uTP only): \(first.log)")
        #expect(second.waitForOutput("state seeding", timeout: 60), "libtorrent (encrypted): \(second.log)")

        let run = runCommand(ttExecutable, ["swarm", made.torrent, "--json", "--duration", "8", "--no-dht",
                                            "--peer", "\(utpOnly.0):\(utpOnly.1)", "--peer", "\(encrypted.0):\(encrypted.1)"], timeout: 60)
        try #require(run.status == 0, "\(run.output)")
        let report = try JSONParser().parse(Array(run.output.utf8))
        let peers = report["peers"]?.arrayValue ?? []
        let viaUTP = peers.first { $0["addr"]?.stringValue == "\(utpOnly.0):\(utpOnly.1)" }
        #expect(viaUTP?["reachable"] == .bool(true) && viaUTP?["transport"]?.stringValue == "utp", "\(viaUTP.map { "\($0)" } ?? "missing")")
        // libtorrent with TCP off still accepts a TCP connection, then hangs up on it.
        let firstAttempt = viaUTP?["attempts"]?.arrayValue?.first
        #expect(firstAttempt?["transport"]?.stringValue == "tcp" && firstAttempt?["ok"] == .bool(false), "TCP failed first: \(firstAttempt ?? .null)")
        let viaRC4 = peers.first { $0["addr"]?.stringValue == "\(encrypted.0):\(encrypted.1)" }
        #expect(viaRC4?["reachable"] == .bool(true) && viaRC4?["encryption"]?.stringValue == "rc4", "\(viaRC4.map { "\($0)" } ?? "missing")")
        #expect(viaRC4?["encryption_required"] == .bool(true))
        #expect(viaRC4?["client"]?.stringValue?.contains("libtorrent") == true)
        #expect(report["summary"]?["utp_only"]?.intValue == 1 && report["summary"]?["encryption_required"]?.intValue == 1, "\(report["summary"] ?? .null)")
    }
}
