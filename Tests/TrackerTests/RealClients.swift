import Foundation
import TestSupport

/// libtorrent for the tracker interop tests: logs its tracker alerts and announces to every tier,
/// which the UDP-tier checks need (aria2 comes from `Seeders` in TestSupport).
enum RealClients {
    /// libtorrent (system Python binding) seeding, or downloading until complete, for at most `seconds`,
    /// on `address` and the port it reports (`port` of the process).
    static func libtorrent(_ mode: String, torrent: String, folder: String, address: String,
                           seconds: Int, scratch: TemporaryDirectory) throws -> ManagedProcess {
        guard RealTools.libtorrent else { throw RealToolError.missing("python3-libtorrent") }
        let script = scratch.write("lt_client.py", Array(libtorrentScript.utf8))
        let process = try ManagedProcess(RealTools.systemPython, [script, torrent, folder, "\(address):0", mode, String(seconds)],
                                         label: "libtorrent")
        _ = try process.reportedPort()
        return process
    }

    static let libtorrentScript = """
    import libtorrent as lt, sys, time
    torrent, save, iface, mode, seconds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
    ses = lt.session({'listen_interfaces': iface, 'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False,
                    'enable_natpmp': False, 'enable_outgoing_utp': False, 'enable_incoming_utp': False,
                    'allow_multiple_connections_per_ip': True, 'announce_to_all_trackers': True,
                    'announce_to_all_tiers': True, 'alert_mask': lt.alert.category_t.all_categories})
    s = ses
    \(Seeders.libtorrentReportPort)
    params = {'ti': lt.torrent_info(torrent), 'save_path': save}
    if mode == 'seed':
        params['flags'] = lt.torrent_flags.seed_mode
    h = s.add_torrent(params)
    end = time.time() + seconds
    while time.time() < end:
        for a in s.pop_alerts():
            if isinstance(a, (lt.tracker_reply_alert, lt.tracker_error_alert, lt.peer_connect_alert, lt.torrent_finished_alert)):
                print(type(a).__name__, a.message(), flush=True)
        if mode == 'download' and h.status().is_seeding:
            print('COMPLETE', flush=True)
            break
        time.sleep(0.2)
    print('STATE', h.status().state, h.status().progress, flush=True)
    """
}
