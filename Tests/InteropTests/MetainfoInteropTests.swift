import Foundation
import JSON
import TestSupport
import Testing

/// `tt info` and `tt create` checked against independent implementations:
/// Transmission's `transmission-show` and libtorrent's `torrent_info`.
@Suite(.serialized) struct MetainfoInteropTests {
    static let goodFixtures: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: fixture("good"))) ?? []
        return names.filter { $0.hasSuffix(".torrent") }.sorted()
    }()

    /// What libtorrent says of a torrent: hashes, name, size, files (pad files left out).
    func libtorrentView(_ path: String) throws -> JSONValue {
        let script = """
        import json, sys, libtorrent as lt
        ti = lt.torrent_info(sys.argv[1])
        h = ti.info_hashes()
        fs = ti.files()
        strip = lambda p: p[len(ti.name()) + 1:] if p.startswith(ti.name() + "/") else p
        files = [{"path": strip(fs.file_path(i)), "size": fs.file_size(i)}
                 for i in range(fs.num_files()) if not fs.file_flags(i) & lt.file_storage.flag_pad_file]
        v1 = str(h.v1) if h.has_v1() else None
        v2 = str(h.v2) if h.has_v2() else None
        print(json.dumps({"v1": v1, "v2": v2, "name": ti.name(), "total_size": sum(f["size"] for f in files), "files": files, "pieces": ti.num_pieces()}))
        """
        let result = RealTools.python(script, [path])
        try #require(result.status == 0, "libtorrent failed: \(result.output)")
        return try JSONParser().parse(Array(result.output.split(separator: "\n").last.map(String.init)!.utf8))
    }

    func ttView(_ path: String) throws -> JSONValue {
        let result = CLI.run(["info", "--json", path])
        try #require(result.code == 0, "\(result.stderr)")
        return try JSONParser().parse(result.stdout)
    }

    /// The parameterised tests below run once per fixture: an empty list would pass them all unseen.
    @Test func theFixtureListIsNotEmpty() {
        #expect(Self.goodFixtures.count >= 8, "Fixtures/good holds \(Self.goodFixtures.count) torrents")
        #expect(Self.goodFixtures.filter { !$0.contains("v2") && !$0.contains("hybrid") }.count >= 5)
    }

    @Test(arguments: goodFixtures)
    func infoAgreesWithLibtorrent(name: String) throws {
        try #require(RealTools.libtorrent, "python3-libtorrent could not be installed")
        let ours = try ttView(fixture("good/\(name)"))
        let theirs = try libtorrentView(fixture("good/\(name)"))
        #expect(ours["info_hash"] == theirs["v1"])
        #expect(ours["info_hash_v2"] == theirs["v2"])
        #expect(ours["name"] == theirs["name"])
        #expect(ours["total_size"] == theirs["total_size"])
        let ourFiles = (ours["files"]?.arrayValue ?? []).filter { $0["padding"] == .bool(false) }.map { [$0["path"]!, $0["size"]!] }
        let theirFiles = (theirs["files"]?.arrayValue ?? []).map { [$0["path"]!, $0["size"]!] }
        #expect(ourFiles == theirFiles)
        #expect(ours["piece_count"] == theirs["pieces"])
    }

    /// Transmission 3.00 reads neither v2 nor hybrid torrents ("Error parsing .torrent file").
    @Test(arguments: goodFixtures.filter { !$0.contains("v2") && !$0.contains("hybrid") })
    func infoAgreesWithTransmissionShow(name: String) throws {
        let show = try #require(RealTools.transmissionShow, "transmission-cli could not be installed")
        let result = runCommand(show, [fixture("good/\(name)")])
        try #require(result.status == 0, "\(result.output)")
        let ours = try ttView(fixture("good/\(name)"))
        let text = result.output
        #expect(text.contains("Hash: \(ours["info_hash"]!.stringValue!)"), "\(text)")
        #expect(text.contains("Name: \(ours["name"]!.stringValue!)"))
        #expect(text.contains("Piece Count: \(ours["piece_count"]!.intValue!)"))
        // Transmission lists files as "  NAME/PATH (SIZE)"; check every path appears.
        for file in ours["files"]?.arrayValue ?? [] where file["padding"] == .bool(false) {
            #expect(text.contains(file["path"]!.stringValue!), "missing \(file["path"]!) in transmission-show output")
        }
        #expect(text.contains("Privacy: \(ours["private"] == .bool(true) ? "Private" : "Public") torrent"))
    }

    /// Torrents made by `tt create` load in libtorrent with the same info hashes, and libtorrent's
    /// own recheck of the data against them finds every piece good — v1, v2 and hybrid.
    @Test(arguments: ["v1", "v2", "hybrid"])
    func createdTorrentsCheckOutInLibtorrent(version: String) throws {
        try #require(RealTools.libtorrent, "python3-libtorrent could not be installed")
        let directory = TemporaryDirectory()
        directory.write("set/big.bin", pseudoRandomBytes(count: 300_000, seed: 11))
        directory.write("set/small.txt", pseudoRandomBytes(count: 5_000, seed: 12))
        directory.write("set/deeper/mid.bin", pseudoRandomBytes(count: 65_536, seed: 13))
        var arguments = ["create", "set", "--no-date", "--piece-size", "32K", "-o", "set.torrent", "-a", "http://127.0.0.1:1/announce"]
        if version != "v1" { arguments.append("--\(version)") }
        let created = CLI.run(arguments, cwd: directory.path)
        try #require(created.code == 0, "\(created.stderr)")
        let ours = try ttView(directory.file("set.torrent"))
        let theirs = try libtorrentView(directory.file("set.torrent"))
        #expect(ours["info_hash"] == theirs["v1"])
        #expect(ours["info_hash_v2"] == theirs["v2"])
        let recheck = """
        import sys, time, libtorrent as lt
        s = lt.session({"enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False, "listen_interfaces": "127.0.0.1:0"})
        h = s.add_torrent({"ti": lt.torrent_info(sys.argv[1]), "save_path": sys.argv[2]})
        deadline = time.time() + 60
        while time.time() < deadline:
            st = h.status()
            if st.state in (lt.torrent_status.seeding, lt.torrent_status.finished) or (st.state == lt.torrent_status.downloading and st.progress < 1):
                break
            time.sleep(0.1)
        st = h.status()
        print(st.num_pieces, st.is_seeding)
        """
        let result = RealTools.python(recheck, [directory.file("set.torrent"), directory.path])
        #expect(result.output.contains("True"), "libtorrent did not accept the data as complete: \(result.output)")
    }
}
