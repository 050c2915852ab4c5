"""scripts/bench-dht: a trackerless magnet through a 10-node libtorrent DHT on loopback.

Ten libtorrent sessions with only their DHT on (127.0.0.21 … 127.0.0.30, each knowing the previous one,
restrictions off so a chain in one /24 works); the last one seeds the torrent and announces it. Then, in
turn, `tt download MAGNET --dht-bootstrap <first node>` and a fresh libtorrent session given the same
contact: time from start to the first connected peer and to completion, for each; also the time of
`tt dht get-peers` to its first peer. Nothing outside 127.0.0.0/8 is contacted (TT_DHT_LOOPBACK_ONLY=1).
Prints human lines on stderr and one JSON object on stdout.
"""
import json, os, shutil, subprocess, sys, tempfile, threading, time
import libtorrent as lt

tt = os.environ["TT"]
size = int(os.environ.get("SIZE_MIB", "16")) * 1024 * 1024
rounds = int(os.environ.get("ROUNDS", "3"))
timeout = float(os.environ.get("TIMEOUT", "120"))
nodes_count = 10
env = dict(os.environ, TT_DHT_LOOPBACK_ONLY="1")
work = tempfile.mkdtemp(prefix="tt-bench-dht.")
env["XDG_STATE_HOME"] = work + "/state"

def log(*args):
    print(*args, file=sys.stderr, flush=True)

def bound_port(ses):
    """The port a session started on port 0 got (alerts are off: polled, with a deadline)."""
    deadline = time.time() + 20
    while ses.listen_port() == 0 and time.time() < deadline:
        time.sleep(0.01)
    if ses.listen_port() == 0:
        raise SystemExit("bench-dht: a libtorrent session never listened")
    return ses.listen_port()

def dht_settings(ip, port=0):
    return {"enable_dht": True, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
            "enable_outgoing_utp": False, "enable_incoming_utp": False, "dht_bootstrap_nodes": "",
            "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
            "listen_interfaces": f"{ip}:{port}", "outgoing_interfaces": ip, "alert_mask": 0}

try:
    os.makedirs(work + "/seed")
    with open(work + "/seed/data.bin", "wb") as f:
        f.write(os.urandom(size))
    subprocess.run([tt, "create", work + "/seed/data.bin", "--piece-size", "256K", "--no-date", "-q", "-o", work + "/x.torrent"],
                   check=True, env=env)
    info_hash = json.loads(subprocess.run([tt, "info", "--json", work + "/x.torrent"], capture_output=True, check=True, env=env).stdout)["info_hash"]
    magnet = f"magnet:?xt=urn:btih:{info_hash}"

    # Every session listens on port 0 (DHT on the UDP port of the same number); each knows the previous one.
    sessions, ports = [], []
    for i in range(nodes_count):
        ip = f"127.0.0.{21 + i}"
        ses = lt.session(dht_settings(ip))
        ports.append(bound_port(ses))
        if i > 0:
            ses.add_dht_node((f"127.0.0.{20 + i}", ports[i - 1]))
        sessions.append(ses)
    seeder = sessions[-1]
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(work + "/x.torrent")
    p.save_path = work + "/seed"
    handle = seeder.add_torrent(p)
    contact = f"127.0.0.21:{ports[0]}"

    # Wait (with a deadline) until the announce is visible from the first node: the swarm is ready.
    deadline = time.time() + 60
    while time.time() < deadline:
        handle.force_dht_announce()
        r = subprocess.run([tt, "dht", "get-peers", info_hash, "--bootstrap", contact, "--json", "--no-state", "--timeout", "10"],
                           capture_output=True, env=env)
        if r.returncode == 0 and json.loads(r.stdout)["peers"]:
            break
        time.sleep(0.5)
    else:
        raise SystemExit("bench-dht: the seeder's announce never became visible")

    def run_tt(out):
        start = time.time()
        proc = subprocess.Popen([tt, "download", magnet, "-o", out, "--dht-bootstrap", contact, "--json", "--no-resume"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        first = done = None
        for line in proc.stdout:
            now = time.time() - start
            event = json.loads(line).get("event")
            if event == "peer_connected" and first is None:
                first = now
            if event == "completed" and done is None:
                done = now
        proc.wait(timeout=timeout)
        total = time.time() - start
        return {"first_peer_s": first, "complete_s": done, "exit_s": total, "status": proc.returncode}

    def run_lt(i, out):
        ip = f"127.0.0.{40 + i}"
        ses = lt.session(dht_settings(ip))
        start = time.time()
        ses.add_dht_node(("127.0.0.21", ports[0]))
        atp = lt.parse_magnet_uri(magnet)
        atp.save_path = out
        h = ses.add_torrent(atp)
        first = done = None
        while time.time() - start < timeout:
            st = h.status()
            if first is None and st.num_peers > 0:
                first = time.time() - start
            if st.is_seeding:
                done = time.time() - start
                break
            time.sleep(0.01)
        del ses
        return {"first_peer_s": first, "complete_s": done}

    def run_lookup():
        r = subprocess.run([tt, "dht", "get-peers", magnet, "--bootstrap", contact, "--json", "--no-state"], capture_output=True, env=env)
        j = json.loads(r.stdout)
        return {"first_peer_s": j["time_to_first_peer"], "lookup_s": j["duration"], "nodes_replied": j["nodes_replied"]}

    results = {"tt": [], "libtorrent": [], "tt_lookup": []}
    for r in range(rounds):
        out = f"{work}/tt{r}"
        results["tt"].append(run_tt(out))
        ok = open(f"{out}/data.bin", "rb").read() == open(work + "/seed/data.bin", "rb").read()
        results["tt"][-1]["identical"] = ok
        shutil.rmtree(out, ignore_errors=True)
        results["libtorrent"].append(run_lt(r, f"{work}/lt{r}"))
        shutil.rmtree(f"{work}/lt{r}", ignore_errors=True)
        results["tt_lookup"].append(run_lookup())
        log(f"round {r + 1}: tt first peer {results['tt'][-1]['first_peer_s']:.3f} s, complete {results['tt'][-1]['complete_s']:.3f} s; "
            f"libtorrent first peer {results['libtorrent'][-1]['first_peer_s']:.3f} s, complete {results['libtorrent'][-1]['complete_s']:.3f} s; "
            f"tt dht get-peers first peer {results['tt_lookup'][-1]['first_peer_s']:.3f} s")

    def best(tool, key):
        values = [x[key] for x in results[tool] if x.get(key) is not None]
        return min(values) if values else None

    summary = {
        "nodes": nodes_count, "size": size, "rounds": rounds,
        "tt_first_peer_s": best("tt", "first_peer_s"), "tt_complete_s": best("tt", "complete_s"),
        "libtorrent_first_peer_s": best("libtorrent", "first_peer_s"), "libtorrent_complete_s": best("libtorrent", "complete_s"),
        "tt_lookup_first_peer_s": best("tt_lookup", "first_peer_s"),
        "identical": all(x.get("identical") for x in results["tt"]),
        "runs": results,
    }
    if summary["tt_first_peer_s"] and summary["libtorrent_first_peer_s"]:
        summary["first_peer_tt_over_libtorrent"] = round(summary["tt_first_peer_s"] / summary["libtorrent_first_peer_s"], 3)
    if summary["tt_complete_s"] and summary["libtorrent_complete_s"]:
        summary["complete_tt_over_libtorrent"] = round(summary["tt_complete_s"] / summary["libtorrent_complete_s"], 3)
    log(f"best: tt first peer {summary['tt_first_peer_s']} s, complete {summary['tt_complete_s']} s; "
        f"libtorrent first peer {summary['libtorrent_first_peer_s']} s, complete {summary['libtorrent_complete_s']} s")
    print(json.dumps(summary, separators=(",", ":")))
finally:
    shutil.rmtree(work, ignore_errors=True)
