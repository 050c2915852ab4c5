#!/usr/bin/python3
"""Ports for the bench scripts' servers, got as the tests get theirs (Tests/TestSupport/Ports.swift).

tt and libtorrent listen on port 0 and report the port they got; the other tools (opentracker,
aria2c, ...) are given a candidate port and must then own a listener on it, else someone took it
first and they are started again on another.

  ports.py candidate HOST [tcp|udp]
      a port the kernel found free a moment ago on HOST (a candidate only).
  ports.py owns PID PORT tcp|udp|tcp+udp [SECONDS]
      exit 0 once process PID (or a child of it) holds a listener on PORT, 1 if it exits first or
      SECONDS (default 30) pass.
  ports.py listening FILE KEY [SECONDS] [PID]
      print KEY of the first JSON Lines 'listening' event in FILE (tt --json), the port of tt
      tracker's note 'listening at KEY://HOST:PORT' (KEY http or udp), or the port of a
      'listening <port>' line (the libtorrent helpers), waiting up to SECONDS; exit 1 if it never
      comes or process PID exits first.
"""
import json, os, re, socket, sys, time


def candidate(host, proto="tcp"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1].split()[0] != "Z"
    except OSError:
        return False


def owns(pid, port, proto):
    """Whether PID (or a child) holds a socket on PORT: TCP listening, UDP bound."""
    inodes = set()
    for table in (proto, proto + "6"):
        try:
            lines = open(f"/proc/{pid}/net/{table}").read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port and (proto != "tcp" or fields[3] == "0A"):
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return False
    pids = [pid]
    try:
        pids += [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        pass
    for owner in pids:
        try:
            fds = os.listdir(f"/proc/{owner}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{owner}/fd/{fd}") in inodes:
                    return True
            except OSError:
                pass
    return False


def main(argv):
    if argv[:1] == ["candidate"]:
        print(candidate(argv[1], argv[2] if len(argv) > 2 else "tcp"))
        return 0
    if argv[:1] == ["owns"]:
        pid, port, protos = int(argv[1]), int(argv[2]), argv[3].split("+")
        deadline = time.time() + float(argv[4] if len(argv) > 4 else 30)
        while time.time() < deadline and running(pid):
            if all(owns(pid, port, proto) for proto in protos):
                return 0
            time.sleep(0.05)  # polled: /proc announces nothing
        return 1
    if argv[:1] == ["listening"]:
        path, key = argv[1], argv[2]
        deadline = time.time() + float(argv[3] if len(argv) > 3 else 30)
        pid = int(argv[4]) if len(argv) > 4 else None
        while time.time() < deadline:
            alive = pid is None or running(pid)
            try:
                lines = open(path, errors="replace").read().splitlines()
            except OSError:
                lines = []
            for line in lines:
                note = re.search(r"listening at %s://.*:(\d+)" % re.escape(key), line)
                if note:
                    print(note.group(1))
                    return 0
                words = line.split()
                if len(words) == 2 and words[0] == "listening" and words[1].isdigit() and int(words[1]) > 0:
                    print(words[1])
                    return 0
                if line.startswith("{"):
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue
                    if event.get("event") == "listening" and event.get(key):
                        print(event[key])
                        return 0
            if not alive:
                break
            time.sleep(0.05)  # polled: the output is a file
        print(f"ports.py: no listening event with {key} in {path}", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
