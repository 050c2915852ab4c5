import Foundation
import JSON
import Metainfo
import TestSupport
import Testing

/// The save-path convention of `seed` and `verify`: the folder `tt download -o DIR` wrote into works
/// as well as the data itself, as libtorrent's save path, `aria2c -d` and Transmission's `-w` do.
@Suite struct SavePathTests {
    static let pieceLength = 64 * 1024

    /// A multi-file torrent `album` (a.bin, sub/b.bin) with its data in `directory/seed/album`.
    func album(_ directory: TemporaryDirectory) throws -> (torrent: String, a: [UInt8], b: [UInt8]) {
        let a = pseudoRandomBytes(count: 300_000, seed: 51), b = pseudoRandomBytes(count: 500_000, seed: 52)
        directory.write("seed/album/a.bin", a)
        directory.write("seed/album/sub/b.bin", b)
        var options = TorrentCreator.Options()
        options.pieceLength = Self.pieceLength
        let torrent = directory.write("album.torrent", try TorrentCreator(options: options).create(path: directory.file("seed/album")))
        return (torrent, a, b)
    }

    /// libtorrent seeds; `tt download -o DL`; then `tt verify DL` and `tt seed x.torrent DL` find DL/album,
    /// and libtorrent downloads it back from that `tt seed`.
    @Test func theFolderDownloadWroteIntoWorksForVerifyAndSeed() throws {
        try #require(RealTools.libtorrent, "python3-libtorrent is not installed (scripts/install-tools installs it)")
        let directory = TemporaryDirectory("tt-savepath")
        let made = try album(directory)
        let seeder = try Seeders.libtorrentSeeder(torrent: made.torrent, dataFolder: directory.file("seed"))
        defer { seeder.stop() }
        let seederPort = seeder.port
        let download = CLI.run(["download", made.torrent, "-o", directory.file("DL"), "--peer", "127.0.0.2:\(seederPort)",
                                "--no-trackers", "--stall-timeout", "30", "-q"])
        try #require(download.code == 0, "\(download.stderr)\n\(seeder.log)")

        let verify = CLI.run(["verify", "--json", directory.file("DL")])
        #expect(verify.code == 0, "\(verify.stderr)")
        let verified = try JSONParser().parse(verify.stdout)
        #expect(verified["ok"] == .bool(true))
        #expect(verified["data_path"]?.stringValue == directory.file("DL") + "/album")

        let seed = try ManagedProcess(ttExecutable, ["seed", made.torrent, directory.file("DL"), "--bind", "127.0.0.5",
                                                     "--port", "0", "--no-announce", "--json", "-v"], label: "tt-seed")
        defer { seed.stop() }
        let seedPort = try seed.listeningPort()
        let back = directory.file("back")
        try FileManager.default.createDirectory(atPath: back, withIntermediateDirectories: true)
        let fetched = Seeders.libtorrentDownload(torrent: made.torrent, saveFolder: back, peer: "127.0.0.5", peerPort: seedPort, timeout: 60)
        #expect(fetched.status == 0, "\(fetched.output)\n\(seed.log)")
        #expect(readBytes(back + "/album/a.bin") == made.a)
        #expect(readBytes(back + "/album/sub/b.bin") == made.b)
        // Every piece of DL checked out when tt seed started.
        let started = seed.events.first { $0["event"]?.stringValue == "started" }
        #expect(started?["pieces_have"] != nil && started?["pieces_have"] == started?["piece_count"], "\(seed.log)")
    }

    @Test func aSingleFileTorrentIsFoundInsideItsSaveFolder() throws {
        let directory = TemporaryDirectory("tt-savepath")
        let made = try Seeders.makeTorrent(in: directory, size: 200_000, pieceLength: Self.pieceLength, seed: 53)
        let asFile = CLI.run(["verify", "-t", made.torrent, made.data])
        #expect(asFile.code == 0, "\(asFile.stderr)")
        let asFolder = CLI.run(["verify", "-t", made.torrent, directory.file("seed")])
        #expect(asFolder.code == 0, "\(asFolder.stderr)")
        let empty = directory.file("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        // verify reports the file missing (1) and says where it looked; seed has nothing to serve (66).
        let nothing = CLI.run(["verify", "-t", made.torrent, empty])
        #expect(nothing.code == 1)
        #expect(nothing.stderr.contains("\(empty)/data.bin does not exist"), "\(nothing.stderr)")
        let seed = CLI.run(["seed", made.torrent, empty, "--port", "0", "--no-announce"])
        #expect(seed.code == 66)
        #expect(seed.stderr.contains("\(empty)/data.bin does not exist"), "\(seed.stderr)")
    }

    @Test func whenBothReadingsFitItSaysWhichItTook() throws {
        let directory = TemporaryDirectory("tt-savepath")
        let made = try album(directory)
        // `shelf` holds the album's files itself and a complete copy saved as shelf/album: both readings fit.
        directory.write("shelf/a.bin", made.a)
        directory.write("shelf/album/a.bin", made.a)
        directory.write("shelf/album/sub/b.bin", made.b)
        let result = CLI.run(["verify", "-t", made.torrent, directory.file("shelf")])
        #expect(result.code == 0, "\(result.stderr)")
        #expect(result.stderr.contains("could be the torrent's folder (1 of 2 files there) or the folder it was saved into (2 in"))
        #expect(result.stderr.contains("using \(directory.file("shelf/album"))"), "\(result.stderr)")
        // The root itself when it holds more of the files.
        directory.write("shelf/sub/b.bin", made.b)
        try FileManager.default.removeItem(atPath: directory.file("shelf/album/sub"))
        let root = CLI.run(["verify", "-t", made.torrent, directory.file("shelf")])
        #expect(root.code == 0, "\(root.stderr)")
        #expect(root.stderr.contains("using \(directory.file("shelf")) itself"), "\(root.stderr)")
    }

    @Test func aFolderMatchingNothingSaysWhatWasLookedFor() throws {
        let directory = TemporaryDirectory("tt-savepath")
        let made = try album(directory)
        let elsewhere = directory.file("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let result = CLI.run(["seed", "--json", made.torrent, elsewhere, "--port", "0", "--no-announce"])
        #expect(result.code == 66)
        #expect(result.stderr.contains("looked for its files in it as the torrent's folder (e.g. \(elsewhere)/a.bin)"), "\(result.stderr)")
        #expect(result.stderr.contains("\(elsewhere)/album/ as the folder it was saved into"), "\(result.stderr)")
        #expect(try JSONParser().parse(result.stdout)["error"]?["kind"] == "no_input")
        // verify checks anyway (every file missing, exit 1) and warns with the same places.
        let verify = CLI.run(["verify", "-t", made.torrent, elsewhere])
        #expect(verify.code == 1)
        #expect(verify.stderr.contains("\(elsewhere)/album/ as the folder it was saved into"), "\(verify.stderr)")
        // A root folder named like the torrent is read as the root even when empty: its files are reported missing.
        let named = directory.file("other/album")
        try FileManager.default.createDirectory(atPath: named, withIntermediateDirectories: true)
        let missing = CLI.run(["verify", "-t", made.torrent, named])
        #expect(missing.code == 1, "\(missing.stderr)")
    }
}
