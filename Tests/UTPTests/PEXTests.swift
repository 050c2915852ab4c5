import Foundation
import Testing
import TestSupport

/// PEX (BEP 11) with libtorrent: tt learns peers from a libtorrent seeder's ut_pex, and a libtorrent
/// peer learns from tt's ut_pex a peer it was never told about.
@Suite(.serialized) struct PEXTests {
    /// Several libtorrent sessions in one process: "S" seeds, "L1"…"L3" leech from S, "X" knows nobody.
    /// Uploads are rate-limited (also on loopback) so the swarm stays connected for the test. The
    /// leechers never dial out (S dials them): otherwise they dial tt first, having learned it from S.
    /// Each session listens on its host's port 0; once all have bound, the script prints `address NAME HOST:PORT`
    /// for each, then `ready`.
    static let swarmScript = """
    import sys, time, tempfile, libtorrent as lt
    torrent, data = sys.argv[1], sys.argv[2]
    names = sys.argv[3].split(',')
    hosts = sys.argv[4].split(',')
    sessions = {}
    for name, host in zip(names, hosts):
        settings = {'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
                    'listen_interfaces': host + ':0', 'alert_mask': 0, 'allow_multiple_connections_per_ip': True,
                    'upload_rate_limit': 200000, 'ignore_limits_on_local_network': False,
                    'outgoing_interfaces': host}
        if name.startswith('L'):
            settings.update({'enable_outgoing_utp': False, 'enable_outgoing_tcp': False})
        ses = lt.session(settings)
        h = ses.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': data if name == 'S' else tempfile.mkdtemp()})
        sessions[name] = (ses, h)
    # Every session has bound its port (alerts are off: polled, with a deadline) before S dials the leechers.
    deadline = time.time() + 30
    while any(ses.listen_port() == 0 for ses, _ in sessions.values()) and time.time() < deadline:
        time.sleep(0.01)
    for name, host in zip(names, hosts):
        port = sessions[name][0].listen_port()
        print('address', name, '%s:%d' % (host, port), flush=True)
        if name.startswith('L'):
            sessions['S'][1].connect_peer((host, port))
    print('ready', flush=True)
    while True:
        for name in names:
            if sessions[name][1].status().total_payload_download > 0:
                print('receiving', name, flush=True)
            for p in sessions[name][1].get_peer_info():
                src = 'pex' if p.source & lt.peer_info.pex else 'other'
                print('peer', name, '%s:%d' % (p.ip[0], p.ip[1]), src, flush=True)
        time.sleep(0.3)
    """

    @Test func ttLearnsFromLibtorrentAndLibtorrentLearnsFromTT() throws {
        guard RealTools.libtorrent else {
            withKnownIssue("python3-libtorrent is not installed") { Issue.record("no libtorrent") }
            return
        }
        let directory = TemporaryDirectory("tt-pex")
        let (_, torrent, _) = try Seeders.makeTorrent(in: directory, size: 32 << 20, pieceLength: 256 * 1024)
        let names = ["S", "L1", "L2", "L3", "X"]
        let hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.7", "127.0.0.8", "127.0.0.9"]
        let swarm = try ManagedProcess(RealTools.systemPython, ["-u", "-c", Self.swarmScript, torrent, directory.file("seed"),
                                                                 names.joined(separator: ","), hosts.joined(separator: ",")],
                                       label: "libtorrent-pex-swarm")
        defer { swarm.stop() }
        try #require(swarm.waitForOutput("ready", timeout: 60), "\(swarm.log)")
        // The address each session reported, in the order of `names`.
        let reported = Dictionary(swarm.log.split(separator: "\n").compactMap { line -> (String, String)? in
            let words = line.split(separator: " ")
            return words.count == 3 && words[0] == "address" ? (String(words[1]), String(words[2])) : nil
        }) { first, _ in first }
        let addresses = try names.map { name in try #require(reported[name], "no address for \(name): \(swarm.log)") }
        // The leechers are receiving from S (well past their handshakes) before tt arrives: libtorrent
        // sends a new peer its list once, then once a minute, and leaves out peers still connecting.
        for name in names[1...3] { #expect(swarm.waitForOutput("receiving \(name)", timeout: 30), "\(swarm.log)") }
        let tt = try ManagedProcess(ttExecutable, ["download", torrent, "-o", directory.file("out"), "--no-trackers", "--json",
                                                   "--bind", "127.0.0.10", "--peer", addresses[0], "--peer", addresses[4]],
                                    label: "tt-download")
        defer { tt.stop() }
        // tt connects to the leechers S told it about, and says where it learned them.
        var fromPEX: Set<String> = []
        waitUntil(timeout: 30, poll: 0.1) {
            for event in tt.events where event["event"]?.stringValue == "peer_connected" && event["source"]?.stringValue == "pex" {
                if let ip = event["ip"]?.stringValue, hosts[1...3].contains(ip) { fromPEX.insert(ip) }
            }
            return fromPEX.count == 3
        }
        #expect(fromPEX == Set(hosts[1...3]), "\(tt.log)")
        // S learns X (which only tt knows) from tt's PEX, and connects to it.
        #expect(swarm.waitForOutput("peer S \(hosts[4])", timeout: 30) || swarm.waitForOutput("peer X \(hosts[0])", timeout: 1),
                "\(swarm.log.suffix(3000))")
        let learned = swarm.log.split(separator: "\n").contains { $0.hasPrefix("peer S \(hosts[4])") && $0.hasSuffix("pex") }
        #expect(learned, "S never listed X as learned from PEX")
    }
}
