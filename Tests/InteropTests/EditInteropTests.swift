import Bencode
import Foundation
import JSON
import Metainfo
import TestSupport
import Testing

/// `tt edit` checked by libtorrent: the edited torrent loads with the trackers, tiers, web seeds,
/// comment, private flag and info hash that `tt edit` reported.
@Suite struct EditInteropTests {
    /// What libtorrent reads from a .torrent.
    func libtorrentView(_ path: String) throws -> JSONValue {
        let script = """
        import json, sys, libtorrent as lt
        ti = lt.torrent_info(sys.argv[1])
        tiers = {}
        for t in ti.trackers(): tiers.setdefault(t.tier, []).append(t.url)
        print(json.dumps({"info_hash": str(ti.info_hashes().v1), "private": ti.priv(), "comment": ti.comment(),
                          "trackers": [sorted(tiers[k]) for k in sorted(tiers)],
                          "web_seeds": [w["url"] for w in ti.web_seeds()]}))
        """
        let result = RealTools.python(script, [path])
        try #require(result.status == 0, "libtorrent failed: \(result.output)")
        return try JSONParser().parse(Array(result.output.split(separator: "\n").last.map(String.init)!.utf8))
    }

    func edit(_ arguments: [String]) throws -> JSONValue {
        let result = CLI.run(["edit", "--json"] + arguments)
        try #require(result.code == 0, "\(result.stderr)")
        return try JSONParser().parse(result.stdout)
    }

    /// A torrent with a top-level key and an info key tt does not know, from real bytes.
    func torrentWithUnknownKeys(_ directory: TemporaryDirectory) throws -> String {
        let base = readBytes(fixture("good/mktorrent-single.torrent"))
        let document = try BencodeDecoder().decode(base)
        guard case .dictionary(var top) = document.root, case .dictionary(var info)? = document.root["info"] else {
            throw TTTestError("fixture is not a dictionary")
        }
        info.append(BencodeEntry("x-unknown-info", .string("kept")))
        top = top.map { $0.key == Array("info".utf8) ? BencodeEntry("info", .dictionary(info)) : $0 }
        top.append(BencodeEntry("x-unknown-top", .list([.integer(7)])))
        return directory.write("in.torrent", BencodeValue.dictionary(top).encoded())
    }

    @Test func trackerAndWebSeedEditsKeepTheInfoHashAndLibtorrentReadsThem() throws {
        try #require(RealTools.libtorrent, "python3-libtorrent is not installed (scripts/install-tools installs it)")
        let directory = TemporaryDirectory("tt-edit")
        let input = try torrentWithUnknownKeys(directory)
        let before = try Torrent(bytes: readBytes(input))
        let report = try edit([input, "-o", directory.file("out.torrent"),
                               "--remove-tracker", "*", "--add-tracker", "http://127.0.0.1:6969/announce",
                               "--add-tracker", "udp://127.0.0.1:6969/announce", "--tier", "1",
                               "--add-tracker", "http://127.0.0.2:6969/announce",
                               "--web-seed", "http://127.0.0.1:8080/files/", "--comment", "edited by tt"])
        #expect(report["info_hash_changed"] == .bool(false))
        #expect(report["info_hash"]?.stringValue == before.infoHashes.v1Hex)
        #expect(report["original_info_hash"]?.stringValue == before.infoHashes.v1Hex)
        // --tier 1 puts every added tracker in tier 1 (the only tier left after removing them all).
        let outBytes = readBytes(directory.file("out.torrent"))
        let after = try Torrent(bytes: outBytes)
        #expect(after.infoBytes == before.infoBytes)
        let text = String(decoding: outBytes, as: UTF8.self)
        #expect(text.contains("x-unknown-info") && text.contains("13:x-unknown-topli7ee"))

        let theirs = try libtorrentView(directory.file("out.torrent"))
        #expect(theirs["info_hash"]?.stringValue == before.infoHashes.v1Hex)
        // libtorrent shuffles each tier (BEP 12), so tiers are compared sorted.
        #expect(report["trackers"] == .array([.array(["http://127.0.0.1:6969/announce", "udp://127.0.0.1:6969/announce",
                                                      "http://127.0.0.2:6969/announce"])]))
        #expect(theirs["trackers"] == .array([.array(["http://127.0.0.1:6969/announce", "http://127.0.0.2:6969/announce",
                                                      "udp://127.0.0.1:6969/announce"])]))
        #expect(theirs["web_seeds"] == .array(["http://127.0.0.1:8080/files/"]))
        #expect(theirs["comment"] == "edited by tt")
        #expect(theirs["private"] == .bool(false))
    }

    @Test func privateAndSourceChangeTheInfoHashAsLibtorrentComputesIt() throws {
        try #require(RealTools.libtorrent, "python3-libtorrent is not installed (scripts/install-tools installs it)")
        let directory = TemporaryDirectory("tt-edit")
        let input = try torrentWithUnknownKeys(directory)
        let original = try Torrent(bytes: readBytes(input))
        let privateReport = try edit([input, "-o", directory.file("private.torrent"), "--private", "--source", "TT"])
        #expect(privateReport["info_hash_changed"] == .bool(true))
        #expect(privateReport["original_info_hash"]?.stringValue == original.infoHashes.v1Hex)
        let newHash = try #require(privateReport["info_hash"]?.stringValue)
        #expect(newHash != original.infoHashes.v1Hex)
        let theirs = try libtorrentView(directory.file("private.torrent"))
        #expect(theirs["info_hash"]?.stringValue == newHash)
        #expect(theirs["private"] == .bool(true))
        let edited = try Torrent(bytes: readBytes(directory.file("private.torrent")))
        #expect(String(decoding: edited.infoBytes, as: UTF8.self).contains("14:x-unknown-info4:kept"))
        #expect(String(decoding: edited.infoBytes, as: UTF8.self).contains("7:privatei1e6:source2:TT"))

        // Undoing both edits gives back the original info dictionary, byte for byte.
        let back = try edit([directory.file("private.torrent"), "-o", directory.file("back.torrent"), "--no-private", "--source", ""])
        #expect(back["info_hash"]?.stringValue == original.infoHashes.v1Hex)
        #expect(try Torrent(bytes: readBytes(directory.file("back.torrent"))).infoBytes == original.infoBytes)
        // Asking for what is already there changes nothing.
        let same = try edit([directory.file("back.torrent"), "-o", directory.file("same.torrent"), "--no-private"])
        #expect(same["info_hash_changed"] == .bool(false))
    }

    @Test func aHybridTorrentGetsBothNewHashesAsLibtorrentComputesThem() throws {
        try #require(RealTools.libtorrent, "python3-libtorrent is not installed (scripts/install-tools installs it)")
        let directory = TemporaryDirectory("tt-edit")
        let report = try edit([fixture("good/libtorrent-hybrid-multi.torrent"), "-o", directory.file("h.torrent"), "--private"])
        #expect(report["info_hash_changed"] == .bool(true))
        let script = "import sys, libtorrent as lt; h = lt.torrent_info(sys.argv[1]).info_hashes(); print(h.v1, h.v2)"
        let result = RealTools.python(script, [directory.file("h.torrent")])
        try #require(result.status == 0, "\(result.output)")
        let hashes = result.output.split(separator: "\n").last.map { $0.split(separator: " ").map(String.init) } ?? []
        #expect(hashes == [report["info_hash"]?.stringValue ?? "", report["info_hash_v2"]?.stringValue ?? ""])
        #expect(report["info_hash_v2"] != report["original_info_hash_v2"])
    }

    @Test func createWebSeedWritesAURLListLibtorrentReads() throws {
        try #require(RealTools.libtorrent, "python3-libtorrent is not installed (scripts/install-tools installs it)")
        let directory = TemporaryDirectory("tt-edit")
        let data = directory.write("data.bin", pseudoRandomBytes(count: 50_000, seed: 19))
        let created = CLI.run(["create", data, "-o", directory.file("x.torrent"), "-q",
                               "--web-seed", "http://127.0.0.1:8080/data.bin", "-w", "http://127.0.0.2:8080/data.bin"])
        #expect(created.code == 0, "\(created.stderr)")
        let theirs = try libtorrentView(directory.file("x.torrent"))
        #expect(theirs["web_seeds"] == .array(["http://127.0.0.1:8080/data.bin", "http://127.0.0.2:8080/data.bin"]))
    }

    @Test func anOutOfOrderInfoDictionaryKeepsItsBytesAndHash() throws {
        let directory = TemporaryDirectory("tt-edit")
        let source = fixture("bad/unsorted-info-keys.torrent")
        let expected = String(decoding: readBytes(fixture("bad/unsorted-info-keys.sha1")), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let result = CLI.run(["edit", source, "-o", directory.file("out.torrent"), "-a", "udp://127.0.0.1:6969/announce"])
        #expect(result.code == 0, "\(result.stderr)")
        #expect(result.stdoutText.contains("info hash unchanged: \(expected)"))
        #expect(try Torrent(bytes: readBytes(directory.file("out.torrent"))).infoHashes.v1Hex == expected)
    }

    @Test func badInputAndOptionsExitWithTheirCodes() throws {
        let directory = TemporaryDirectory("tt-edit")
        let good = fixture("good/tt-single.torrent")
        #expect(CLI.run(["edit", directory.file("nope.torrent"), "-o", directory.file("o")]).code == 66)
        #expect(CLI.run(["edit", fixture("bad/truncated.torrent"), "-o", directory.file("o")]).code == 65)
        #expect(CLI.run(["edit", good]).code == 64)
        #expect(CLI.run(["edit", good, "-o", directory.file("o"), "-a", "ftp://x/announce"]).code == 64)
        #expect(CLI.run(["edit", good, "-o", directory.file("o"), "--tier", "2"]).code == 64)
        #expect(CLI.run(["edit", good, "-o", directory.file("o"), "--private", "--no-private"]).code == 64)
        #expect(CLI.run(["edit", good, "-o", directory.file("o"), "--web-seed", "ftp://x/"]).code == 64)
        let existing = directory.write("exists.torrent", [1, 2, 3])
        let refused = CLI.run(["edit", good, "-o", existing])
        #expect(refused.code == 74)
        #expect(readBytes(existing) == [1, 2, 3])
        let nothing = CLI.run(["edit", good, "-o", directory.file("o"), "--remove-tracker", "udp://nowhere/*"])
        #expect(nothing.code == 0)
        #expect(nothing.stderr.contains("matched no tracker"))
    }
}

struct TTTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
