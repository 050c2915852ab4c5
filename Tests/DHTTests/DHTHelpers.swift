import Foundation
import JSON
import Net
import TestSupport

/// Real DHT nodes and `tt dht serve` for interop tests, all on loopback, each a `ManagedProcess`.
enum DHTHelpers {
    /// A libtorrent session with only its DHT on (restrictions off so a chain in one /24 works),
    /// knowing `contacts` through `add_dht_node`; with a torrent, it seeds it and announces it. It listens
    /// on port 0 of its host (DHT on the UDP port of the same number) and reports the port it got.
    static let libtorrentNodeScript = """
    import sys, time, libtorrent as lt
    host, contacts = sys.argv[1], [c for c in sys.argv[2].split(',') if c]
    s = {'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
         'listen_interfaces': host + ':0', 'dht_bootstrap_nodes': '',
         'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
         'enable_outgoing_utp': False, 'enable_incoming_utp': False,
         'alert_mask': 0, 'outgoing_interfaces': host, 'allow_multiple_connections_per_ip': True}
    ses = lt.session(s)
    \(Seeders.libtorrentReportPort)
    for c in contacts:
        h, p = c.rsplit(':', 1)
        ses.add_dht_node((h, int(p)))
    handle = None
    if len(sys.argv) > 4:
        ti = lt.torrent_info(sys.argv[3])
        handle = ses.add_torrent({'ti': ti, 'save_path': sys.argv[4]})
    print('ready', ses.listen_port(), flush=True)
    last = 0
    while True:
        time.sleep(0.2)
        if time.time() - last > 2:
            last = time.time()
            if handle is not None:
                handle.force_dht_announce()
                st = handle.status()
                print('status', st.state, st.progress, st.num_peers, flush=True)
            print('dht_nodes', ses.status().dht_nodes, flush=True)
    """

    /// The node on `host`; its port is the process's `port`, `contact` its "host:port".
    static func libtorrentNode(host: String, contacts: [String], torrent: String? = nil, saveFolder: String? = nil) throws -> ManagedProcess {
        var arguments = ["-u", "-c", libtorrentNodeScript, host, contacts.joined(separator: ",")]
        if let torrent, let saveFolder { arguments += [torrent, saveFolder] }
        let process = try ManagedProcess(RealTools.systemPython, arguments, label: "libtorrent-dht \(host)")
        _ = try process.reportedPort()
        guard process.waitForOutput("ready", timeout: 20) else { throw RealToolError.notReady("libtorrent DHT node: \(process.log)") }
        return process
    }

    /// `tt dht serve` in its own process on port 0 of `host` (its `port` read from its listening event),
    /// under the loopback guard, with its own state folder.
    static func ttServe(host: String, bootstrap: [String] = [], state: String, extra: [String] = []) throws -> ManagedProcess {
        let arguments = ["dht", "serve", "--bind", host, "--port", "0", "--json"] + bootstrap.flatMap { ["--bootstrap", $0] } + extra
        let process = try ManagedProcess(ttExecutable, arguments, label: "tt dht serve",
                                         environment: ["TT_DHT_LOOPBACK_ONLY": "1", "XDG_STATE_HOME": state])
        _ = try process.listeningPort()
        return process
    }

    /// Runs a CLI command until `accept` is true for its JSON output (or the deadline), for state
    /// that other nodes build asynchronously (announces, routing tables).
    static func retryCLI(_ arguments: [String], timeout: Double, variables: [String: String] = [:],
                         until accept: (JSONValue) -> Bool) -> (CLIResult, JSONValue?) {
        var last: (CLIResult, JSONValue?)?
        waitUntil(timeout: timeout, poll: 0.3) {
            let result = CLI.run(arguments, variables: variables)
            let json = try? JSONParser().parse(result.stdout)
            last = (result, json)
            return json.map(accept) ?? false
        }
        return last!  // the condition runs at least once
    }
}

extension RealToolError {
    static func notReady(_ what: String) -> RealToolError { .failed(what) }
}
