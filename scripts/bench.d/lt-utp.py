"""libtorrent (Python binding, system python) for scripts/bench-utp: uTP in and out, TCP as asked.

    lt-utp.py seed     TORRENT SAVE_PATH IP PORT            # prints "listening N" (PORT 0: any), "ready" once seeding, seeds until killed
    lt-utp.py download TORRENT SAVE_PATH IP PORT PEER…      # uTP only; connects to each PEER (IP:PORT),
                                                            # prints the seconds until is_seeding, exits
DHT, LSD, UPnP and NAT-PMP are off; seeders keep TCP on (so tt can also fetch over TCP).
"""
import signal, sys, time
import libtorrent as lt

mode, torrent, save_path, ip, port = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
settings = {"enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
            "listen_interfaces": f"{ip}:{port}", "outgoing_interfaces": ip, "alert_mask": 0,
            "allow_multiple_connections_per_ip": True}
if mode == "download":
    settings.update({"enable_outgoing_tcp": False, "enable_incoming_tcp": False})
ses = lt.session(settings)
if mode == "seed":
    # PORT 0: any free port; the one it got is printed ("listening N") for the bench script to read.
    deadline = time.time() + 20
    while ses.listen_port() == 0 and time.time() < deadline:
        time.sleep(0.01)  # polled: alerts do not carry it here
    print("listening", ses.listen_port(), flush=True)
p = lt.add_torrent_params()
p.ti = lt.torrent_info(torrent)
p.save_path = save_path
p.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
start = time.time()
h = ses.add_torrent(p)
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)
if mode == "seed":
    while not stop and not h.status().is_seeding:
        time.sleep(0.05)
    print("ready", flush=True)
    while not stop:
        time.sleep(0.2)
else:
    peers = [a.rsplit(":", 1) for a in sys.argv[6:]]
    for host, peer_port in peers:
        h.connect_peer((host, int(peer_port)))
    while not stop and not h.status().is_seeding:
        time.sleep(0.02)
    utp = sum(1 for peer in h.get_peer_info() if peer.flags & (1 << 17))
    print(f"{time.time() - start:.3f} utp_peers={utp}", flush=True)
