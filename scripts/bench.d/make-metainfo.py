"""Writes two large, valid v1 metainfo files without any real data behind them.

    make-metainfo.py DIR [FILES] [PIECES]

DIR/many-files.torrent: a multi-file torrent with FILES (default 100 000) small files in nested
folders (1 B–64 KiB each, 256 KiB pieces, a matching `pieces` string of random bytes).
DIR/many-pieces.torrent: a single-file torrent with PIECES (default 500 000) 16 KiB pieces.
Deterministic (fixed seed), so runs compare the same bytes. Prints one line per file to stderr.
"""
import os, random, sys

out = sys.argv[1]
n_files = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
n_pieces = int(sys.argv[3]) if len(sys.argv) > 3 else 500_000
rng = random.Random(20240601)


def bstr(b):
    if isinstance(b, str):
        b = b.encode()
    return str(len(b)).encode() + b":" + b


def bint(i):
    return b"i" + str(i).encode() + b"e"


def random_bytes(n):
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def write(path, info_body, extra_outer=b""):
    # keys in sorted order: announce, comment, created by, creation date, info
    data = (b"d" + bstr("announce") + bstr("http://127.0.0.1:6969/announce")
            + bstr("comment") + bstr("tt bench-metainfo")
            + bstr("created by") + bstr("tt bench")
            + bstr("creation date") + bint(1700000000)
            + bstr("info") + info_body + b"e")
    with open(path, "wb") as f:
        f.write(data)
    print(f"{os.path.basename(path)}: {len(data)} bytes", file=sys.stderr)


# Multi-file: keys of each file dict sorted (length, path); info keys sorted (files, name, piece length, pieces).
piece_len = 256 * 1024
parts = [b"l"]
total = 0
for i in range(n_files):
    size = rng.randint(1, 64 * 1024)
    total += size
    path = [f"dir{i // 10000:02d}", f"sub{(i // 100) % 100:02d}", f"file-{i:06d}.dat"]
    parts.append(b"d" + bstr("length") + bint(size) + bstr("path") + b"l" + b"".join(bstr(p) for p in path) + b"ee")
parts.append(b"e")
pieces = (total + piece_len - 1) // piece_len
info = (b"d" + bstr("files") + b"".join(parts) + bstr("name") + bstr("many-files")
        + bstr("piece length") + bint(piece_len) + bstr("pieces") + bstr(random_bytes(20 * pieces)) + b"e")
write(os.path.join(out, "many-files.torrent"), info)

# Single file: 500 000 pieces of 16 KiB, the last one short.
piece_len = 16 * 1024
length = (n_pieces - 1) * piece_len + 1234
info = (b"d" + bstr("length") + bint(length) + bstr("name") + bstr("many-pieces.bin")
        + bstr("piece length") + bint(piece_len) + bstr("pieces") + bstr(random_bytes(20 * n_pieces)) + b"e")
write(os.path.join(out, "many-pieces.torrent"), info)
