import Foundation
import TestSupport

/// libtorrent and Transmission with uTP on, for interop tests (each on its own loopback address).
enum UTPRealPeers {
    /// libtorrent seeding with default transport settings (uTP and TCP in and out), or uTP only, on `host`
    /// and the port it reports (`port` of the process; uTP and TCP on the same number).
    static func libtorrentSeeder(torrent: String, dataFolder: String, host: String, tcp: Bool) throws -> ManagedProcess {
        let script = """
        import sys, time, libtorrent as lt
        s = {'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
             'listen_interfaces': sys.argv[1], 'alert_mask': 0, 'allow_multiple_connections_per_ip': True}
        if sys.argv[4] == 'utp-only':
            s.update({'enable_incoming_tcp': False, 'enable_outgoing_tcp': False})
        ses = lt.session(s)
        \(Seeders.libtorrentReportPort)
        h = ses.add_torrent({'ti': lt.torrent_info(sys.argv[2]), 'save_path': sys.argv[3]})
        while True:
            st = h.status()
            print('state', st.state, 'seeding' if st.is_seeding else '', flush=True)
            for p in h.get_peer_info():
                print('peer', p.ip[0], 'utp' if p.flags & (1 << 17) else 'tcp', flush=True)
            time.sleep(0.3)
        """
        let process = try ManagedProcess(RealTools.systemPython, ["-u", "-c", script, "\(host):0", torrent, dataFolder, tcp ? "default" : "utp-only"],
                                         label: "libtorrent-utp-seed")
        _ = try process.reportedPort()
        return process
    }

    /// transmission-daemon 3.00 with uTP on, seeding `torrent` from `dataFolder` (peer port: `port` of the process).
    static func transmissionSeeder(daemon: String, torrent: String, dataFolder: String, configFolder: String,
                                   host: String) throws -> ManagedProcess {
        try Seeders.transmissionSeeder(daemon: daemon, torrent: torrent, dataFolder: dataFolder, configFolder: configFolder, host: host,
                                       utp: true, label: "transmission-utp")
    }
}
