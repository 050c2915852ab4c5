#!/usr/bin/python3
# One fixture per metainfo rule (man/tt-info.1 "VALIDATION RULES"), named after its defect, plus
# valid-but-odd torrents (BEP 47 attributes, names that are not UTF-8 or carry escape sequences).
# Run by scripts/make-fixtures:  /usr/bin/python3 scripts/fixtures-rules.py WORK GOOD BAD
# WORK holds the deterministic content made by make-fixtures (multi/, single.bin).
import copy, os, sys
import libtorrent as lt

work, good, bad = sys.argv[1], sys.argv[2], sys.argv[3]


def be(x):
    if isinstance(x, int): return b'i%de' % x
    if isinstance(x, str): x = x.encode()
    if isinstance(x, bytes): return b'%d:%s' % (len(x), x)
    if isinstance(x, list): return b'l' + b''.join(be(i) for i in x) + b'e'
    if isinstance(x, dict):
        items = sorted(((k.encode() if isinstance(k, str) else k), v) for k, v in x.items())
        return b'd' + b''.join(be(k) + be(v) for k, v in items) + b'e'
    raise TypeError(x)


def w(folder, name, data):
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(data if isinstance(data, bytes) else be(data))


H = b'\x11' * 20
TR = "http://127.0.0.1:6969/announce"


def hashes(total, pl):
    return H * ((total + pl - 1) // pl)


def single(name="a", length=10, pl=16384, **extra):
    info = {"name": name, "length": length, "piece length": pl, "pieces": hashes(length, pl)}
    info.update(extra)
    return {"announce": TR, "info": info}


def F(path, length=1, **extra):
    entry = {"length": length}
    if path is not None: entry["path"] = path
    entry.update(extra)
    return entry


def multi(files, name="d", pl=16384):
    total = sum(0 if "l" in str(f.get("attr", "")) else f.get("length", 0) for f in files)
    return {"announce": TR, "info": {"name": name, "files": files, "piece length": pl, "pieces": hashes(total, pl)}}


# --- invalid: libtorrent refuses them too -------------------------------------------------------
w(bad, "zero-length.torrent", single(length=0))
w(bad, "length-2-63-minus-1.torrent", {"info": {"name": "a", "length": 2**63 - 1, "piece length": 16384, "pieces": H}})
w(bad, "file-too-large-16tib.torrent", {"info": {"name": "a", "length": 2**44, "piece length": 2**24, "pieces": H}})
w(bad, "file-offsets-beyond-limit.torrent", {"info": {"name": "d", "files": [F(["a"], 2**47), F(["b"], 2**47)], "piece length": 2**24, "pieces": H}})
w(bad, "length-beyond-64-bits.torrent", b"d4:infod6:lengthi99999999999999999999e4:name1:a12:piece lengthi16384e6:pieces20:" + H + b"ee")
w(bad, "too-many-pieces.torrent", {"info": {"name": "a", "length": (2**21 + 1) * 16384, "piece length": 16384, "pieces": H}})
w(bad, "piece-length-1-gib.torrent", single(pl=2**30))
w(bad, "empty-name.torrent", single(name=""))
w(bad, "name-dotdot.torrent", single(name=".."))
w(bad, "no-files.torrent", multi([]))
w(bad, "empty-path-list.torrent", multi([F([]), F(["b"])]))

fs = lt.file_storage()
lt.add_files(fs, f"{work}/multi")
def made(flags, pl=16384):
    t = lt.create_torrent(fs, pl, flags=flags)
    t.add_tracker(TR)
    lt.set_piece_hashes(t, work)
    e = t.generate()
    e.pop(b'creation date', None)  # the same bytes on every run
    return e
v2, hybrid = made(lt.create_torrent.v2_only), made(0)
tree = lambda e: e[b'info'][b'file tree']
def leaf(e, *path):
    node = tree(e)
    for p in path: node = node[p]
    return node[b'']
a_root = leaf(v2, b'data', b'a.bin')[b'pieces root']
def mutate(source, change):
    e = copy.deepcopy(source); change(e); return lt.bencode(e)
w(bad, "v2-piece-length-not-power-of-two.torrent", mutate(v2, lambda e: e[b'info'].__setitem__(b'piece length', 3 * 16384)))
w(bad, "v2-piece-length-8k.torrent", mutate(v2, lambda e: e[b'info'].__setitem__(b'piece length', 8192)))
w(bad, "v2-missing-piece-layers.torrent", mutate(v2, lambda e: e.pop(b'piece layers')))
w(bad, "v2-piece-layer-short.torrent", mutate(v2, lambda e: e[b'piece layers'].__setitem__(a_root, e[b'piece layers'][a_root][:-32])))
w(bad, "v2-piece-layer-not-matching-root.torrent", mutate(v2, lambda e: e[b'piece layers'].__setitem__(a_root, b'\x01' + e[b'piece layers'][a_root][1:])))
w(bad, "v2-piece-layer-for-unknown-root.torrent", mutate(v2, lambda e: e[b'piece layers'].__setitem__(b'\x05' * 32, b'\x00' * 64)))
w(bad, "v2-pieces-root-all-zeros.torrent", mutate(v2, lambda e: leaf(e, b'readme.txt').__setitem__(b'pieces root', b'\x00' * 32)))
w(bad, "v2-pieces-root-missing.torrent", mutate(v2, lambda e: leaf(e, b'readme.txt').pop(b'pieces root')))
LEAF = b'd0:d6:lengthi10e11:pieces root32:' + b'\x07' * 32 + b'ee'
def v2tree(tree): return b'd4:infod9:file tree' + tree + b'12:meta versioni2e4:name1:d12:piece lengthi16384eee'
w(bad, "v2-file-tree-unsorted.torrent", v2tree(b'd1:b' + LEAF + b'1:a' + LEAF + b'e'))
w(bad, "v2-file-tree-name-twice.torrent", v2tree(b'd1:a' + LEAF + b'1:a' + LEAF + b'e'))
w(bad, "hybrid-file-sizes-differ.torrent", mutate(hybrid, lambda e: e[b'info'][b'files'][0].__setitem__(b'length', e[b'info'][b'files'][0][b'length'] - 1)))
w(bad, "hybrid-file-names-differ.torrent", mutate(hybrid, lambda e: e[b'info'][b'files'][0].__setitem__(b'path', [b'data', b'z.bin'])))

# BEP 9 metadata of a hybrid, wrapped as tt download wraps it: no piece layers, v1 hashes verify.
w(good, "hybrid-without-piece-layers.torrent", mutate(hybrid, lambda e: e.pop(b'piece layers')))

# --- ambiguous: libtorrent loads them and guesses; tt refuses unless `info --lenient` ----------
w(bad, "duplicate-key-different-values.torrent",
  b"d8:announce30:" + TR.encode() + b"4:infod6:lengthi10e4:name1:a4:name1:b12:piece lengthi16384e6:pieces20:" + H + b"ee")
w(bad, "duplicate-top-level-announce.torrent",
  b"d8:announce30:" + TR.encode() + b"8:announce30:http://127.0.0.9:6969/announce4:infod6:lengthi10e4:name1:a12:piece lengthi16384e6:pieces20:" + H + b"ee")
w(bad, "unsafe-path-backslash.torrent", multi([F(["a\\..\\b"])]))
w(bad, "unsafe-path-nul.torrent", multi([F(["a\x00b"])]))
w(bad, "unsafe-path-drive-letter.torrent", multi([F(["C:", "x"])]))
w(bad, "unsafe-path-absolute-component.torrent", multi([F(["/etc", "passwd"])]))
w(bad, "unsafe-path-name-backslash.torrent", single(name="..\\..\\x"))
w(bad, "duplicate-path.torrent", multi([F(["x"]), F(["x"])]))
w(bad, "path-both-file-and-folder.torrent", multi([F(["a"]), F(["a", "b"])]))
w(bad, "symlink-outside-torrent.torrent", multi([F(["a"], 5), F(["l"], 0, attr="l", **{"symlink path": ["..", "..", "etc"]})]))

# --- valid but odd: both load them, with the same files, offsets and attributes -----------------
w(good, "bep47-pad-without-path.torrent", multi([F(["a"], 16383), F(None, 1, attr="p"), F(["b"], 100)]))
w(good, "bep47-legacy-padding-file-name.torrent", multi([F(["a"], 16383), F(["_____padding_file_0_"], 1), F(["b"], 100)]))
w(good, "bep47-symlink-without-length.torrent", multi([F(["a"], 5), {"path": ["l"], "attr": "l", "symlink path": ["a"]}, F(["b"], 7)]))
w(good, "bep47-symlink-length-ignored.torrent", multi([F(["a"], 5), F(["l"], 100, attr="l", **{"symlink path": ["a"]}), F(["b"], 7)]))
w(good, "bep47-executable-and-hidden.torrent", multi([F(["run.sh"], 5, attr="x"), F([".hidden"], 7, attr="h"), F(["both"], 9, attr="xh")]))
w(good, "name-not-utf8.torrent", multi([F([b"caf\xe9.txt"], 5), F(["b"], 7)], name=b"d\xff"))
w(good, "name-with-ansi-escape.torrent", multi([F(["\x1b[2J\x1b[31mred"], 5), F(["\x1b]0;title\x07"], 7)], name="\x1b[1mbold"))
# `name.utf-8` and `path.utf-8` win over `name` and `path` (both read them first).
w(good, "name-utf8-keys-preferred.torrent", b"d4:infod5:filesld6:lengthi5e4:pathl4:caf\xe9e10:path.utf-8l5:caf\xc3\xa9eee"
  b"4:name2:d\xff10:name.utf-83:d\xc3\xa912:piece lengthi16384e6:pieces20:" + H + b"ee")
