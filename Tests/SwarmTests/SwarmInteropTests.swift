import Foundation
import JSON
import Metainfo
import TestSupport
import Testing

/// `tt download` in a local swarm of real clients (libtorrent, aria2, Transmission) behind
/// opentracker, and real clients downloading from `tt download --seed`. Each client has its own
/// loopback address; every process is stopped by pid.
@Suite(.serialized) struct SwarmInteropTests {
    func events(_ output: String) -> [JSONValue] {
        output.split(separator: "\n").compactMap { try? JSONParser().parse(Array($0.utf8)) }
    }

    /// Makes content (one file, or a folder of files) and a torrent announcing to `tracker`.
    func content(in directory: TemporaryDirectory, multiFile: Bool, tracker: String?) throws -> (torrent: String, seedFolder: String, name: String, hash: String) {
        let name = multiFile ? "album" : "movie.bin"
        if multiFile {
            directory.write("seed/album/one.bin", pseudoRandomBytes(count: 3_000_001, seed: 31))
            directory.write("seed/album/disc 2/two.bin", pseudoRandomBytes(count: 2_500_000, seed: 32))
            directory.write("seed/album/notes.txt", pseudoRandomBytes(count: 999, seed: 33))
        } else {
            directory.write("seed/movie.bin", pseudoRandomBytes(count: 6_000_000 + 12_345, seed: 34))
        }
        var arguments = ["create", "seed/\(name)", "--piece-size", "64K", "-o", "swarm.torrent", "--no-date", "--force", "--json"]
        if let tracker { arguments += ["-a", tracker] }
        let created = CLI.run(arguments, cwd: directory.path)
        try #require(created.code == 0, "\(created.stderr)")
        let hash = try JSONParser().parse(created.stdout)["info_hash"]!.stringValue!
        return (directory.file("swarm.torrent"), directory.file("seed"), name, hash)
    }

    func same(_ a: String, _ b: String) -> Bool { FileManager.default.contentsEqual(atPath: a, andPath: b) }

    /// Which seeders a swarm test runs.
    enum Swarm: String, CaseIterable, Sendable {
        case libtorrent, aria2, transmission, all
    }

    static let swarms: [(Swarm, Bool)] = [(.libtorrent, false), (.aria2, false), (.transmission, false), (.all, false), (.all, true)]

    @Test(arguments: swarms)
    func downloadsFromRealSeedersThroughOpentracker(swarm: Swarm, multiFile: Bool) throws {
        try #require(RealTools.libtorrent, "python3-libtorrent is not available")
        let aria2c = try #require(RealTools.aria2c)
        let daemon = try #require(RealTools.transmissionDaemon)
        let directory = TemporaryDirectory()
        // The info hash first (opentracker serves only listed hashes), then the torrent naming the port it got.
        let bare = try content(in: directory, multiFile: multiFile, tracker: nil)
        let opentracker = try OpenTracker(whitelist: [bare.hash])
        defer { opentracker.stop() }
        let tracker = opentracker.httpURL
        let made = try content(in: directory, multiFile: multiFile, tracker: tracker)
        try #require(made.hash == bare.hash, "the tracker URL changed the info hash")
        var seeders: [ManagedProcess] = []
        defer { seeders.forEach { $0.stop() } }
        var expectedClients: [String] = []
        var extra: [String] = []
        if swarm == .libtorrent || swarm == .all {
            // In the mixed swarm libtorrent is held to 1 MB/s: alone it would finish before the others connect.
            seeders.append(try Seeders.libtorrentSeeder(torrent: made.torrent, dataFolder: made.seedFolder, host: "127.0.0.2",
                                                        uploadLimit: swarm == .all ? 1_000_000 : nil))
            expectedClients.append("libtorrent")
        }
        if swarm == .aria2 || swarm == .all {
            // Held to 1 MB/s in the mixed swarm too: reached over TCP at once (no uTP there, ICMP says so),
            // it would deliver everything before libtorrent and Transmission had answered.
            seeders.append(try Seeders.aria2Seeder(aria2c: aria2c, torrent: made.torrent, dataFolder: made.seedFolder, host: "127.0.0.3",
                                                   uploadLimit: swarm == .all ? 1_000_000 : nil))
            expectedClients.append("aria2")
        }
        if swarm == .transmission || swarm == .all {
            seeders.append(try Seeders.transmissionSeeder(daemon: daemon, torrent: made.torrent, dataFolder: made.seedFolder,
                                                          configFolder: directory.file("transmission"), host: "127.0.0.4"))
            // Transmission 3 announces from 127.0.0.1 while it listens on 127.0.0.4: name it directly.
            extra += ["--peer", "127.0.0.4:\(seeders.last!.port)"]
            expectedClients.append("Transmission")
        }
        // The seeders that announce must be on the tracker before we start: its scrape counts them.
        let announcing = expectedClients.filter { $0 != "Transmission" }.count
        var seeding: Int64 = 0
        let onTracker = waitUntil(timeout: 30, poll: 0.3) {
            let scrape = CLI.run(["scrape", made.torrent, "--json"])
            seeding = (try? JSONParser().parse(scrape.stdout))?["torrents"]?.arrayValue?.first?["complete"]?.intValue ?? 0
            return seeding >= announcing
        }
        #expect(onTracker, "the tracker counts \(seeding) seeders of \(announcing): \(seeders.map(\.log))")
        let result = runCommand(ttExecutable, ["download", made.torrent, "-o", "out", "--bind", "127.0.0.1", "--json"] + extra,
                                timeout: 120, cwd: directory.path)
        #expect(result.status == 0, "\(result.output.suffix(3000))")
        let log = events(result.output)
        let clients = log.filter { $0["event"] == "peer_connected" }.compactMap { $0["client"]?.stringValue }
        // With one seeder, that client must have been the source; with all, any mix will do.
        // Every seeder of the swarm was connected to (one alone was the source; with all, any mix of data).
        for expected in expectedClients {
            #expect(clients.contains { $0.hasPrefix(expected) }, "\(expected) never connected; clients seen: \(clients)")
        }
        if swarm != .transmission { #expect(log.contains { $0["event"] == "tracker_announced" }) }
        if multiFile {
            for file in ["one.bin", "disc 2/two.bin", "notes.txt"] {
                #expect(same(directory.file("seed/album/\(file)"), directory.file("out/album/\(file)")), "\(file) differs")
            }
        } else {
            #expect(same(directory.file("seed/movie.bin"), directory.file("out/movie.bin")))
        }
    }

    @Test func libtorrentAndAria2DownloadFromTtSeeding() throws {
        try #require(RealTools.libtorrent, "python3-libtorrent is not available")
        let aria2c = try #require(RealTools.aria2c)
        let directory = TemporaryDirectory()
        // The info hash first (opentracker serves only listed hashes), then the torrent naming the port it got.
        let bare = try content(in: directory, multiFile: false, tracker: nil)
        let opentracker = try OpenTracker(whitelist: [bare.hash])
        defer { opentracker.stop() }
        let tracker = opentracker.httpURL
        let made = try content(in: directory, multiFile: false, tracker: tracker)
        try #require(made.hash == bare.hash, "the tracker URL changed the info hash")
        // tt already has the data (in seed/), so `download --seed` checks it and serves.
        let tt = try ManagedProcess(ttExecutable, ["download", made.torrent, "-o", made.seedFolder, "--seed", "--port", "0",
                                                   "--bind", "127.0.0.1", "--json"], cwd: directory.path)
        defer { tt.stop() }
        let port = try tt.listeningPort()

        let viaLibtorrent = Seeders.libtorrentDownload(torrent: made.torrent, saveFolder: directory.file("lt"), peer: "127.0.0.1",
                                                       peerPort: port, host: "127.0.0.2", timeout: 60)
        #expect(viaLibtorrent.status == 0, "libtorrent: \(viaLibtorrent.output.suffix(1500))\ntt: \(tt.log.suffix(1500))")
        #expect(same(directory.file("seed/movie.bin"), directory.file("lt/movie.bin")))

        let viaAria2 = Seeders.aria2Download(aria2c: aria2c, torrent: made.torrent, saveFolder: directory.file("a2"), tracker: tracker,
                                             host: "127.0.0.3", timeout: 60)
        #expect(viaAria2.status == 0, "aria2: \(viaAria2.output.suffix(1500))\ntt: \(tt.log.suffix(1500))")
        #expect(same(directory.file("seed/movie.bin"), directory.file("a2/movie.bin")))
        // tt reported its uploads to them.
        tt.stop()
        let finished = events(tt.log).last { $0["event"] == "finished" }
        #expect((finished?["uploaded"]?.intValue ?? 0) >= 6_000_000, "\(tt.log.suffix(1500))")
    }
}
