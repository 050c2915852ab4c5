import Foundation
import Metainfo

/// Real BitTorrent clients run as seeders or downloaders on loopback for interop tests,
/// each on its own address (libtorrent 127.0.0.2, aria2 127.0.0.3, Transmission 127.0.0.4).
/// Every one is a `ManagedProcess`, stopped by pid.
public enum Seeders {
    /// The last `transmission-remote -l` output seen (for failure messages).
    nonisolated(unsafe) public static var transmissionListing = ""
    /// A data file and its torrent in `directory`: `name` of `size` pseudo-random bytes.
    public static func makeTorrent(in directory: TemporaryDirectory, name: String = "data.bin", size: Int, pieceLength: Int = 256 * 1024,
                                   seed: UInt64 = 7, trackers: [String] = []) throws -> (data: String, torrent: String, bytes: [UInt8]) {
        let bytes = pseudoRandomBytes(count: size, seed: seed)
        let data = directory.write("seed/\(name)", bytes)
        var options = TorrentCreator.Options()
        options.pieceLength = pieceLength
        options.trackerTiers = trackers.map { [$0] }
        let torrentBytes = try TorrentCreator(options: options).create(path: data)
        let torrent = directory.write("\(name).torrent", torrentBytes)
        return (data, torrent, bytes)
    }

    static let libtorrentSettings = """
    s = {'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
         'enable_outgoing_utp': False, 'enable_incoming_utp': False, 'listen_interfaces': sys.argv[1],
         'alert_mask': 0, 'allow_multiple_connections_per_ip': True, 'outgoing_interfaces': sys.argv[1].rsplit(':', 1)[0]}
    ses = lt.session(s)
    \(libtorrentReportPort)
    """

    /// Python lines for a libtorrent session `ses` started on port 0 (`listen_interfaces` "host:0"): print the
    /// port it bound — TCP, and uTP on the same number — as `listening <port>` (`ManagedProcess.reportedPort`).
    /// Alerts are off in these sessions, so the port is polled for, with a deadline.
    public static let libtorrentReportPort = """
    listen_deadline = time.time() + 20
    while ses.listen_port() == 0 and time.time() < listen_deadline:
        time.sleep(0.01)
    print('listening', ses.listen_port(), flush=True)
    """

    /// libtorrent (Python binding) seeding `torrent` from the folder holding `data`, on `host` and the port
    /// it reports (`port` of the process). `uploadLimit` (bytes/s) slows it down, loopback included, so other
    /// seeders get a share.
    public static func libtorrentSeeder(torrent: String, dataFolder: String, host: String = "127.0.0.2",
                                        uploadLimit: Int? = nil) throws -> ManagedProcess {
        let limit = uploadLimit.map { "ses.apply_settings({'upload_rate_limit': \($0), 'ignore_limits_on_local_network': False})" } ?? ""
        let script = """
        import sys, time, libtorrent as lt
        \(libtorrentSettings)
        \(limit)
        ti = lt.torrent_info(sys.argv[2])
        h = ses.add_torrent({'ti': ti, 'save_path': sys.argv[3], 'flags': lt.torrent_flags.seed_mode if False else 0})
        while True:
            st = h.status()
            print('state', st.state, st.progress, flush=True)
            time.sleep(0.5)
        """
        let process = try ManagedProcess(RealTools.systemPython, ["-u", "-c", script, "\(host):0", torrent, dataFolder], label: "libtorrent-seed")
        _ = try process.reportedPort()
        return process
    }

    /// libtorrent downloading `torrent` into `saveFolder` from the peer at `peer`, from `host` (any port); exits 0 when complete.
    public static func libtorrentDownload(torrent: String, saveFolder: String, peer: String, peerPort: Int,
                                          host: String = "127.0.0.2", timeout: Double = 90) -> (status: Int32, output: String) {
        let script = """
        import sys, time, libtorrent as lt
        \(libtorrentSettings)
        ti = lt.torrent_info(sys.argv[2])
        h = ses.add_torrent({'ti': ti, 'save_path': sys.argv[3]})
        h.connect_peer((sys.argv[4], int(sys.argv[5])))
        deadline = time.time() + float(sys.argv[6])
        last = 0
        while time.time() < deadline:
            st = h.status()
            if st.is_seeding or st.progress >= 1.0:
                print('complete', st.total_download, flush=True)
                sys.exit(0)
            if time.time() - last > 2:
                last = time.time()
                print('progress', st.state, st.progress, st.num_peers, flush=True)
                if st.num_peers == 0:
                    h.connect_peer((sys.argv[4], int(sys.argv[5])))
            time.sleep(0.1)
        print('timeout', h.status().progress, flush=True)
        sys.exit(3)
        """
        return runCommand(RealTools.systemPython, ["-u", "-c", script, "\(host):0", torrent, saveFolder, peer, String(peerPort), String(timeout)],
                          timeout: timeout + 30)
    }

    /// aria2c seeding `torrent` from `dataFolder` (it checks the data, then seeds for ever) on `host` and a port
    /// it is checked to own (`port` of the process).
    /// `uploadLimit`: bytes per second (aria2's --max-overall-upload-limit), nil for none.
    public static func aria2Seeder(aria2c: String, torrent: String, dataFolder: String, host: String = "127.0.0.3",
                                   uploadLimit: Int? = nil) throws -> ManagedProcess {
        try startListening("aria2c seeding", host: host, uses: [.tcp]) { ports in
            try ManagedProcess(aria2c, [
                "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
                "--seed-ratio=0.0", "--check-integrity=true", "--bt-seed-unverified=false", "--interface=\(host)",
                "--listen-port=\(ports[0])", "--dir=\(dataFolder)", "--console-log-level=warn", "--summary-interval=0",
                "--bt-external-ip=\(host)", "--bt-require-crypto=false",
                "--max-overall-upload-limit=\(uploadLimit ?? 0)", torrent,
            ], label: "aria2c-seed")
        }
    }

    /// aria2c downloading `torrent` into `saveFolder`, finding peers through the HTTP tracker `tracker`
    /// (aria2 cannot be pointed at a peer directly); exits when complete.
    /// Its own listening port is checked like a seeder's (`startListening`): it must listen to be found.
    public static func aria2Download(aria2c: String, torrent: String, saveFolder: String, tracker: String,
                                     host: String = "127.0.0.3", timeout: Double = 90) -> (status: Int32, output: String) {
        let process: ManagedProcess
        do {
            process = try startListening("aria2c downloading", host: host, uses: [.tcp], finishesOnItsOwn: true) { ports in
                try ManagedProcess(aria2c, [
                    "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
                    "--seed-time=0", "--interface=\(host)", "--listen-port=\(ports[0])", "--dir=\(saveFolder)",
                    "--bt-tracker=\(tracker)", "--bt-stop-timeout=\(Int(timeout))", "--console-log-level=warn",
                    "--summary-interval=0", "--allow-overwrite=true", "--auto-file-renaming=false", torrent,
                ], label: "aria2c-download")
            }
        } catch {
            return (-1, "\(error)")
        }
        guard let status = process.wait(timeout: timeout + 30) else {
            process.stop()
            return (-1, process.log + "\n(timed out after \(timeout + 30) s)")
        }
        return (status, process.log)
    }

    /// Transmission 3 seeding `torrent` from `dataFolder`; its peer port on `host`. With `seeding` false
    /// it starts with an empty `dataFolder` and leeches instead (it is not waited for). `encryption` is its
    /// setting (0 allow, 1 prefer, 2 require); `utp` turns its uTP on. Its ports are checked to be its own
    /// (`startListening`): `ports[0]` (`port`) the peer port, `ports[1]` the RPC port on 127.0.0.1.
    public static func transmissionSeeder(daemon: String, torrent: String, dataFolder: String, configFolder: String,
                                          host: String = "127.0.0.4", seeding: Bool = true,
                                          encryption: Int = 1, utp: Bool = false, label: String = "transmission") throws -> ManagedProcess {
        try FileManager.default.createDirectory(atPath: configFolder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dataFolder, withIntermediateDirectories: true)
        let watch = (configFolder as NSString).appendingPathComponent("watch")
        try FileManager.default.createDirectory(atPath: watch, withIntermediateDirectories: true)
        let process = try startListening(label, host: host, uses: [utp ? .tcpAndUDP : .tcp, .tcp]) { ports in
            let (port, rpcPort) = (ports[0], ports[1])
            let settings = """
            {"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": \(utp),
             "port-forwarding-enabled": false, "peer-port": \(port), "peer-port-random-on-start": false,
             "bind-address-ipv4": "\(host)", "bind-address-ipv6": "::1", "rpc-enabled": true, "rpc-port": \(rpcPort),
             "rpc-bind-address": "127.0.0.1", "rpc-whitelist-enabled": false, "rpc-authentication-required": false,
             "download-dir": "\(dataFolder)", "incomplete-dir-enabled": false, "watch-dir-enabled": false,
             "encryption": \(encryption), "ratio-limit-enabled": false, "speed-limit-up-enabled": false, "message-level": 1,
             "start-added-torrents": true, "cache-size-mb": 4}
            """
            try settings.write(toFile: (configFolder as NSString).appendingPathComponent("settings.json"), atomically: true, encoding: .utf8)
            return try ManagedProcess(daemon, ["-f", "-g", configFolder], label: label)
        }
        // Add the torrent over RPC (it listens, so it answers), then wait until it has verified the data.
        let remote = "/usr/bin/transmission-remote", rpc = "127.0.0.1:\(process.ports[1])"
        let added = runCommand(remote, [rpc, "-a", torrent], timeout: 20)
        guard added.status == 0 else { throw RealToolError.failed("Transmission refused the torrent: \(added.output)\n\(process.log)") }
        if seeding {
            // Verified and seeding shows as 100% in its list; the list is re-read until then (no event to wait on).
            waitUntil(timeout: 30, poll: 0.2) {
                transmissionListing = runCommand(remote, [rpc, "-l"], timeout: 10).output
                return transmissionListing.contains("100%")
            }
        }
        return process
    }

    /// qBittorrent (qbittorrent-nox, libtorrent inside) seeding `torrent` from `dataFolder` on `host:port`,
    /// with DHT, LSD, PEX and UPnP off; the torrent is added over its web API and this returns once it
    /// says it seeds (its port listens before the torrent is loaded, and until then it hangs up on peers).
    /// Its peer port (`port`) and web UI port are checked to be its own (`startListening`).
    public static func qBittorrentSeeder(torrent: String, dataFolder: String, profile: String, host: String) throws -> ManagedProcess {
        guard RealTools.ensure("qbittorrent-nox", probe: "/usr/bin/qbittorrent-nox") else { throw RealToolError.missing("qbittorrent-nox") }
        try FileManager.default.createDirectory(atPath: profile + "/qBittorrent/config", withIntermediateDirectories: true)
        let process = try startListening("qBittorrent", host: host, uses: [.tcp, .tcp]) { ports in
            let (port, webPort) = (ports[0], ports[1])
            let config = """
            [LegalNotice]
            Accepted=true

            [BitTorrent]
            Session\\Port=\(port)
            Session\\InterfaceAddress=\(host)
            Session\\DHTEnabled=false
            Session\\LSDEnabled=false
            Session\\PeXEnabled=false

            [Preferences]
            WebUI\\Port=\(webPort)
            WebUI\\LocalHostAuth=false
            WebUI\\Address=127.0.0.1
            Connection\\UPnP=false
            """
            try config.write(toFile: profile + "/qBittorrent/config/qBittorrent.conf", atomically: true, encoding: .utf8)
            return try ManagedProcess("/usr/bin/qbittorrent-nox", ["--profile=\(profile)"], label: "qbittorrent")
        }
        let webPort = process.ports[1]
        let added = runCommand("/usr/bin/curl", ["-s", "-F", "torrents=@\(torrent)", "-F", "savepath=\(dataFolder)",
                                                "-F", "skip_checking=true", "http://127.0.0.1:\(webPort)/api/v2/torrents/add"], timeout: 20)
        guard added.output.contains("Ok") else { throw RealToolError.failed("qBittorrent refused the torrent: \(added.output)") }
        // Its torrent list is re-read until it says it seeds (no event to wait on).
        var state = ""
        let seeding = waitUntil(timeout: 30, poll: 0.2) {
            state = runCommand("/usr/bin/curl", ["-s", "http://127.0.0.1:\(webPort)/api/v2/torrents/info"], timeout: 10).output
            return state.contains("UP\"") || state.contains("\"uploading\"")
        }
        if seeding { return process }
        process.stop()
        throw RealToolError.failed("qBittorrent never reported seeding: \(state)")
    }

    /// ctorrent (plain BEP 3) seeding the single file `dataFile` of `torrent` on `host` and a port it is checked
    /// to own (`port` of the process).
    public static func ctorrentSeeder(torrent: String, dataFile: String, host: String) throws -> ManagedProcess {
        guard RealTools.ensure("ctorrent", probe: "/usr/bin/ctorrent") else { throw RealToolError.missing("ctorrent") }
        return try startListening("ctorrent", host: host, uses: [.tcp]) { ports in
            try ManagedProcess("/usr/bin/ctorrent", ["-e", "1", "-i", host, "-p", String(ports[0]), "-s", dataFile, torrent], label: "ctorrent")
        }
    }
}
