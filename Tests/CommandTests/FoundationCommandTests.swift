import Bencode
import Foundation
import JSON
import TestSupport
import Testing

/// The metainfo-stage commands run in-process, checked on stdout, stderr and exit code.
@Suite struct FoundationCommandTests {
    func json(_ result: CLIResult) throws -> JSONValue {
        try JSONParser().parse(result.stdout)
    }

    @Test func helpAndVersion() {
        let help = CLI.run(["--help"])
        #expect(help.code == 0)
        for command in ["decode", "encode", "info", "create"] { #expect(help.stdoutText.contains(command)) }
        let version = CLI.run(["--version"])
        #expect(version.code == 0 && version.stdoutText.hasPrefix("tt "))
        let infoHelp = CLI.run(["info", "--help"])
        #expect(infoHelp.code == 0 && infoHelp.stdoutText.contains("Usage: tt info"))
        #expect(CLI.run([]).code == 64)
    }

    @Test func usageErrorsExit64WithAHint() {
        let typo = CLI.run(["info", "--jsn", fixture("good/tt-single.torrent")])
        #expect(typo.code == 64)
        #expect(typo.stderr.contains("did you mean --json?"))
        #expect(typo.stderr.split(separator: "\n").count == 1)
        let command = CLI.run(["inf", "x"])
        #expect(command.code == 64 && command.stderr.contains("did you mean 'info'?"))
        #expect(CLI.run(["info"]).code == 64)
        #expect(CLI.run(["info", "a", "b"]).code == 64)
        #expect(CLI.run(["create", "x"]).code == 64)  // no -o
    }

    @Test func infoJSONHasTheConventionShape() throws {
        let result = CLI.run(["info", "--json", fixture("good/mktorrent-multi-private.torrent")])
        #expect(result.code == 0)
        let value = try json(result)
        #expect(value["name"] == "multi")
        #expect(value["info_hash"]?.stringValue?.count == 40)
        #expect(value["info_hash_v2"] == .null)
        #expect(value["total_size"] == .int(111_235))
        #expect(value["piece_count"] == .int(4))
        #expect(value["private"] == .bool(true))
        #expect(value["files"]?.arrayValue?.count == 4)
        #expect(value["files"]?.arrayValue?.first?["path"] == "data/a.bin")
        #expect(value["magnet"]?.stringValue?.hasPrefix("magnet:?xt=urn:btih:") == true)
        #expect(value["pieces"] == nil)
        let withPieces = try json(CLI.run(["info", "--json", "--pieces", fixture("good/mktorrent-multi-private.torrent")]))
        #expect(withPieces["pieces"]?.arrayValue?.count == 4)
    }

    @Test func infoReadsStdinAndReportsUnsafePaths() throws {
        let bytes = readBytes(fixture("bad/unsafe-path-dotdot.torrent"))
        // An unsafe path is refused (tt-info.1 "VALIDATION RULES") after printing what can be shown.
        let result = CLI.run(["info", "-"], stdin: bytes)
        #expect(result.code == 65)
        #expect(result.stderr.contains("unsafe path \"../etc/passwd\" (file 0): a '..' component"), "\(result.stderr)")
        #expect(result.stdoutText.contains("info hash"))
        let lenient = CLI.run(["info", "--lenient", "-"], stdin: bytes)
        #expect(lenient.code == 0)
        #expect(lenient.stderr.contains("warning") && lenient.stderr.contains("unsafe_path"))
    }

    @Test func badInputExitCodes() throws {
        let missing = CLI.run(["info", "/nonexistent/x.torrent"])
        #expect(missing.code == 66)
        #expect(missing.stderr == "tt: error: /nonexistent/x.torrent: no such file\n")
        let truncated = CLI.run(["info", "--json", fixture("bad/truncated.torrent")])
        #expect(truncated.code == 65)
        #expect(truncated.stderr.contains("offset 247"))
        let error = try json(truncated)["error"]
        #expect(error?["kind"] == "bad_bencode")
        #expect(error?["offset"] == "247")
        #expect(CLI.run(["decode", fixture("bad/deep-nesting-100000.torrent")]).code == 65)
        #expect(CLI.run(["info", fixture("bad/piece-count-mismatch.torrent")]).code == 65)
        #expect(CLI.run(["encode", "-"], stdin: Array("{\"a\": null}".utf8)).code == 65)
        #expect(CLI.run(["encode", "-"], stdin: Array("{".utf8)).code == 65)
    }

    @Test(arguments: ["good/tt-single.torrent", "good/libtorrent-hybrid-multi.torrent", "good/transmission-multi.torrent",
                      "bad/unsorted-info-keys.torrent", "bad/trailing-garbage.torrent"])
    func decodeThenEncodeGivesBackTheSameBytes(name: String) {
        let original = readBytes(fixture(name))
        let decoded = CLI.run(["decode", fixture(name)])
        #expect(decoded.code == 0)
        let encoded = CLI.run(["encode"], stdin: decoded.stdout)
        #expect(encoded.code == 0)
        if name.contains("trailing") {
            #expect(encoded.stdout == Array(original.dropLast(7)))  // trailing bytes are not part of the value
        } else {
            #expect(encoded.stdout == original)
        }
    }

    @Test func decodeStrictRejectsWhatLenientWarnsAbout() {
        let lenient = CLI.run(["decode", fixture("bad/unsorted-info-keys.torrent")])
        #expect(lenient.code == 0 && lenient.stderr.contains("out of order"))
        let strict = CLI.run(["decode", "--strict", fixture("bad/unsorted-info-keys.torrent")])
        #expect(strict.code == 65)
        #expect(CLI.run(["decode", "-q", fixture("bad/unsorted-info-keys.torrent")]).stderr.isEmpty)
    }

    @Test func createIsReproducibleAndRefusesToOverwrite() throws {
        let directory = TemporaryDirectory()
        directory.write("content/one.bin", pseudoRandomBytes(count: 100_000, seed: 1))
        directory.write("content/two/three.bin", pseudoRandomBytes(count: 33_333, seed: 2))
        let first = CLI.run(["create", "content", "-a", "http://127.0.0.1:1/announce", "--no-date", "-o", "a.torrent", "--json"], cwd: directory.path)
        #expect(first.code == 0, "\(first.stderr)")
        let report = try json(first)
        #expect(report["piece_count"] == .int(9))
        let second = CLI.run(["create", "content", "-a", "http://127.0.0.1:1/announce", "--no-date", "-o", "b.torrent"], cwd: directory.path)
        #expect(second.code == 0)
        #expect(readBytes(directory.file("a.torrent")) == readBytes(directory.file("b.torrent")))
        let again = CLI.run(["create", "content", "-o", "a.torrent"], cwd: directory.path)
        #expect(again.code == 74 && again.stderr.contains("--force"))
        #expect(readBytes(directory.file("a.torrent")) == readBytes(directory.file("b.torrent")))
        let info = try json(CLI.run(["info", "--json", "a.torrent"], cwd: directory.path))
        #expect(info["info_hash"] == report["info_hash"])
        #expect(info["trackers"] == .array([.array(["http://127.0.0.1:1/announce"])]))
        #expect(CLI.run(["create", "nothing-here", "-o", "c.torrent"], cwd: directory.path).code == 66)
        #expect(CLI.run(["create", "content", "--piece-size", "1000", "-o", "c.torrent"], cwd: directory.path).code == 64)
    }

    @Test func infoShowsWhatAMagnetLinkCarries() throws {
        let torrent = try JSONParser().parse(CLI.run(["info", "--json", fixture("good/mktorrent-single.torrent")]).stdout)
        let link = try #require(torrent["magnet"]?.stringValue)
        let result = CLI.run(["info", "--json", link])
        #expect(result.code == 0, "\(result.stderr)")
        let value = try JSONParser().parse(result.stdout)
        #expect(value["info_hash"] == torrent["info_hash"])
        #expect(value["name"] == torrent["name"])
        #expect(value["trackers"] == .array([.array(["http://127.0.0.1:6969/announce"]), .array(["udp://127.0.0.1:6969/announce"])]))
        #expect(CLI.run(["info", "magnet:?dn=nothing"]).code == 65)
    }
}
