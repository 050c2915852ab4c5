import Foundation
import Metainfo
import Testing
import TestSupport

/// `handshake` and `fetch-piece` against real seeders (libtorrent, aria2, Transmission), and
/// real downloaders fetching from `tt seed`. Each client has its own loopback address.
@Suite(.serialized) struct RealClientTests {
    static let size = 1_500_000
    static let pieceLength = 256 * 1024

    /// Retries `handshake` until the seeder has checked its data and answers (it says so to no one: polled,
    /// `attempts` tries at most).
    func handshakeWhenReady(_ address: String, torrent: String, attempts: Int = 40) -> CLIResult {
        var result = CLI.run(["handshake", address, "--torrent", torrent, "--json", "--wait", "2"])
        var left = attempts
        while result.code != 0 && left > 0 {
            usleep(250_000)
            left -= 1
            result = CLI.run(["handshake", address, "--torrent", torrent, "--json", "--wait", "2"])
        }
        return result
    }

    /// `retries`: Transmission hangs up on a peer that reconnects right after leaving, so it gets a few spaced tries.
    func fetchAndCompare(_ address: String, torrent: String, piece: Int, bytes: [UInt8], directory: TemporaryDirectory, retries: Int = 0) {
        let output = directory.file("piece\(piece).bin")
        let arguments = ["fetch-piece", "--torrent", torrent, "--peer", address, "--piece", String(piece), "-o", output, "--json"]
        var result = CLI.run(arguments)
        for _ in 0..<retries where result.code == 76 && result.stderr.contains("before its handshake") {
            sleep(3)  // spacing the tries (Transmission refuses a quick reconnect), not waiting for an event
            result = CLI.run(arguments)
        }
        #expect(result.code == 0, "\(result.stderr)")
        #expect(result.stdoutText.contains("\"hash_ok\":true"))
        let start = piece * Self.pieceLength
        // Compared outside #expect: a failing diff of 256 KiB arrays takes Swift Testing minutes.
        let same = readBytes(output) == Array(bytes[start..<min(bytes.count, start + Self.pieceLength)])
        #expect(same, "piece \(piece) differs from the file's bytes at offset \(start)")
    }

    @Test func libtorrentSeeder() throws {
        guard RealTools.libtorrent else { Issue.record("python3-libtorrent unavailable"); return }
        let directory = TemporaryDirectory("tt-lt-seed")
        let made = try Seeders.makeTorrent(in: directory, size: Self.size, pieceLength: Self.pieceLength, seed: 11)
        let seeder = try Seeders.libtorrentSeeder(torrent: made.torrent, dataFolder: directory.file("seed"))
        defer { seeder.stop() }
        let port = seeder.port
        let version = RealTools.python("import libtorrent; print(libtorrent.__version__)").output
            .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").prefix(3).joined(separator: ".")
        let result = handshakeWhenReady("127.0.0.2:\(port)", torrent: made.torrent)
        #expect(result.code == 0, "\(result.stderr)\n\(seeder.log)")
        let text = result.stdoutText
        #expect(text.contains("\"client\":\"libtorrent \(version)\""), "\(text)")
        #expect(text.contains("\"peer_id_text\":\"-LT"))
        #expect(text.contains("\"extension_protocol\":true,\"fast\":true"))
        #expect(text.contains("\"v\":\"libtorrent/\(version)") || text.contains("\"v\":\"libtorrent \(version)"), "\(text)")
        #expect(text.contains("\"have\":6,\"total\":6"))
        #expect(text.contains("\"ut_metadata\""))
        fetchAndCompare("127.0.0.2:\(port)", torrent: made.torrent, piece: 2, bytes: made.bytes, directory: directory)
        fetchAndCompare("127.0.0.2:\(port)", torrent: made.torrent, piece: 5, bytes: made.bytes, directory: directory)
    }

    @Test func aria2Seeder() throws {
        guard let aria2c = RealTools.aria2c else { Issue.record("aria2 unavailable"); return }
        let directory = TemporaryDirectory("tt-aria2-seed")
        let made = try Seeders.makeTorrent(in: directory, size: Self.size, pieceLength: Self.pieceLength, seed: 12)
        let seeder = try Seeders.aria2Seeder(aria2c: aria2c, torrent: made.torrent, dataFolder: directory.file("seed"))
        defer { seeder.stop() }
        let port = seeder.port
        let version = runCommand(aria2c, ["--version"]).output.split(separator: "\n").first?.split(separator: " ").last.map(String.init) ?? "?"
        let result = handshakeWhenReady("127.0.0.3:\(port)", torrent: made.torrent)
        #expect(result.code == 0, "\(result.stderr)\n\(seeder.log)")
        let text = result.stdoutText
        #expect(text.contains("\"client\":\"aria2 \(version)\""), "\(text)")
        #expect(text.contains("\"v\":\"aria2/\(version)\""))
        #expect(text.contains("\"have\":6,\"total\":6"))
        fetchAndCompare("127.0.0.3:\(port)", torrent: made.torrent, piece: 0, bytes: made.bytes, directory: directory)
        fetchAndCompare("127.0.0.3:\(port)", torrent: made.torrent, piece: 5, bytes: made.bytes, directory: directory)
    }

    // Transmission adds the torrent over RPC and verifies it before it answers for it (the set-up waits
    // for 100%); it then takes ~10 s to unchoke, and refuses a peer that reconnects at once.
    @Test
    func transmissionSeeder() throws {
        guard let daemon = RealTools.transmissionDaemon else { Issue.record("transmission-daemon unavailable"); return }
        let directory = TemporaryDirectory("tt-tr-seed")
        let made = try Seeders.makeTorrent(in: directory, size: Self.size, pieceLength: Self.pieceLength, seed: 13)
        let seeder = try Seeders.transmissionSeeder(daemon: daemon, torrent: made.torrent, dataFolder: directory.file("seed"),
                                                    configFolder: directory.file("tr-config"))
        defer { seeder.stop() }
        let port = seeder.port
        let result = handshakeWhenReady("127.0.0.4:\(port)", torrent: made.torrent, attempts: 3)
        #expect(result.code == 0, "\(result.stderr)\n\(seeder.log)\n\(Seeders.transmissionListing)")
        let text = result.stdoutText
        #expect(text.contains("\"client\":\"Transmission 3.00\""), "\(text)")
        #expect(text.contains("\"peer_id_text\":\"-TR3000-"))
        #expect(text.contains("\"v\":\"Transmission 3.00\""))
        #expect(text.contains("\"have\":6,\"total\":6"))
        // Transmission takes ~10 s to unchoke a new peer.
        fetchAndCompare("127.0.0.4:\(port)", torrent: made.torrent, piece: 3, bytes: made.bytes, directory: directory, retries: 10)
    }

    /// Starts `tt seed` as a child process on `host` and port 0; its `port` is read from its listening event.
    func startSeed(torrent: String, data: String, host: String, extra: [String] = []) throws -> ManagedProcess {
        let seed = try ManagedProcess(ttExecutable, ["seed", torrent, data, "--bind", host, "--port", "0", "--json"] + extra, label: "tt-seed")
        _ = try seed.listeningPort()
        return seed
    }

    @Test func libtorrentDownloadsFromTTSeed() throws {
        guard RealTools.libtorrent else { Issue.record("python3-libtorrent unavailable"); return }
        let directory = TemporaryDirectory("tt-seed-lt")
        let made = try Seeders.makeTorrent(in: directory, size: 3_000_000, pieceLength: Self.pieceLength, seed: 21)
        let seed = try startSeed(torrent: made.torrent, data: made.data, host: "127.0.0.5")
        defer { seed.stop() }
        let seedPort = seed.port
        let save = directory.file("lt-down")
        try FileManager.default.createDirectory(atPath: save, withIntermediateDirectories: true)
        let result = Seeders.libtorrentDownload(torrent: made.torrent, saveFolder: save, peer: "127.0.0.5", peerPort: seedPort, timeout: 60)
        #expect(result.status == 0, "\(result.output)\n\(seed.log)")
        let same = readBytes((save as NSString).appendingPathComponent("data.bin")) == made.bytes
        #expect(same, "the downloaded file differs")
        #expect(seed.log.contains("\"client\":\"libtorrent"))
    }

    @Test func aria2DownloadsFromTTSeedMultiFile() throws {
        guard let aria2c = RealTools.aria2c else { Issue.record("aria2 unavailable"); return }
        let directory = TemporaryDirectory("tt-seed-aria2")
        // A multi-file torrent: the seed serves from the root folder.
        let root = directory.file("seed/album")
        let first = pseudoRandomBytes(count: 700_000, seed: 31), second = pseudoRandomBytes(count: 1_100_000, seed: 32)
        directory.write("seed/album/a.bin", first)
        directory.write("seed/album/sub/b.bin", second)
        var options = TorrentCreator.Options()
        options.pieceLength = Self.pieceLength
        let torrent = directory.write("album.torrent", try TorrentCreator(options: options).create(path: root))
        let seed = try startSeed(torrent: torrent, data: root, host: "127.0.0.5")
        defer { seed.stop() }
        let tracker = try FakePeerTracker(peers: [(ip: [127, 0, 0, 5], port: UInt16(seed.port))])
        defer { tracker.stop() }
        let save = directory.file("aria2-down")
        let result = Seeders.aria2Download(aria2c: aria2c, torrent: torrent, saveFolder: save, tracker: tracker.url, timeout: 60)
        #expect(result.status == 0, "\(result.output)\n\(seed.log)")
        let same = readBytes(save + "/album/a.bin") == first && readBytes(save + "/album/sub/b.bin") == second
        #expect(same, "the downloaded files differ")
        #expect(seed.log.contains("\"client\":\"aria2"))
    }

    @Test func seedAnswersHandshakeAndFetchInProcess() throws {
        let directory = TemporaryDirectory("tt-seed-self")
        let made = try Seeders.makeTorrent(in: directory, size: 600_000, pieceLength: 32768, seed: 41)
        let seed = try startSeed(torrent: made.torrent, data: made.data, host: "127.0.0.6")
        let port = seed.port
        let handshake = CLI.run(["handshake", "127.0.0.6:\(port)", "--torrent", made.torrent, "--json"])
        #expect(handshake.code == 0, "\(handshake.stderr)")
        #expect(handshake.stdoutText.contains("\"client\":\"tt 0.1.0\"") && handshake.stdoutText.contains("\"source\":\"have_all\""))
        let fetched = CLI.run(["fetch-piece", "--torrent", made.torrent, "--peer", "127.0.0.6:\(port)", "--piece", "18", "-o", "-"])
        #expect(fetched.code == 0, "\(fetched.stderr)")
        let same = fetched.stdout == Array(made.bytes[18 * 32768..<600_000])
        #expect(same, "piece 18 differs")
        seed.stop()
        #expect(seed.process.terminationStatus == 0, "SIGTERM is the normal end of a seed")
        let lines = seed.log.split(separator: "\n")
        #expect(lines.first?.contains("\"event\":\"started\"") == true && lines.first?.contains("\"pieces_have\":19") == true)
        #expect(lines.last?.contains("\"event\":\"finished\"") == true && lines.last?.contains("\"outcome\":\"stopped\"") == true, "\(seed.log)")
        // It served the piece it was asked for (and the handshake's have_all cost nothing).
        #expect(lines.last?.contains("\"uploaded\":\(600_000 - 18 * 32768)") == true, "\(seed.log)")
    }
}
