import Foundation
import JSON
import Metainfo
import TestSupport
import Testing

/// `tt download --files`, `--only` and BEP 53 `so=` against a libtorrent seeder: unselected files are
/// not created, shared pieces keep their bytes in the parts file, widening the selection fetches only
/// what was never fetched, and `tt verify` calls unselected files skipped.
@Suite struct FileSelectionDownloadTests {
    static let pieceLength = 64 * 1024

    /// a (300000), b (500000), c (250000): pieces 0-4 hold a (4 shared with b), 5-11 b alone, 12 b and c.
    struct Made {
        let directory: TemporaryDirectory
        let torrent: String
        let files: [String: [UInt8]]
    }

    func make() throws -> Made {
        let directory = TemporaryDirectory("tt-select")
        var files: [String: [UInt8]] = [:]
        for (name, size, seed) in [("a.bin", 300_000, 81), ("b.bin", 500_000, 82), ("c.bin", 250_000, 83)] {
            files[name] = pseudoRandomBytes(count: size, seed: UInt64(seed))
            directory.write("seed/set/\(name)", files[name]!)
        }
        var options = TorrentCreator.Options()
        options.pieceLength = Self.pieceLength
        let torrent = directory.write("set.torrent", try TorrentCreator(options: options).create(path: directory.file("seed/set")))
        return Made(directory: directory, torrent: torrent, files: files)
    }

    func events(_ result: CLIResult) throws -> [JSONValue] {
        try result.stdoutText.split(separator: "\n").map { try JSONParser().parse(Array($0.utf8)) }
    }

    func download(_ arguments: [String], seederPort: Int) throws -> (code: Int32, events: [JSONValue], stderr: String) {
        let result = CLI.run(["download", "--json", "--peer", "127.0.0.2:\(seederPort)", "--no-trackers", "--stall-timeout", "30"] + arguments)
        return (result.code, try events(result), result.stderr)
    }

    @Test func someFilesThenMoreWithoutFetchingAgain() throws {
        try #require(RealTools.libtorrent, "python3-libtorrent is not installed (scripts/install-tools installs it)")
        let made = try make()
        let seeder = try Seeders.libtorrentSeeder(torrent: made.torrent, dataFolder: made.directory.file("seed"))
        defer { seeder.stop() }
        let port = seeder.port
        let out = made.directory.file("DL")

        let first = try download([made.torrent, "-o", out, "--files", "0,2"], seederPort: port)
        try #require(first.code == 0, "\(first.stderr)\n\(seeder.log)")
        #expect(readBytes(out + "/set/a.bin") == made.files["a.bin"])
        #expect(readBytes(out + "/set/c.bin") == made.files["c.bin"])
        #expect(!FileManager.default.fileExists(atPath: out + "/set/b.bin"))
        let infoHash = try Torrent(bytes: readBytes(made.torrent)).infoHashes
        #expect(FileManager.default.fileExists(atPath: out + "/.tt/\(infoHash.v1Hex!).parts"))
        // Pieces 0-4 and 12-16 were fetched: b's bytes in pieces 4 and 12 are in the parts file.
        #expect(first.events.last?["pieces_have"] == .int(10))

        let verify = CLI.run(["verify", "--json", out + "/set"])
        #expect(verify.code == 0, "\(verify.stderr)")
        let report = try JSONParser().parse(verify.stdout)
        #expect(report["files"]?.arrayValue?.map { $0["status"]?.stringValue } == ["complete", "skipped", "complete"])
        #expect(report["pieces"]?["skipped"] == .int(7))

        // Every file now: only the 7 pieces of b alone come over the wire.
        let second = try download([made.torrent, "-o", out, "--only", "*.bin"], seederPort: port)
        try #require(second.code == 0, "\(second.stderr)")
        #expect(second.events.last?["downloaded"] == .int(7 * Int64(Self.pieceLength)))
        for (name, bytes) in made.files { #expect(readBytes(out + "/set/\(name)") == bytes, "\(name)") }
        let full = try JSONParser().parse(CLI.run(["verify", "--json", out + "/set"]).stdout)
        #expect(full["ok"] == .bool(true) && full["pieces"]?["skipped"] == .int(0))
    }

    @Test func aMagnetsSelectOnlyPicksTheFiles() throws {
        try #require(RealTools.libtorrent, "python3-libtorrent is not installed (scripts/install-tools installs it)")
        let made = try make()
        let seeder = try Seeders.libtorrentSeeder(torrent: made.torrent, dataFolder: made.directory.file("seed"))
        defer { seeder.stop() }
        let port = seeder.port
        let magnet = try #require(try JSONParser().parse(CLI.run(["info", "--json", made.torrent]).stdout)["magnet"]?.stringValue)
        let out = made.directory.file("DL")
        let result = try download([magnet + "&so=2", "-o", out], seederPort: port)
        try #require(result.code == 0, "\(result.stderr)\n\(seeder.log)")
        #expect(readBytes(out + "/set/c.bin") == made.files["c.bin"])
        #expect(!FileManager.default.fileExists(atPath: out + "/set/a.bin"))
        #expect(!FileManager.default.fileExists(atPath: out + "/set/b.bin"))
    }

    @Test func selectionsThatFitNothingAreUsageErrors() throws {
        let made = try make()
        let out = made.directory.file("DL")
        let past = CLI.run(["download", made.torrent, "-o", out, "--peer", "127.0.0.1:1", "--files", "3"])
        #expect(past.code == 64)
        #expect(past.stderr.contains("file 3 does not exist: the torrent has 3 files (0 to 2)"), "\(past.stderr)")
        let glob = CLI.run(["download", made.torrent, "-o", out, "--peer", "127.0.0.1:1", "--only", "*.iso"])
        #expect(glob.code == 64 && glob.stderr.contains("matches no file"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
