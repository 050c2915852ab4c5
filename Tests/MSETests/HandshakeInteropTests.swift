import Foundation
import JSON
import Testing
import TestSupport

/// `tt handshake --encryption …` against real clients that refuse plaintext.
@Suite(.serialized) struct HandshakeInteropTests {
    struct Report { var code: Int32; var encryption: String?; var provide: [String]; var selected: String?; var client: String?; var stderr: String; var retried = false }

    static func handshake(_ peer: String, torrent: String, _ extra: [String]) -> Report {
        let result = CLI.run(["handshake", peer, "--torrent", torrent, "--json", "--timeout", "10"] + extra)
        guard result.code == 0, case .object(let fields)? = try? JSONParser().parse(result.stdout) else {
            return Report(code: result.code, encryption: nil, provide: [], selected: nil, client: nil, stderr: result.stderr)
        }
        func field(_ name: String) -> JSONValue? { fields.first { $0.key == name }?.value }
        var provide: [String] = [], selected: String?, retried = false
        if case .object(let mse)? = field("mse") {
            if case .array(let items)? = mse.first(where: { $0.key == "provide" })?.value {
                provide = items.compactMap { if case .string(let s) = $0 { s } else { nil } }
            }
            if case .string(let s)? = mse.first(where: { $0.key == "selected" })?.value { selected = s }
            if case .bool(let b)? = mse.first(where: { $0.key == "retried" })?.value { retried = b }
        }
        var encryption: String?, client: String?
        if case .string(let s)? = field("encryption") { encryption = s }
        if case .string(let s)? = field("client") { client = s }
        return Report(code: result.code, encryption: encryption, provide: provide, selected: selected, client: client, stderr: result.stderr,
                      retried: retried)
    }

    /// Require succeeds with RC4; a plain handshake is dropped (exit 76); prefer retries encrypted.
    static func checkRequiresEncryption(_ peer: String, torrent: String, client: String) {
        let required = handshake(peer, torrent: torrent, ["--encryption", "require"])
        #expect(required.code == 0, "\(client): \(required.stderr)")
        #expect(required.encryption == "rc4")
        #expect(required.provide == ["rc4"])
        #expect(required.selected == "rc4")
        #expect(required.client?.hasPrefix(client) == true, "\(String(describing: required.client))")
        let plain = handshake(peer, torrent: torrent, ["--encryption", "off"])
        #expect(plain.code == 76, "\(client) should refuse plaintext: \(plain.stderr)")
        let preferred = handshake(peer, torrent: torrent, ["--encryption", "prefer"])
        #expect(preferred.code == 0, "\(client): \(preferred.stderr)")
        #expect(preferred.encryption == "rc4")
        #expect(preferred.retried, "prefer should have retried after the plain handshake was refused")
    }

    @Test(arguments: ["rc4", "both"])
    func libtorrentForced(level: String) throws {
        guard RealTools.libtorrent else {
            withKnownIssue("python3-libtorrent is not installed") { Issue.record("no libtorrent") }
            return
        }
        let folder = TemporaryDirectory("tt-mse-lt")
        let made = try Seeders.makeTorrent(in: folder, size: 300_000, pieceLength: 32768)
        let seeder = try EncryptedPeers.libtorrentSeeder(torrent: made.torrent, dataFolder: folder.file("seed"), level: level)
        defer { seeder.stop() }
        let port = seeder.port
        #expect(EncryptedPeers.waitUntilSeeding(seeder), "\(seeder.log)")
        Self.checkRequiresEncryption("127.0.14.2:\(port)", torrent: made.torrent, client: "libtorrent")
    }

    @Test func aria2RequireCrypto() throws {
        guard let aria2c = RealTools.aria2c else {
            withKnownIssue("aria2 is not installed") { Issue.record("no aria2c") }
            return
        }
        let folder = TemporaryDirectory("tt-mse-aria2")
        let made = try Seeders.makeTorrent(in: folder, size: 300_000, pieceLength: 32768)
        let seeder = try EncryptedPeers.aria2Seeder(aria2c: aria2c, torrent: made.torrent, dataFolder: folder.file("seed"))
        defer { seeder.stop() }
        let port = seeder.port
        Self.checkRequiresEncryption("127.0.14.3:\(port)", torrent: made.torrent, client: "aria2")
    }

    @Test func transmissionEncryptionRequired() throws {
        guard let daemon = RealTools.transmissionDaemon else {
            withKnownIssue("transmission-daemon is not installed") { Issue.record("no transmission-daemon") }
            return
        }
        let folder = TemporaryDirectory("tt-mse-tr")
        let made = try Seeders.makeTorrent(in: folder, size: 300_000, pieceLength: 32768)
        let seeder = try EncryptedPeers.transmission(daemon: daemon, torrent: made.torrent, dataFolder: folder.file("seed"),
                                                     configFolder: folder.file("config"), seeding: true)
        defer { seeder.stop() }
        let (port, rpcPort) = (seeder.port, seeder.ports[1])
        // No probe connection first: Transmission drops a second connection from an address it still has.
        #expect(EncryptedPeers.transmissionListing(rpcPort: rpcPort).contains("100%"), "\(seeder.log)")
        Self.checkRequiresEncryption("127.0.14.4:\(port)", torrent: made.torrent, client: "Transmission")
    }
}
