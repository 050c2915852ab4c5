import Foundation
import JSON
import Metainfo
import Storage
import TestSupport
import Testing

@Suite struct VerifyCommandTests {
    func json(_ result: CLIResult) throws -> JSONValue {
        try JSONParser().parse(result.stdout)
    }

    @Test func goodDataExitsZeroWithASummary() throws {
        let fixture = try Fixture(files: [("", 100_000)])
        let result = CLI.run(["verify", "--torrent", fixture.torrentPath, fixture.content])
        #expect(result.code == 0, "\(result.stderr)")
        #expect(result.stdoutText.contains("7 pieces: 7 good, 0 bad, 0 missing"))
        #expect(result.stdoutText.hasSuffix("OK\n"))
    }

    @Test func jsonListsBadAndMissingPiecesPerFile() throws {
        let fixture = try Fixture(files: [("a", 40_000), ("b", 40_000), ("c", 40_000)])
        fixture.flipByte("a", at: 0)
        fixture.truncate("c", to: 30_000)
        let result = CLI.run(["verify", "--json", "-t", fixture.torrentPath, fixture.content])
        #expect(result.code == 1, "\(result.stderr)")
        let value = try json(result)
        #expect(value["ok"]?.boolValue == false)
        #expect(value["info_hash"]?.stringValue == fixture.torrent.infoHashes.v1Hex)
        #expect(value["pieces"]?["total"]?.intValue == 8)
        #expect(value["pieces"]?["bad"]?.intValue == 1)
        #expect(value["bad_pieces"]?.arrayValue == [.int(0)])
        // c holds 80000..<120000; 30000 bytes remain, so bytes from 110000 are missing: pieces 6 and 7.
        #expect(value["missing_pieces"]?.arrayValue == [.int(6), .int(7)])
        let files = try #require(value["files"]?.arrayValue)
        #expect(files.map { $0["status"]?.stringValue } == ["damaged", "complete", "short"])
        #expect(files[2]["actual_size"]?.intValue == 30_000)
        #expect(files[2]["size"]?.intValue == 40_000)
        #expect(files[0]["bad_pieces"]?.arrayValue == [.int(0)])
        #expect(value["bytes_checked"]?.intValue ?? 0 > 0)
        #expect(value["throughput"] != nil && value["seconds"] != nil)
    }

    @Test func progressJSONIsJSONLinesEndingInAResult() throws {
        let fixture = try Fixture(files: [("", 300_000)])
        let result = CLI.run(["verify", "--json", "--progress", "-t", fixture.torrentPath, fixture.content])
        #expect(result.code == 0)
        let lines = result.stdoutText.split(separator: "\n")
        let events = try lines.map { try JSONParser().parse(Array($0.utf8)) }
        #expect(events.allSatisfy { $0["event"] != nil })
        #expect(events.last?["event"]?.stringValue == "result")
        #expect(events.last?["ok"]?.boolValue == true)
    }

    @Test func withoutATorrentItUsesTheDownloadStateOrSaysWhatIsMissing() throws {
        let fixture = try Fixture(files: [("x", 30_000), ("y", 3)])
        let missing = CLI.run(["verify", fixture.content])
        #expect(missing.code == 64)
        #expect(missing.stderr.contains("--torrent"))
        let state = ResumeState(infoHashHex: ResumeState.key(fixture.torrent.infoHashes), name: "data",
                                torrentBytes: fixture.torrentBytes, verified: Bitfield(pieceCount: fixture.torrent.pieceCount))
        try state.save(output: fixture.directory.path)
        let found = CLI.run(["verify", "--json", fixture.content])
        #expect(found.code == 0, "\(found.stderr)")
        #expect(try json(found)["ok"]?.boolValue == true)
    }

    @Test func exitCodesForMissingPathsAndBadTorrents() throws {
        let fixture = try Fixture(files: [("", 1000)])
        #expect(CLI.run(["verify", "-t", fixture.torrentPath, fixture.directory.file("nope")]).code == 66)
        let garbage = fixture.directory.write("bad.torrent", Array("d4:infoi3ee".utf8))
        let bad = CLI.run(["verify", "--json", "-t", garbage, fixture.content])
        #expect(bad.code == 65)
        #expect(try json(bad)["error"]?["kind"]?.stringValue == "bad_torrent")
        #expect(CLI.run(["verify", "-t", fixture.torrentPath]).code == 64)
        #expect(CLI.run(["verify", "--torent", fixture.torrentPath, fixture.content]).stderr.contains("--torrent"))
    }

    @Test func aTorrentWithAnEscapingPathIsRefused() throws {
        let directory = TemporaryDirectory()
        let info = "d5:filesld6:lengthi3e4:pathl2:..4:evileee4:name1:x12:piece lengthi16384e6:pieces20:" + String(repeating: "a", count: 20) + "e"
        let torrent = directory.write("evil.torrent", Array(("d4:info" + info + "e").utf8))
        try FileManager.default.createDirectory(atPath: directory.file("x"), withIntermediateDirectories: true)
        let result = CLI.run(["verify", "--json", "-t", torrent, directory.file("x")])
        #expect(result.code == 65)
        #expect(try json(result)["error"]?["kind"]?.stringValue == "unsafe_path")
    }

    @Test func aFolderForASingleFileTorrentMeansTheFileInsideIt() throws {
        let fixture = try Fixture(files: [("", 20_000)])
        let result = CLI.run(["verify", "-t", fixture.torrentPath, fixture.directory.path])
        #expect(result.code == 0, "\(result.stderr)")
    }

    @Test func v2TorrentsAreCheckedWithSHA256() throws {
        let fixture = try Fixture(files: [("a", 50_000), ("b", 1000)], version: .v2)
        fixture.flipByte("b", at: 999)
        let result = CLI.run(["verify", "--json", "-t", fixture.torrentPath, fixture.content])
        #expect(result.code == 1)
        let value = try json(result)
        #expect(value["checked_with"]?.arrayValue == [.string("sha256")])
        #expect(value["bad_pieces"]?.arrayValue == [.int(4)])
        #expect(value["info_hash_v2"]?.stringValue == fixture.torrent.infoHashes.v2Hex)
    }
}
