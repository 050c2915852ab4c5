# Sourced by scripts/bench-download: real BitTorrent clients as loopback seeders of one torrent, each on
# its own address. Needs from the caller: $work (scratch folder, logs in $work/logs), $here, $python,
# `bg NAME COMMAND…` (starts COMMAND in its own session and records it for the exit trap) and ports.sh.
# Nothing here may reach past 127.0.0.0/8: DHT, LSD, PEX, UPnP/NAT-PMP (and uTP) are off in each
# client, qBittorrent's peer-country look-up (a GeoIP download) too, and every tracker is on loopback.
#
#   seed_libtorrent IP TORRENT DIR    scripts/bench.d/lt-client.py (system Python), port 0
#   seed_aria2 IP TORRENT DIR         aria2c --seed-ratio=0.0, checks the data first; JSON-RPC on 127.0.0.1
#   seed_transmission IP TORRENT DIR  transmission-daemon -f -g $work/transmission-IP; RPC on 127.0.0.1
#   seed_qbittorrent IP TORRENT DIR   qbittorrent-nox --profile=$work/qbittorrent-IP; web API on 127.0.0.1
#   seed_ctorrent IP TORRENT FILE     ctorrent -s FILE (a single-file torrent), checks the data first
#
# Each sets seeder_port[IP] (its peer port), seeder_client[IP] (a name) and seeder_pid[IP];
# seeder_uploaded IP prints the payload bytes that seeder has uploaded so far (its own counter; ctorrent
# counts in whole MB), or nothing when the client has no counter we can read.
# seeder_refresh IP readies a seeder for the next downloader: Transmission 3.00 remembers every address
# that completed (as a seed) and hangs up on it from then on ("another seed tried to reconnect"), and
# `tt download` dials from 127.0.0.1 whatever its --bind, so its torrent is removed (data kept) and added
# again, checked, before each download; its upload counter starts again from 0 then.
declare -A seeder_port seeder_client seeder_pid seeder_api seeder_torrent

seed_libtorrent() {
    local ip=$1 torrent=$2 dir=$3
    bg "seed-libtorrent-$ip" "$python" "$here/scripts/bench.d/lt-client.py" seed "$torrent" "$dir" "$ip" 0
    seeder_pid[$ip]=$!
    seeder_port[$ip]=$(listening_port "$work/logs/seed-libtorrent-$ip.out" port 30 "$!")
    seeder_client[$ip]=libtorrent
}

seed_aria2() {
    local ip=$1 torrent=$2 dir=$3
    listen_seconds=300 start_listening tcp "$ip" bg "seed-aria2-$ip" aria2c --interface="$ip" --listen-port={port} \
        --seed-ratio=0.0 --check-integrity=true --enable-dht=false --enable-dht6=false --bt-enable-lpd=false \
        --enable-peer-exchange=false --file-allocation=none --summary-interval=0 --console-log-level=warn \
        --enable-rpc=true --rpc-listen-all=false --rpc-listen-port={port2} -d "$dir" "$torrent"
    seeder_pid[$ip]=$started_pid seeder_port[$ip]=$started_port seeder_api[$ip]=$started_port2
    seeder_client[$ip]=aria2c
}

# _transmission_start IP DIR PORT RPC_PORT: its settings, then the daemon in the foreground.
_transmission_start() {
    local ip=$1 dir=$2 port=$3 rpc=$4 config=$work/transmission-$1
    rm -rf "$config"; mkdir -p "$config"  # nothing from an earlier run (BENCH_DIR)
    cat > "$config/settings.json" <<EOF
{"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
 "port-forwarding-enabled": false, "peer-port": $port, "peer-port-random-on-start": false,
 "bind-address-ipv4": "$ip", "bind-address-ipv6": "::1", "rpc-enabled": true, "rpc-port": $rpc,
 "rpc-bind-address": "127.0.0.1", "rpc-whitelist-enabled": false, "rpc-authentication-required": false,
 "download-dir": "$dir", "incomplete-dir-enabled": false, "watch-dir-enabled": false, "blocklist-enabled": false,
 "ratio-limit-enabled": false, "idle-seeding-limit-enabled": false, "speed-limit-up-enabled": false,
 "alt-speed-enabled": false, "message-level": 1, "start-added-torrents": true}
EOF
    bg "seed-transmission-$ip" transmission-daemon -f -g "$config"
}

seed_transmission() {
    local ip=$1 torrent=$2 dir=$3
    start_listening tcp "$ip" _transmission_start "$ip" "$dir" {port} {port2}
    seeder_pid[$ip]=$started_pid seeder_port[$ip]=$started_port seeder_api[$ip]=$started_port2
    seeder_client[$ip]=Transmission seeder_torrent[$ip]=$torrent
    # It listens, so it answers RPC; it verifies the data before it seeds (readiness is checked by the caller).
    transmission-remote "127.0.0.1:$started_port2" -a "$torrent" >/dev/null
}

# _transmission_rpc RPC_PORT REQUEST: its JSON-RPC answer (the first reply, 409, hands out the session id).
_transmission_rpc() {
    "$python" - "$1" "$2" <<'PY'
import sys, urllib.error, urllib.request
url, body, headers = f"http://127.0.0.1:{sys.argv[1]}/transmission/rpc", sys.argv[2].encode(), {}
for _ in range(2):
    try:
        print(urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=10).read().decode())
        break
    except urllib.error.HTTPError as e:
        headers = {"X-Transmission-Session-Id": e.headers["X-Transmission-Session-Id"]}
PY
}

seeder_refresh() {
    local ip=$1 api=${seeder_api[$1]:-} i
    [[ ${seeder_client[$ip]} == Transmission ]] || return 0
    transmission-remote "127.0.0.1:$api" -t all -r >/dev/null
    transmission-remote "127.0.0.1:$api" -a "${seeder_torrent[$ip]}" >/dev/null
    for i in $(seq 600); do  # checked and seeding (status 6) again; re-read until then (no event to wait on)
        _transmission_rpc "$api" '{"method":"torrent-get","arguments":{"fields":["status","percentDone"]}}' \
            | "$python" -c 'import json,sys; t=json.load(sys.stdin)["arguments"]["torrents"]; sys.exit(0 if t and t[0]["status"] == 6 and t[0]["percentDone"] == 1 else 1)' \
            && return 0
        sleep 0.2
    done
    echo "Transmission ($ip) did not seed again after its torrent was added anew" >&2
    return 1
}

# _qbittorrent_start IP PORT WEB_PORT: its configuration (legal notice accepted), then qbittorrent-nox.
_qbittorrent_start() {
    local ip=$1 port=$2 web=$3 profile=$work/qbittorrent-$1
    rm -rf "$profile"; mkdir -p "$profile/qBittorrent/config"  # nothing from an earlier run (BENCH_DIR)
    cat > "$profile/qBittorrent/config/qBittorrent.conf" <<EOF
[LegalNotice]
Accepted=true

[BitTorrent]
Session\\Port=$port
Session\\InterfaceAddress=$ip
Session\\BTProtocol=TCP
Session\\DHTEnabled=false
Session\\LSDEnabled=false
Session\\PeXEnabled=false

[Network]
PortForwardingEnabled=false

[Preferences]
WebUI\\Port=$web
WebUI\\Address=127.0.0.1
WebUI\\LocalHostAuth=false
Connection\\UPnP=false
Connection\\ResolvePeerCountries=false
EOF
    bg "seed-qbittorrent-$ip" qbittorrent-nox --profile="$profile"
}

seed_qbittorrent() {
    local ip=$1 torrent=$2 dir=$3
    start_listening tcp "$ip" _qbittorrent_start "$ip" {port} {port2}
    seeder_pid[$ip]=$started_pid seeder_port[$ip]=$started_port seeder_api[$ip]=$started_port2
    seeder_client[$ip]=qBittorrent
    # The data is known good: added without a check, so it seeds at once.
    local added
    added=$(curl -s -F "torrents=@$torrent" -F "savepath=$dir" -F skip_checking=true \
        "http://127.0.0.1:$started_port2/api/v2/torrents/add")
    [[ $added == Ok* ]] || { echo "qBittorrent refused the torrent: $added" >&2; return 1; }
}

seed_ctorrent() {
    local ip=$1 torrent=$2 file=$3
    rm -f "$work/ctorrent-$ip.bf"
    # -e: hours to seed; -b: its bitfield file in $work; stdin closed (it reads keys from a terminal);
    # stdout unbuffered, for its status line (seeder_uploaded).
    listen_seconds=300 start_listening tcp "$ip" bg "seed-ctorrent-$ip" stdbuf -o0 ctorrent -e 24 -i "$ip" -p {port} \
        -b "$work/ctorrent-$ip.bf" -s "$file" "$torrent" </dev/null
    seeder_pid[$ip]=$started_pid seeder_port[$ip]=$started_port
    seeder_client[$ip]=ctorrent
}

seeder_uploaded() {
    local ip=$1 api=${seeder_api[$1]:-}
    case ${seeder_client[$ip]} in
        libtorrent) awk '$1 == "uploaded" { n = $2 } END { print n + 0 }' "$work/logs/seed-libtorrent-$ip.out" ;;
        aria2c) curl -s -d '{"jsonrpc":"2.0","id":1,"method":"aria2.tellActive","params":[["uploadLength"]]}' \
                    "http://127.0.0.1:$api/jsonrpc" | "$python" -c 'import json,sys; print(sum(int(d["uploadLength"]) for d in json.load(sys.stdin)["result"]))' ;;
        Transmission) _transmission_rpc "$api" '{"method":"torrent-get","arguments":{"fields":["uploadedEver"]}}' \
                          | "$python" -c 'import json,sys; print(sum(t["uploadedEver"] for t in json.load(sys.stdin)["arguments"]["torrents"]))' ;;
        qBittorrent) curl -s "http://127.0.0.1:$api/api/v2/torrents/info" | "$python" -c 'import json,sys; print(sum(t["uploaded"] for t in json.load(sys.stdin)))' ;;
        # Its status line: "- 0/1/1 [1024/1024/1024] 0MB,230MB | 0,51200K/s | …" (downloaded, uploaded).
        ctorrent) tr '\r' '\n' < "$work/logs/seed-ctorrent-$ip.out" | awk 'match($0, /\] [0-9]+MB,[0-9]+MB/) { split(substr($0, RSTART + 2, RLENGTH - 2), a, ","); n = a[2] + 0 } END { print n * 1048576 }' ;;
    esac
}
