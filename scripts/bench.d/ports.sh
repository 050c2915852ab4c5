# Sourced by scripts/bench-*: ports got as the tests get theirs (see ports.py beside this file).
# tt and libtorrent listen on port 0 and report the port they got (listening_port); the other tools
# are given a candidate port and must then own a listener on it (start_listening).
ports_py="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/ports.py"

# candidate_port HOST [tcp|udp]: a port the kernel found free a moment ago (a candidate only).
candidate_port() { /usr/bin/python3 "$ports_py" candidate "$@"; }

# listening_port FILE KEY [SECONDS] [PID]: the port in a listening event or note in FILE, waiting for it.
listening_port() { /usr/bin/python3 "$ports_py" listening "$@"; }

# start_listening USE HOST STARTER ARGS...: runs STARTER ARGS with each {port} replaced by a candidate
# port on HOST; STARTER starts the tool in the background (so $! is its pid). The tool must then own a
# USE (tcp, udp or tcp+udp) listener on that port, else someone took it first: it is killed and started
# on another candidate, four times at most; listen_seconds (default 60) bounds each wait. Sets
# started_port and started_pid. A second port for tools that also serve a control API (RPC, web UI):
# each {port2} is replaced by a candidate on 127.0.0.1, which the tool must own as a TCP listener too
# (started_port2).
start_listening() {
    local use=$1 host=$2; shift 2
    local attempt port port2="" arg args
    for attempt in 1 2 3 4; do
        port=$(candidate_port "$host")
        [[ "$*" == *"{port2}"* ]] && port2=$(candidate_port 127.0.0.1)
        args=(); for arg in "$@"; do arg=${arg//\{port\}/$port}; args+=("${arg//\{port2\}/$port2}"); done
        "${args[@]}"
        started_pid=$!
        if /usr/bin/python3 "$ports_py" owns "$started_pid" "$port" "$use" "${listen_seconds:-60}" &&
           { [[ -z "$port2" ]] || /usr/bin/python3 "$ports_py" owns "$started_pid" "$port2" tcp "${listen_seconds:-60}"; }; then
            started_port=$port started_port2=$port2
            return 0
        fi
        kill "$started_pid" 2>/dev/null || true
        echo "start_listening: ${args[*]:0:3}… did not listen on $host:$port${port2:+ and 127.0.0.1:$port2} (attempt $attempt)" >&2
    done
    echo "start_listening: gave up after 4 attempts" >&2
    return 1
}
