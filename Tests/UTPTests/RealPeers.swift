import Foundation
import TestSupport

/// libtorrent and Transmission with uTP on, for interop tests (each on its own loopback address).
enum UTPRealPeers {
    /// libtorrent seeding with default transport settings (uTP and TCP in and out), or uTP only.
    static func libtorrentSeeder(torrent: String, dataFolder: String, host: String, port: Int, tcp: Bool) throws -> ManagedProcess {
        let script = """
        import sys, time, libtorrent as lt
        s = {'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
             'listen_interfaces': sys.argv[1], 'alert_mask': 0, 'allow_multiple_connections_per_ip': True}
        if sys.argv[4] == 'utp-only':
            s.update({'enable_incoming_tcp': False, 'enable_outgoing_tcp': False})
        ses = lt.session(s)
        h = ses.add_torrent({'ti': lt.torrent_info(sys.argv[2]), 'save_path': sys.argv[3]})
        while True:
            st = h.status()
            print('state', st.state, 'seeding' if st.is_seeding else '', flush=True)
            for p in h.get_peer_info():
                print('peer', p.ip[0], 'utp' if p.flags & (1 << 17) else 'tcp', flush=True)
            time.sleep(0.3)
        """
        return try ManagedProcess(RealTools.systemPython, ["-u", "-c", script, "\(host):\(port)", torrent, dataFolder, tcp ? "default" : "utp-only"],
                                  label: "libtorrent-utp-seed")
    }

    /// Waits until a process's output contains `text`.
    static func waitForOutput(_ process: ManagedProcess, _ text: String, timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if process.log.contains(text) { return true }
            if !process.isRunning { return false }
            usleep(50_000)
        }
        return false
    }

    /// transmission-daemon 3.00 with uTP on, seeding `torrent` from `dataFolder`.
    static func transmissionSeeder(daemon: String, torrent: String, dataFolder: String, configFolder: String,
                                   host: String, port: Int, rpcPort: Int) throws -> ManagedProcess {
        try FileManager.default.createDirectory(atPath: configFolder, withIntermediateDirectories: true)
        let settings = """
        {"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": true,
         "port-forwarding-enabled": false, "peer-port": \(port), "peer-port-random-on-start": false,
         "bind-address-ipv4": "\(host)", "bind-address-ipv6": "::1", "rpc-enabled": true, "rpc-port": \(rpcPort),
         "rpc-bind-address": "127.0.0.1", "rpc-whitelist-enabled": false, "rpc-authentication-required": false,
         "download-dir": "\(dataFolder)", "incomplete-dir-enabled": false, "watch-dir-enabled": false,
         "encryption": 1, "ratio-limit-enabled": false, "speed-limit-up-enabled": false, "message-level": 1,
         "start-added-torrents": true, "cache-size-mb": 4}
        """
        try settings.write(toFile: (configFolder as NSString).appendingPathComponent("settings.json"), atomically: true, encoding: .utf8)
        let process = try ManagedProcess(daemon, ["-f", "-g", configFolder], label: "transmission-utp")
        let remote = "/usr/bin/transmission-remote"
        var deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if runCommand(remote, ["127.0.0.1:\(rpcPort)", "-a", torrent], timeout: 10).status == 0 { break }
            usleep(200_000)
        }
        deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if runCommand(remote, ["127.0.0.1:\(rpcPort)", "-l"], timeout: 10).output.contains("100%") { break }
            usleep(200_000)
        }
        return process
    }
}
