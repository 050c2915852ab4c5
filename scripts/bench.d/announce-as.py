"""Announces one seeder to an HTTP tracker from a given source address, for scripts/bench-download.

    announce-as.py TRACKER_URL INFO_HASH_HEX IP PORT [INTERVAL]

`tt seed --bind IP` announces from the default source address (127.0.0.1 on loopback), so a tracker that
records the connection's address hands out IP 127.0.0.1 with the seeder's port, where nothing listens.
The benchmark runs `tt seed --no-announce` and announces for it with this script instead: event=started,
left=0, from a socket bound to IP, then again every INTERVAL seconds (default 60); event=stopped on SIGTERM.
"""
import os, signal, socket, sys, time, urllib.parse

url, ih, ip, port = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3], int(sys.argv[4])
interval = float(sys.argv[5]) if len(sys.argv) > 5 else 60.0
u = urllib.parse.urlsplit(url)
peer_id = b"-BA0001-" + os.urandom(6).hex().encode()

def announce(event):
    q = "info_hash=%s&peer_id=%s&port=%d&uploaded=0&downloaded=0&left=0&compact=1&numwant=0%s" % (
        urllib.parse.quote_from_bytes(ih), urllib.parse.quote_from_bytes(peer_id), port,
        "&event=" + event if event else "")
    c = socket.socket()
    c.settimeout(5)
    c.bind((ip, 0))
    c.connect((u.hostname, u.port or 80))
    c.sendall(f"GET {u.path}?{q} HTTP/1.1\r\nHost: {u.netloc}\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        data += b
    c.close()
    if b" 200 " not in data.split(b"\r\n", 1)[0] or b"failure reason" in data:
        print(f"announce-as {ip}:{port}: bad reply {data[:200]!r}", file=sys.stderr)

stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)
announce("started")
print("announced", flush=True)
next_at = time.time() + interval
while not stop:
    time.sleep(0.2)
    if time.time() >= next_at:
        announce("")
        next_at = time.time() + interval
try:
    announce("stopped")
except OSError:
    pass
