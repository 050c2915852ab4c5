"""libtorrent (Python binding, system python) as a loopback seeder or downloader for scripts/bench-download.

    lt-client.py seed     TORRENT SAVE_PATH IP PORT     # prints "listening N" (PORT 0: any), checks the data, prints "ready", seeds until killed,
                                                        # printing "uploaded BYTES" (payload, all time) whenever it grew
    lt-client.py download TORRENT SAVE_PATH IP PORT [PEER_IP:PORT…]
                                                        # downloads until is_seeding, prints seconds, exits;
                                                        # PEERs are dialled besides the torrent's trackers

DHT, LSD, UPnP, NAT-PMP and uTP are off (libtorrent tries uTP first and a TCP-only peer then sits idle);
everything else is libtorrent's default. Listening and outgoing connections use IP.
"""
import signal, sys, time
import libtorrent as lt

mode, torrent, save_path, ip, port = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
ses = lt.session({
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "listen_interfaces": f"{ip}:{port}", "outgoing_interfaces": ip,
    "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
})
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
for peer in sys.argv[6:]:
    peer_ip, peer_port = peer.rsplit(":", 1)
    h.connect_peer((peer_ip, int(peer_port)))
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)

def log_errors():
    for a in ses.pop_alerts():
        if a.category() & lt.alert.category_t.error_notification:
            print(f"libtorrent[{ip}]: {a.message()}", file=sys.stderr)

if mode == "seed":
    while not stop and not h.status().is_seeding:
        log_errors()
        time.sleep(0.05)
    s = h.status()
    if not s.is_seeding:
        sys.exit(1)
    print("ready", flush=True)
    print(f"libtorrent seeder {ip}:{ses.listen_port()}: checked in {time.time() - start:.2f} s", file=sys.stderr)
    reported = 0
    while not stop:
        log_errors()
        uploaded = h.status().all_time_upload
        if uploaded != reported:
            print("uploaded", uploaded, flush=True)
            reported = uploaded
        time.sleep(0.2)
    s = h.status()
    print(f"libtorrent seeder {ip}: uploaded {s.all_time_upload / 1048576:.0f} MiB", file=sys.stderr)
else:
    while not stop:
        s = h.status()
        if s.is_seeding:
            break
        log_errors()
        time.sleep(0.02)
    took = time.time() - start
    if stop:
        sys.exit(1)
    print(f"{took:.3f}", flush=True)
ses.pause()
