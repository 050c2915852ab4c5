import Bencode
import Foundation
import JSON
import Metainfo
import TestSupport
import Testing

/// `tt info` and `tt create` checked against independent implementations:
/// Transmission's `transmission-show` and libtorrent's `torrent_info`.
@Suite(.serialized) struct MetainfoInteropTests {
    static let goodFixtures: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: fixture("good"))) ?? []
        return names.filter { $0.hasSuffix(".torrent") }.sorted()
    }()

    /// Every fixture, good and bad: each must be judged by tt as libtorrent judges it.
    static let allFixtures: [String] = ["good", "bad"].flatMap { folder in
        ((try? FileManager.default.contentsOfDirectory(atPath: fixture(folder))) ?? [])
            .filter { $0.hasSuffix(".torrent") }.sorted().map { "\(folder)/\($0)" }
    }

    /// Rules where tt refuses what libtorrent loads, on purpose (tt-info(1) "VALIDATION RULES").
    static let deliberatelyStricter: Set<String> = [
        "duplicate_key", "unsafe_path", "duplicate_path", "file_and_folder", "unsafe_symlink",
        "missing_piece_layer", "piece_layer_mismatch", "unknown_piece_layer",
    ]

    /// libtorrent's view of many torrents, in one Python process: valid or its error; hashes, name,
    /// pieces and every file (pad files included) with size, offset, attributes and symlink target.
    static let oracle = """
    import json, sys, libtorrent as lt
    out = {}
    for path in sys.argv[1:]:
        try:
            ti = lt.torrent_info(open(path, 'rb').read())
        except Exception as e:
            out[path] = {"valid": False, "error": str(e)}; continue
        fs, h = ti.files(), ti.info_hashes()
        files = []
        for i in range(fs.num_files()):
            fl = fs.file_flags(i)
            attr = "".join(c for c, f in (("p", lt.file_storage.flag_pad_file), ("l", lt.file_storage.flag_symlink),
                                           ("x", lt.file_storage.flag_executable), ("h", lt.file_storage.flag_hidden)) if fl & f)
            files.append({"path": fs.file_path(i), "size": fs.file_size(i), "offset": fs.file_offset(i), "attr": attr,
                          "symlink": fs.symlink(i) if fl & lt.file_storage.flag_symlink else None})
        out[path] = {"valid": True, "v1": str(h.v1) if h.has_v1() else None, "v2": str(h.v2) if h.has_v2() else None,
                     "name": ti.name(), "pieces": ti.num_pieces(), "files": files}
    print(json.dumps(out))
    """

    static func libtorrentViews(_ paths: [String]) throws -> [String: JSONValue] {
        let result = RealTools.python(oracle, paths)
        try #require(result.status == 0, "libtorrent failed: \(result.output)")
        let parsed = try JSONParser().parse(Array(result.output.split(separator: "\n").last.map(String.init)!.utf8))
        var views: [String: JSONValue] = [:]
        for path in paths { views[path] = parsed[path] }
        return views
    }

    /// Compares one torrent that both load: hashes, pieces, and every non-pad file's path (as written
    /// to disk), size, offset, attributes and symlink target.
    func expectSameTorrent(_ ours: JSONValue, _ theirs: JSONValue, _ label: String) {
        #expect(ours["info_hash"] == theirs["v1"], "\(label)")
        #expect(ours["info_hash_v2"] == theirs["v2"], "\(label)")
        #expect(ours["piece_count"] == theirs["pieces"], "\(label)")
        let name = theirs["name"]?.stringValue ?? ""
        let strip = { (path: String) in path.hasPrefix(name + "/") ? String(path.dropFirst(name.count + 1)) : path }
        let disk = { (path: String) in path.split(separator: "/", omittingEmptySubsequences: false).map { Torrent.diskComponent(String($0)) }.joined(separator: "/") }
        #expect(disk(ours["name"]?.stringValue ?? "") == name, "\(label)")
        let ourFiles = (ours["files"]?.arrayValue ?? []).filter { $0["padding"] == .bool(false) }
        let theirFiles = (theirs["files"]?.arrayValue ?? []).filter { !($0["attr"]?.stringValue ?? "").contains("p") }
        #expect(ourFiles.count == theirFiles.count, "\(label): file count")
        for (one, two) in zip(ourFiles, theirFiles) {
            #expect(disk(one["path"]?.stringValue ?? "") == strip(two["path"]?.stringValue ?? ""), "\(label)")
            #expect(one["size"] == two["size"], "\(label) \(one["path"]!)")
            #expect(one["offset"] == two["offset"], "\(label) \(one["path"]!)")
            let attributes = { (text: String) in String(text.filter { "lxh".contains($0) }.sorted()) }
            #expect(attributes(one["attributes"]?.stringValue ?? "") == attributes(two["attr"]?.stringValue ?? ""), "\(label) \(one["path"]!)")
            if let target = one["symlink_target"]?.stringValue {
                #expect(two["symlink"]?.stringValue == name + "/" + target, "\(label) \(one["path"]!)")
            }
        }
        // Pad files count too, where both list them (v2-only torrents get implicit pads in libtorrent only).
        if ours["version"] != .string("v2") {
            #expect((ours["files"]?.arrayValue ?? []).count == (theirs["files"]?.arrayValue ?? []).count, "\(label): pad files")
        }
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
        #expect(Self.allFixtures.count >= 60, "Fixtures/good and bad hold \(Self.allFixtures.count) torrents")
    }

    @Test func everyFixtureIsJudgedAsLibtorrentJudgesIt() throws {
        try #require(RealTools.libtorrent, "python3-libtorrent could not be installed")
        try #require(Self.allFixtures.count >= 60, "fixtures missing: \(Self.allFixtures.count)")
        let views = try Self.libtorrentViews(Self.allFixtures.map { fixture($0) })
        for name in Self.allFixtures {
            let theirs = try #require(views[fixture(name)], "\(name): no libtorrent view")
            let result = CLI.run(["info", "--json", fixture(name)])
            let ours = try JSONParser().parse(result.stdout)
            let valid = theirs["valid"] == .bool(true)
            if result.code == 0 {
                #expect(valid, "\(name): tt loads it, libtorrent says \(theirs["error"]?.stringValue ?? "")")
                if valid { expectSameTorrent(ours, theirs, name) }
                continue
            }
            #expect(result.code == 65, "\(name): exit \(result.code) \(result.stderr)")
            let kind = ours["error"]?["kind"]?.stringValue ?? ""
            if Self.deliberatelyStricter.contains(kind) {
                #expect(valid, "\(name): libtorrent refuses it too (\(kind)): update the rule table")
                if MetainfoRule(rawValue: kind)?.severity == .ambiguous {
                    // Shown anyway with --lenient: the same identity as libtorrent's.
                    let lenient = CLI.run(["info", "--json", "--lenient", fixture(name)])
                    #expect(lenient.code == 0, "\(name): \(lenient.stderr)")
                    let shown = try JSONParser().parse(lenient.stdout)
                    #expect(shown["info_hash"] == theirs["v1"] && shown["info_hash_v2"] == theirs["v2"], "\(name)")
                    #expect(shown["problems"]?.arrayValue?.isEmpty == false, "\(name)")
                }
            } else {
                #expect(!valid, "\(name): tt refuses it (\(kind): \(result.stderr)) but libtorrent loads it")
            }
        }
    }

    /// Transmission 3.00 reads neither v2 nor hybrid torrents ("Error parsing .torrent file").
    /// (It also lists BEP 47 symlinks and odd names its own way: those fixtures are checked against libtorrent.)
    @Test(arguments: goodFixtures.filter { !$0.contains("v2") && !$0.contains("hybrid") && !$0.hasPrefix("bep47-") && !$0.hasPrefix("name-") })
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
        let theirs = try #require(try Self.libtorrentViews([directory.file("set.torrent")]).values.first)
        expectSameTorrent(ours, theirs, version)
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

    /// `tt create` writes BEP 47 attributes (executable, symlink inside the folder, pad files in
    /// hybrids) that libtorrent reads back the same.
    @Test(arguments: ["v1", "v2", "hybrid"])
    func createdAttributesLoadInLibtorrent(version: String) throws {
        try #require(RealTools.libtorrent, "python3-libtorrent could not be installed")
        let directory = TemporaryDirectory()
        let script = directory.write("set/bin/run.sh", pseudoRandomBytes(count: 40_000, seed: 21))
        chmod(script, 0o755)
        directory.write("set/data/a.bin", pseudoRandomBytes(count: 70_000, seed: 22))
        try FileManager.default.createSymbolicLink(atPath: directory.file("set/link"), withDestinationPath: "data/a.bin")
        directory.write("elsewhere.bin", [1, 2, 3])
        try FileManager.default.createSymbolicLink(atPath: directory.file("set/escape"), withDestinationPath: "../elsewhere.bin")
        var arguments = ["create", "set", "--no-date", "--piece-size", "16K", "-o", "set.torrent"]
        if version != "v1" { arguments.append("--\(version)") }
        let created = CLI.run(arguments, cwd: directory.path)
        try #require(created.code == 0, "\(created.stderr)")
        // A link leading outside is left out (seed and verify never read through one), with a warning.
        #expect(created.stderr.contains("left out \"escape\""), "\(created.stderr)")
        let verified = CLI.run(["verify", "--torrent", "set.torrent", "set"], cwd: directory.path)
        #expect(verified.code == 0, "\(verified.stderr)")
        let ours = try ttView(directory.file("set.torrent"))
        let theirs = try #require(try Self.libtorrentViews([directory.file("set.torrent")]).values.first)
        expectSameTorrent(ours, theirs, version)
        let files = ours["files"]?.arrayValue ?? []
        #expect(files.contains { $0["path"] == .string("bin/run.sh") && $0["attributes"] == .string("x") })
        #expect(files.contains { $0["path"] == .string("link") && $0["symlink_target"] == .string("data/a.bin") && $0["size"] == .int(0) })
        if version == "hybrid" { #expect(files.contains { $0["padding"] == .bool(true) }) }
        #expect(!files.contains { $0["path"] == .string("escape") })
        let theirAttributes = (theirs["files"]?.arrayValue ?? []).compactMap { $0["attr"]?.stringValue }.filter { !$0.isEmpty }
        #expect(theirAttributes.contains("x") && theirAttributes.contains("l"), "\(theirAttributes)")
    }

    /// A torrent with an executable and a symlink, seeded by libtorrent, downloaded by tt: the data
    /// arrives byte for byte, the executable keeps its bit, the link is made inside the folder.
    @Test func downloadFromLibtorrentAppliesAttributes() throws {
        try #require(RealTools.libtorrent, "python3-libtorrent could not be installed")
        let directory = TemporaryDirectory()
        let script = directory.write("src/set/bin/run.sh", pseudoRandomBytes(count: 40_000, seed: 31))
        chmod(script, 0o755)
        directory.write("src/set/data/a.bin", pseudoRandomBytes(count: 70_000, seed: 32))
        try FileManager.default.createSymbolicLink(atPath: directory.file("src/set/link"), withDestinationPath: "data/a.bin")
        let created = CLI.run(["create", "src/set", "--no-date", "--hybrid", "--piece-size", "16K", "-o", "set.torrent"], cwd: directory.path)
        try #require(created.code == 0, "\(created.stderr)")
        let seeder = try Seeders.libtorrentSeeder(torrent: directory.file("set.torrent"), dataFolder: directory.file("src"), host: "127.0.0.2")
        defer { seeder.stop() }
        let port = seeder.port
        let result = runCommand(ttExecutable, ["download", directory.file("set.torrent"), "-o", directory.file("out"),
                                               "--peer", "127.0.0.2:\(port)", "--no-trackers", "-q"], timeout: 120)
        #expect(result.status == 0, "\(result.output)")
        #expect(readBytes(directory.file("out/set/bin/run.sh")) == readBytes(script))
        #expect(readBytes(directory.file("out/set/data/a.bin")) == readBytes(directory.file("src/set/data/a.bin")))
        var info = stat()
        #expect(stat(directory.file("out/set/bin/run.sh"), &info) == 0 && info.st_mode & 0o100 != 0, "run.sh lost its x bit")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: directory.file("out/set/link")) == "data/a.bin")
    }

    // MARK: - tt info's verdicts on the command line

    @Test func ambiguousTorrentIsPrintedThenRefusedUnlessLenient() throws {
        let path = fixture("bad/duplicate-path.torrent")
        let refused = CLI.run(["info", path])
        #expect(refused.code == 65)
        #expect(refused.stdoutText.contains("files"), "prints what it can: \(refused.stdoutText)")
        #expect(refused.stderr.contains("has the path of an earlier file") && refused.stderr.contains("--lenient"), "\(refused.stderr)")
        let json = CLI.run(["info", "--json", path])
        #expect(json.code == 65)
        #expect(try JSONParser().parse(json.stdout)["error"]?["kind"] == .string("duplicate_path"))
        let lenient = CLI.run(["info", "--lenient", path])
        #expect(lenient.code == 0, "\(lenient.stderr)")
        #expect(lenient.stderr.contains("warning") && lenient.stderr.contains("duplicate_path"))
    }

    @Test func hugeLengthExits65NamingTheField() {
        let result = CLI.run(["info", fixture("bad/length-2-63-minus-1.torrent")])
        #expect(result.code == 65, "\(result.code) \(result.stderr)")
        #expect(result.stderr.contains("'length'"), "\(result.stderr)")
    }

    @Test func escapeSequencesNeverReachTheTerminalButJSONIsExact() throws {
        let path = fixture("good/name-with-ansi-escape.torrent")
        let text = CLI.run(["info", path])
        #expect(text.code == 0, "\(text.stderr)")
        #expect(!text.stdout.contains(0x1B) && !text.stdout.contains(0x07), "raw control bytes in: \(text.stdoutText)")
        #expect(text.stdoutText.contains("\\u{1B}[1mbold"))
        let json = try JSONParser().parse(CLI.run(["info", "--json", path]).stdout)
        #expect(json["name"] == .string("\u{1B}[1mbold"))
        let notUTF8 = CLI.run(["info", fixture("good/name-not-utf8.torrent")])
        #expect(notUTF8.stdoutText.contains("d\\xff") && notUTF8.stdoutText.contains("caf\\xe9.txt"), "\(notUTF8.stdoutText)")
        let directory = TemporaryDirectory()
        directory.write("data/file", [1, 2, 3])
        let created = CLI.run(["create", "data", "--no-date", "--name", "\u{1B}[31mx", "-o", "x.torrent"], cwd: directory.path)
        #expect(created.code == 0, "\(created.stderr)")
        #expect(!created.stdout.contains(0x1B) && created.stdoutText.contains("\\u{1B}[31mx"), "\(created.stdoutText)")
    }

    /// The last line of defence: every command's text output and messages (here verify's, which prints
    /// the name as it is) pass through TerminalText, so no command can forget.
    @Test func everyCommandsTextOutputIsEscaped() throws {
        let directory = TemporaryDirectory()
        directory.write("d/x", [0])
        let verify = CLI.run(["verify", "--torrent", fixture("good/name-with-ansi-escape.torrent"), directory.file("d")])
        #expect(verify.code == 1, "\(verify.code) \(verify.stderr)")  // the check ran: its files are missing
        #expect(!verify.stdout.contains(0x1B) && !verify.stderr.contains("\u{1B}"), "\(verify.stdoutText) \(verify.stderr)")
        #expect(verify.stdoutText.contains("\\u{1B}[1mbold") || verify.stderr.contains("\\u{1B}[1mbold"), "\(verify.stdoutText) \(verify.stderr)")
        #expect(TerminalText.escapeKeepingLayout("a\tb\nc\u{1B}[2J") == "a\tb\nc\\u{1B}[2J")
    }

    /// download, seed and verify refuse ambiguous and invalid torrents before touching the disk.
    @Test(arguments: ["bad/unsafe-path-dotdot.torrent", "bad/duplicate-path.torrent", "bad/symlink-outside-torrent.torrent",
                      "bad/length-2-63-minus-1.torrent", "bad/v2-piece-layer-not-matching-root.torrent"])
    func otherCommandsRefuseBeforeTouchingTheDisk(name: String) {
        let directory = TemporaryDirectory()
        let download = CLI.run(["download", fixture(name), "-o", directory.file("out"), "--peer", "127.0.0.1:1"])
        #expect(download.code == 65, "download: \(download.code) \(download.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("out")), "download created its folder")
        directory.write("data/x", [1, 2, 3])
        let verify = CLI.run(["verify", "--torrent", fixture(name), directory.file("data")])
        #expect(verify.code == 65, "verify: \(verify.code) \(verify.stderr)")
        let seed = CLI.run(["seed", fixture(name), directory.file("data"), "--port", "0"])
        #expect(seed.code == 65, "seed: \(seed.code) \(seed.stderr)")
        #expect(readBytes(directory.file("data/x")) == [1, 2, 3])
    }
}
