import Foundation
import JSON
import TestSupport
import Testing

/// `tt download` from seeders that accept only encrypted peers, and those clients downloading
/// from `tt seed --encryption require`. Each client on its own loopback address; every process
/// stopped by pid.
@Suite(.serialized) struct SwarmEncryptionInteropTests {
    static func events(_ output: String) -> [JSONValue] {
        output.split(separator: "\n").compactMap { try? JSONParser().parse(Array($0.utf8)) }
    }

    /// A 2 MB file in `seed/` and its torrent (64 KiB pieces), announcing to `tracker` when given.
    static func content(in directory: TemporaryDirectory, tracker: String?) throws -> (torrent: String, seedFolder: String, hash: String) {
        directory.write("seed/secret.bin", pseudoRandomBytes(count: 2_000_000 + 4321, seed: 99))
        var arguments = ["create", "seed/secret.bin", "--piece-size", "64K", "-o", "secret.torrent", "--no-date", "--force", "--json"]
        if let tracker { arguments += ["-a", tracker] }
        let created = CLI.run(arguments, cwd: directory.path)
        try #require(created.code == 0, "\(created.stderr)")
        let hash = try JSONParser().parse(created.stdout)["info_hash"]!.stringValue!
        return (directory.file("secret.torrent"), directory.file("seed"), hash)
    }

    static func same(_ a: String, _ b: String) -> Bool { FileManager.default.contentsEqual(atPath: a, andPath: b) }

    enum Seeder: String, CaseIterable, Sendable { case libtorrent, aria2, transmission, all }

    @Test(arguments: Seeder.allCases)
    func downloadFromEncryptedOnlySeeders(seeder: Seeder) throws {
        guard RealTools.libtorrent, let aria2c = RealTools.aria2c, let daemon = RealTools.transmissionDaemon else {
            withKnownIssue("libtorrent, aria2 or transmission-daemon is not installed") { Issue.record("missing client") }
            return
        }
        let directory = TemporaryDirectory("tt-mse-swarm")
        let made = try Self.content(in: directory, tracker: nil)
        var processes: [ManagedProcess] = []
        defer { processes.forEach { $0.stop() } }
        var peers: [String] = []
        var expected: [String] = []
        if seeder == .libtorrent || seeder == .all {
            processes.append(try EncryptedPeers.libtorrentSeeder(torrent: made.torrent, dataFolder: made.seedFolder, level: "rc4"))
            #expect(EncryptedPeers.waitUntilSeeding(processes.last!), "\(processes.last!.log)")
            peers += ["--peer", "127.0.14.2:\(processes.last!.port)"]
            expected.append("libtorrent")
        }
        if seeder == .aria2 || seeder == .all {
            processes.append(try EncryptedPeers.aria2Seeder(aria2c: aria2c, torrent: made.torrent, dataFolder: made.seedFolder))
            peers += ["--peer", "127.0.14.3:\(processes.last!.port)"]
            expected.append("aria2")
        }
        if seeder == .transmission || seeder == .all {
            processes.append(try EncryptedPeers.transmission(daemon: daemon, torrent: made.torrent, dataFolder: made.seedFolder,
                                                             configFolder: directory.file("transmission"), seeding: true))
            peers += ["--peer", "127.0.14.4:\(processes.last!.port)"]
            expected.append("Transmission")
        }
        let result = runCommand(ttExecutable, ["download", made.torrent, "-o", "out", "--no-trackers", "--encryption", "require",
                                               "--bind", "127.0.14.1", "--json"] + peers, timeout: 120, cwd: directory.path)
        #expect(result.status == 0, "\(result.output.suffix(3000))")
        #expect(Self.same(directory.file("seed/secret.bin"), directory.file("out/secret.bin")))
        let connected = Self.events(result.output).filter { $0["event"] == "peer_connected" }
        #expect(!connected.isEmpty)
        for event in connected {
            #expect(event["encryption"]?.stringValue == "rc4", "\(event)")
        }
        let clients = connected.compactMap { $0["client"]?.stringValue }
        if seeder != .all {
            #expect(clients.contains { $0.hasPrefix(expected[0]) }, "clients seen: \(clients)")
        }
    }

    @Test func encryptedOnlyClientsDownloadFromTtSeedRequire() throws {
        guard RealTools.libtorrent, let aria2c = RealTools.aria2c, let daemon = RealTools.transmissionDaemon else {
            withKnownIssue("libtorrent, aria2 or transmission-daemon is not installed") { Issue.record("missing client") }
            return
        }
        let directory = TemporaryDirectory("tt-mse-seed")
        // The info hash first (opentracker serves only listed hashes), then the torrent naming the port it got.
        let bare = try Self.content(in: directory, tracker: nil)
        let opentracker = try OpenTracker(whitelist: [bare.hash])
        defer { opentracker.stop() }
        let tracker = opentracker.httpURL
        let made = try Self.content(in: directory, tracker: tracker)
        try #require(made.hash == bare.hash, "the tracker URL changed the info hash")
        let seed = try ManagedProcess(ttExecutable, ["seed", made.torrent, directory.file("seed/secret.bin"), "--port", "0",
                                                     "--bind", "127.0.0.1", "--encryption", "require", "--json"], cwd: directory.path)
        defer { seed.stop() }
        let port = try seed.listeningPort()

        // A plain handshake is refused (exit 76) and reported.
        let plain = CLI.run(["handshake", "127.0.0.1:\(port)", "--torrent", made.torrent, "--encryption", "off"])
        #expect(plain.code == 76, "\(plain.stderr)")
        let encrypted = CLI.run(["handshake", "127.0.0.1:\(port)", "--torrent", made.torrent, "--encryption", "require", "--json"])
        #expect(encrypted.code == 0, "\(encrypted.stderr)")

        let viaLibtorrent = EncryptedPeers.libtorrentDownload(torrent: made.torrent, saveFolder: directory.file("lt"), peer: "127.0.0.1",
                                                              peerPort: port)
        #expect(viaLibtorrent.status == 0, "libtorrent: \(viaLibtorrent.output.suffix(1500))\ntt: \(seed.log.suffix(1500))")
        #expect(Self.same(directory.file("seed/secret.bin"), directory.file("lt/secret.bin")))

        let viaAria2 = EncryptedPeers.aria2Download(aria2c: aria2c, torrent: made.torrent, saveFolder: directory.file("a2"),
                                                    tracker: tracker)
        #expect(viaAria2.status == 0, "aria2: \(viaAria2.output.suffix(1500))\ntt: \(seed.log.suffix(1500))")
        #expect(Self.same(directory.file("seed/secret.bin"), directory.file("a2/secret.bin")))

        // Transmission learns of no tt peer through opentracker on loopback, so a second tt, also
        // requiring encryption and holding the data, dials it (`download --seed --peer`).
        let transmission = try EncryptedPeers.transmission(daemon: daemon, torrent: made.torrent, dataFolder: directory.file("tr"),
                                                           configFolder: directory.file("transmission"), seeding: false)
        defer { transmission.stop() }
        let (transmissionPort, rpcPort) = (transmission.port, transmission.ports[1])
        let dialer = try ManagedProcess(ttExecutable, ["download", made.torrent, "-o", made.seedFolder, "--seed", "--no-trackers",
                                                       "--peer", "127.0.14.4:\(transmissionPort)", "--bind", "127.0.14.1",
                                                       "--encryption", "require", "--json"], cwd: directory.path)
        defer { dialer.stop() }
        // Its list is re-read until it shows 100 % (Transmission tells no one when it completes).
        var listing = ""
        waitUntil(timeout: 90, poll: 0.3) {
            listing = EncryptedPeers.transmissionListing(rpcPort: rpcPort)
            return listing.contains("100%")
        }
        #expect(listing.contains("100%"), "Transmission: \(listing)\n\(transmission.log.suffix(1500))\ntt: \(dialer.log.suffix(3000))")
        // Transmission writes the file as it completes; wait for the last bytes to be flushed.
        waitUntil(timeout: 10, poll: 0.1) { Self.same(directory.file("seed/secret.bin"), directory.file("tr/secret.bin")) }
        #expect(Self.same(directory.file("seed/secret.bin"), directory.file("tr/secret.bin")))
        dialer.stop()
        let toTransmission = Self.events(dialer.log).filter { $0["event"] == "peer_connected" }
        #expect(toTransmission.contains { $0["client"]?.stringValue?.hasPrefix("Transmission") == true && $0["encryption"] == "rc4" },
                "\(dialer.log.suffix(1500))")

        seed.stop()
        let log = Self.events(seed.log)
        #expect(log.contains { $0["event"] == "peer_refused" }, "no plaintext peer refused: \(seed.log.suffix(1500))")
        let connected = log.filter { $0["event"] == "peer_connected" }
        #expect(connected.count >= 2, "\(seed.log.suffix(1500))")
        for event in connected { #expect(event["encryption"]?.stringValue == "rc4", "\(event)") }
        // libtorrent (forced policy) and aria2 (require-crypto) came in encrypted.
        for client in ["libtorrent", "aria2"] {
            #expect(connected.contains { $0["client"]?.stringValue?.hasPrefix(client) == true }, "\(client) never connected: \(seed.log.suffix(1500))")
        }
    }
}
