import DHT
import Foundation
import JSON
import Metainfo
import Testing
import TestSupport

/// `download` and `seed` with the DHT, against libtorrent and aria2 on loopback: the DHT is the
/// only way the peers can find each other (no tracker, no x.pe, no --peer).
@Suite(.serialized) struct DHTSwarmTests {
    let state = TemporaryDirectory("tt-dht-swarm-state")
    var variables: [String: String] { ["XDG_STATE_HOME": state.path] }

    static let libtorrentDownloadScript = """
    import sys, time, libtorrent as lt
    host, contact, torrent, save = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    s = {'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
         'listen_interfaces': host + ':0', 'dht_bootstrap_nodes': '',
         'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
         'enable_outgoing_utp': False, 'enable_incoming_utp': False,
         'alert_mask': 0, 'outgoing_interfaces': host}
    ses = lt.session(s)
    h, p = contact.rsplit(':', 1)
    ses.add_dht_node((h, int(p)))
    if torrent.startswith('magnet:'):
        atp = lt.parse_magnet_uri(torrent); atp.save_path = save
    else:
        atp = lt.add_torrent_params(); atp.ti = lt.torrent_info(torrent); atp.save_path = save
    handle = ses.add_torrent(atp)
    start = time.time(); first = None; last = 0
    while time.time() - start < float(sys.argv[5]):
        st = handle.status()
        if first is None and st.num_peers > 0:
            first = time.time() - start
            print('first_peer', first, flush=True)
        if st.is_seeding:
            print('complete', time.time() - start, flush=True)
            sys.exit(0)
        if time.time() - last > 1:
            last = time.time()
            handle.force_dht_announce()
            print('progress', st.state, st.progress, st.num_peers, flush=True)
        time.sleep(0.05)
    print('timeout', flush=True)
    sys.exit(3)
    """

    @Test func trackerlessMagnetDownloadsFromALibtorrentSeederFoundThroughAChainOfLibtorrentNodes() throws {
        guard RealTools.libtorrent else { withKnownIssue("libtorrent's Python binding is not available") { Issue.record("missing") }; return }
        let directory = TemporaryDirectory("tt-dht-magnet")
        let made = try Seeders.makeTorrent(in: directory, size: 2_000_000, seed: 21)
        let first = try DHTHelpers.libtorrentNode(host: "127.0.0.2", contacts: [])
        defer { first.stop() }
        let middle = try DHTHelpers.libtorrentNode(host: "127.0.0.3", contacts: ["127.0.0.2:\(first.port)"])
        defer { middle.stop() }
        let seeder = try DHTHelpers.libtorrentNode(host: "127.0.0.4", contacts: ["127.0.0.3:\(middle.port)"],
                                                   torrent: made.torrent, saveFolder: directory.file("seed"))
        defer { seeder.stop() }
        let ports = [first.port, middle.port, seeder.port]
        let hash = try JSONParser().parse(CLI.run(["info", "--json", made.torrent]).stdout)["info_hash"]!.stringValue!
        // Wait until the seeder's announce reached the DHT (an event of the network, with a deadline).
        let contact = "127.0.0.2:\(ports[0])"
        let (_, seen) = DHTHelpers.retryCLI(["dht", "get-peers", hash, "--bootstrap", contact, "--json", "--no-state", "--timeout", "10"],
                                            timeout: 60) { ($0["peers"]?.arrayValue?.count ?? 0) > 0 }
        #expect((seen?["peers"]?.arrayValue?.count ?? 0) > 0, "\(seeder.log.suffix(400))")
        let magnet = "magnet:?xt=urn:btih:\(hash)"
        let result = CLI.run(["download", magnet, "-o", directory.file("out"), "--dht-bootstrap", contact, "--json", "--stall-timeout", "30"],
                             variables: variables)
        #expect(result.code == 0, "\(result.stderr)\n\(result.stdoutText.suffix(1500))")
        #expect(readBytes(directory.file("out/data.bin")) == made.bytes)
        let events = result.stdoutText.split(separator: "\n").compactMap { try? JSONParser().parse(Array($0.utf8)) }
        let connected = events.filter { $0["event"]?.stringValue == "peer_connected" }
        // We dial the seeder we found (source dht), unless it dialled us first — it finds us through
        // our announce_peer, and under load it can win: then the connection is incoming from its address.
        // Either way only the DHT could have brought the two together (no tracker, no --peer; see below).
        #expect(connected.contains {
            ($0["addr"]?.stringValue == "127.0.0.4:\(ports[2])" && $0["source"]?.stringValue == "dht")
                || ($0["addr"]?.stringValue?.hasPrefix("127.0.0.4:") == true && $0["source"]?.stringValue == "incoming")
        }, "\(connected)")
        // Without the DHT the same magnet has no way to find a peer.
        let without = CLI.run(["download", magnet, "-o", directory.file("out2"), "--no-dht"], variables: variables)
        #expect(without.code == 69, "\(without.stderr)")
    }

    @Test func libtorrentAndAria2DownloadATorrentOnlyTTSeedHasThroughItsDHTNode() throws {
        let directory = TemporaryDirectory("tt-dht-seed")
        let made = try Seeders.makeTorrent(in: directory, size: 1_500_000, seed: 22)
        let seed = try ManagedProcess(ttExecutable, ["seed", made.torrent, made.data, "--bind", "127.0.0.1", "--port", "0",
                                                     "--no-announce", "--json", "-v"],
                                      label: "tt seed", environment: ["TT_DHT_LOOPBACK_ONLY": "1", "XDG_STATE_HOME": state.path])
        defer { seed.stop() }
        // Its DHT node is on the UDP port of the peer port's number.
        let port = try seed.listeningPort()
        #expect(seed.waitForOutput("DHT node", timeout: 10), "\(seed.log)")
        let contact = "127.0.0.1:\(port)"
        if RealTools.libtorrent {
            let result = runCommand(RealTools.systemPython, ["-u", "-c", Self.libtorrentDownloadScript, "127.0.0.5",
                                                             contact, made.torrent, directory.file("lt"), "60"], timeout: 90)
            #expect(result.status == 0, "\(result.output.suffix(600))\n\(seed.log.suffix(600))")
            #expect(readBytes(directory.file("lt/data.bin")) == made.bytes)
        } else {
            withKnownIssue("libtorrent's Python binding is not available") { Issue.record("missing") }
        }
        if let aria2c = RealTools.aria2c {
            // aria2's DHT (UDP) and peer (TCP) ports are checked to be its own; then it runs to completion.
            let aria = try startListening("aria2c with DHT", host: "127.0.0.6", uses: [.udp, .tcp], finishesOnItsOwn: true) { ports in
                try ManagedProcess(aria2c, [
                    "--enable-dht=true", "--enable-dht6=false", "--dht-listen-port=\(ports[0])",
                    "--listen-port=\(ports[1])", "--dht-entry-point=\(contact)", "--bt-enable-lpd=false",
                    "--enable-peer-exchange=false", "--dht-file-path=\(directory.file("aria2.dht"))", "--interface=127.0.0.6",
                    "--dir=\(directory.file("aria"))", "--console-log-level=warn", "--summary-interval=0", "--seed-time=0",
                    "--bt-stop-timeout=60", made.torrent,
                ], label: "aria2c-dht")
            }
            defer { aria.stop() }
            let status = aria.wait(timeout: 90)
            #expect(status == 0, "\(aria.log.suffix(600))")
            #expect(readBytes(directory.file("aria/data.bin")) == made.bytes)
        } else {
            withKnownIssue("aria2c is not available") { Issue.record("missing") }
        }
    }

    @Test func privateTorrentsKeepTheDHTOff() throws {
        let directory = TemporaryDirectory("tt-dht-private")
        let data = directory.write("seed/p.bin", pseudoRandomBytes(count: 40_000, seed: 23))
        var options = TorrentCreator.Options()
        options.isPrivate = true
        let torrent = directory.write("p.torrent", try TorrentCreator(options: options).create(path: data))
        let result = CLI.run(["seed", torrent, data, "--port", "0", "--bind", "127.0.0.1", "--no-announce", "--duration", "0.3", "-v"],
                             variables: variables)
        #expect(result.code == 0, "\(result.stderr)")
        #expect(result.stderr.contains("DHT off: the torrent is private"))
        let public_ = CLI.run(["seed", made(directory), directory.file("seed/q.bin"), "--port", "0", "--bind", "127.0.0.1", "--no-announce",
                               "--duration", "0.3", "-v"], variables: variables)
        #expect(public_.stderr.contains("DHT node"), "\(public_.stderr)")
    }

    private func made(_ directory: TemporaryDirectory) -> String {
        let data = directory.write("seed/q.bin", pseudoRandomBytes(count: 40_000, seed: 24))
        return directory.write("q.torrent", (try? TorrentCreator(options: .init()).create(path: data)) ?? [])
    }

    @Test func portMessagesPutEachSidesNodeInTheOthersRoutingTable() throws {
        guard RealTools.libtorrent else { withKnownIssue("libtorrent's Python binding is not available") { Issue.record("missing") }; return }
        let directory = TemporaryDirectory("tt-dht-port-message")
        let made = try Seeders.makeTorrent(in: directory, size: 300_000, seed: 25)
        // A libtorrent leecher with its DHT on and no contact at all; tt seed dials it (--peer).
        let leecher = try DHTHelpers.libtorrentNode(host: "127.0.0.7", contacts: [], torrent: made.torrent,
                                                    saveFolder: directory.file("lt"))
        defer { leecher.stop() }
        let ltPort = leecher.port
        let seedState = TemporaryDirectory("tt-dht-port-state")
        let seed = try ManagedProcess(ttExecutable, ["seed", made.torrent, made.data, "--bind", "127.0.0.1", "--port", "0",
                                                     "--peer", "127.0.0.7:\(ltPort)", "--no-announce", "--json"],
                                      label: "tt seed", environment: ["XDG_STATE_HOME": seedState.path])
        // libtorrent learns tt's node from tt's 'port' message (it has no other contact).
        #expect(leecher.waitForOutput("dht_nodes 1", timeout: 30), "\(leecher.log.suffix(500))\n\(seed.log.suffix(500))")
        seed.stop()
        // tt learned libtorrent's node from libtorrent's 'port' message: it is in the saved table.
        let saved = try RoutingTableFile.load(seedState.path + "/tt/dht.dat")
        #expect(saved?.nodes.contains { $0.address.description == "127.0.0.7:\(ltPort)" } == true, "\(String(describing: saved))")
    }
}
