import Foundation
import TestSupport

/// Real clients that accept only encrypted connections (MSE/PE with RC4), each on its own
/// loopback address: libtorrent 127.0.14.2, aria2 127.0.14.3, Transmission 127.0.14.4.
enum EncryptedPeers {
    static let libtorrentScript = """
    import sys, time, libtorrent as lt
    level = {'rc4': lt.enc_level.rc4, 'both': lt.enc_level.both}[sys.argv[4]]
    s = {'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
         'enable_outgoing_utp': False, 'enable_incoming_utp': False, 'listen_interfaces': sys.argv[1],
         'alert_mask': 0, 'allow_multiple_connections_per_ip': True, 'outgoing_interfaces': sys.argv[1].rsplit(':', 1)[0],
         'in_enc_policy': lt.enc_policy.forced, 'out_enc_policy': lt.enc_policy.forced,
         'allowed_enc_level': level, 'prefer_rc4': True}
    ses = lt.session(s)
    \(Seeders.libtorrentReportPort)
    ti = lt.torrent_info(sys.argv[2])
    h = ses.add_torrent({'ti': ti, 'save_path': sys.argv[3]})
    if len(sys.argv) > 5:
        h.connect_peer((sys.argv[5], int(sys.argv[6])))
    deadline = time.time() + 120
    last = 0
    said = False
    seen = set()
    while len(sys.argv) > 5 or not said:
        st = h.status()
        for p in h.get_peer_info():
            seen.add((p.ip[0], p.flags & lt.peer_info.rc4_encrypted != 0))
        if st.is_seeding or st.progress >= 1.0:
            print('complete', st.total_download, flush=True)
            said = True
            if len(sys.argv) > 5:
                print('peers', sorted(seen), flush=True)
                sys.exit(0)
        if len(sys.argv) > 5 and time.time() - last > 2:
            last = time.time()
            print('progress', st.state, st.progress, st.num_peers, flush=True)
            if st.num_peers == 0:
                h.connect_peer((sys.argv[5], int(sys.argv[6])))
        time.sleep(0.1)
        if time.time() > deadline:
            sys.exit(3)
    while True:
        time.sleep(1)
    """

    /// libtorrent with in/out policy forced and `allowed_enc_level` rc4 or both; seeds `dataFolder` on `host`
    /// and the port it reports (`port` of the process).
    static func libtorrentSeeder(torrent: String, dataFolder: String, level: String,
                                 host: String = "127.0.14.2") throws -> ManagedProcess {
        let process = try ManagedProcess(RealTools.systemPython, ["-u", "-c", libtorrentScript, "\(host):0", torrent, dataFolder, level],
                                         label: "libtorrent-forced-\(level)")
        _ = try process.reportedPort()
        return process
    }

    /// libtorrent (forced encryption) downloading from one peer, from `host` (any port); exits 0 when complete.
    static func libtorrentDownload(torrent: String, saveFolder: String, peer: String, peerPort: Int,
                                   host: String = "127.0.14.2") -> (status: Int32, output: String) {
        runCommand(RealTools.systemPython, ["-u", "-c", libtorrentScript, "\(host):0", torrent, saveFolder, "rc4", peer, String(peerPort)],
                   timeout: 150)
    }

    /// Waits until the libtorrent seeder says it is seeding (it refuses MSE for a torrent still loading).
    static func waitUntilSeeding(_ seeder: ManagedProcess, timeout: Double = 30) -> Bool {
        seeder.waitForOutput("complete", timeout: timeout)
    }

    static func aria2Arguments(host: String, port: Int, folder: String) -> [String] {
        ["--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
         "--interface=\(host)", "--listen-port=\(port)", "--dir=\(folder)", "--console-log-level=warn", "--summary-interval=0",
         "--bt-external-ip=\(host)", "--bt-require-crypto=true", "--bt-min-crypto-level=arc4"]
    }

    /// aria2c with `--bt-require-crypto=true --bt-min-crypto-level=arc4`, seeding on a port it is checked
    /// to own (`port` of the process).
    static func aria2Seeder(aria2c: String, torrent: String, dataFolder: String,
                            host: String = "127.0.14.3", tracker: String? = nil) throws -> ManagedProcess {
        try startListening("aria2c seeding (crypto required)", host: host, uses: [.tcp]) { ports in
            try ManagedProcess(aria2c, aria2Arguments(host: host, port: ports[0], folder: dataFolder) + [
                "--seed-ratio=0.0", "--check-integrity=true", "--bt-seed-unverified=false",
            ] + (tracker.map { ["--bt-tracker=\($0)"] } ?? []) + [torrent], label: "aria2c-require-crypto")
        }
    }

    /// aria2c (crypto required) downloading, finding peers through `tracker`; its own port checked like a seeder's.
    static func aria2Download(aria2c: String, torrent: String, saveFolder: String, tracker: String,
                              host: String = "127.0.14.3") -> (status: Int32, output: String) {
        let process: ManagedProcess
        do {
            process = try startListening("aria2c downloading (crypto required)", host: host, uses: [.tcp], finishesOnItsOwn: true) { ports in
                try ManagedProcess(aria2c, aria2Arguments(host: host, port: ports[0], folder: saveFolder) + [
                    "--seed-time=0", "--bt-tracker=\(tracker)", "--bt-stop-timeout=90", "--allow-overwrite=true",
                    "--auto-file-renaming=false", torrent,
                ], label: "aria2c-download-require-crypto")
            }
        } catch {
            return (-1, "\(error)")
        }
        guard let status = process.wait(timeout: 150) else {
            process.stop()
            return (-1, process.log + "\n(timed out after 150 s)")
        }
        return (status, process.log)
    }

    /// transmission-daemon with `"encryption": 2` (required). Returns once the torrent is added and,
    /// when `seeding`, verified at 100 %. `port` of the process is its peer port, `ports[1]` its RPC port.
    static func transmission(daemon: String, torrent: String, dataFolder: String, configFolder: String,
                             seeding: Bool, host: String = "127.0.14.4") throws -> ManagedProcess {
        try Seeders.transmissionSeeder(daemon: daemon, torrent: torrent, dataFolder: dataFolder, configFolder: configFolder, host: host,
                                       seeding: seeding, encryption: 2, label: "transmission-encryption-2")
    }

    /// Transmission's progress line for the torrent (`transmission-remote -l`).
    static func transmissionListing(rpcPort: Int) -> String {
        runCommand("/usr/bin/transmission-remote", ["127.0.0.1:\(rpcPort)", "-l"], timeout: 10).output
    }
}
