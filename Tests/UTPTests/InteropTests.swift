import Foundation
import JSON
import Testing
import TestSupport

/// `tt handshake` and `tt fetch-piece` over uTP against libtorrent and Transmission on loopback.
@Suite(.serialized) struct InteropTests {
    static func json(_ result: CLIResult) -> JSONValue? { try? JSONParser().parse(result.stdout) }

    @Test func libtorrentDefaultsAndUTPOnly() throws {
        guard RealTools.libtorrent else {
            withKnownIssue("python3-libtorrent is not installed") { Issue.record("no libtorrent") }
            return
        }
        let directory = TemporaryDirectory("tt-utp-lt")
        let (_, torrent, bytes) = try Seeders.makeTorrent(in: directory, size: 2 << 20, pieceLength: 256 * 1024)
        for tcp in [true, false] {
            let seeder = try UTPRealPeers.libtorrentSeeder(torrent: torrent, dataFolder: directory.file("seed"), host: "127.0.0.2", tcp: tcp)
            defer { seeder.stop() }
            let port = seeder.port
            #expect(seeder.waitForOutput("seeding"), "\(seeder.log)")
            let peer = "127.0.0.2:\(port)"
            let handshake = CLI.run(["handshake", peer, "--torrent", torrent, "--transport", "utp", "--json"])
            #expect(handshake.code == 0, "\(handshake.stderr)")
            let view = Self.json(handshake)
            #expect(view?["transport"]?.stringValue == "utp")
            #expect(view?["client"]?.stringValue?.hasPrefix("libtorrent") == true)
            let out = directory.file("piece-\(tcp).bin")
            let fetch = CLI.run(["fetch-piece", "--torrent", torrent, "--peer", peer, "--piece", "3", "--transport", "utp", "-o", out])
            #expect(fetch.code == 0, "\(fetch.stderr)")
            #expect(readBytes(out) == Array(bytes[(3 * 256 * 1024)..<(4 * 256 * 1024)]))
            // `-o /dev/null` writes into the device: never a file renamed over it.
            let discard = CLI.run(["fetch-piece", "--torrent", torrent, "--peer", peer, "--piece", "2", "--transport", "utp", "-o", "/dev/null"])
            #expect(discard.code == 0, "\(discard.stderr)")
            var info = stat()
            #expect(stat("/dev/null", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR)
            let auto = CLI.run(["handshake", peer, "--torrent", torrent, "--transport", "auto", "--json"])
            #expect(auto.code == 0, "\(auto.stderr)")
            if !tcp { #expect(Self.json(auto)?["transport"]?.stringValue == "utp") }
            // The trace shows uTP packets: our SYN, libtorrent's SYN-ACK.
            let trace = CLI.run(["handshake", peer, "--torrent", torrent, "--transport", "utp", "--trace"])
            let lines = trace.stdoutText.split(separator: "\n").compactMap { try? JSONParser().parse(Array($0.utf8)) }
            let packets = lines.filter { $0["event"]?.stringValue == "utp" }
            #expect(packets.first?["type"]?.stringValue == "syn")
            #expect(packets.contains { $0["type"]?.stringValue == "state" && $0["direction"]?.stringValue == "in" && $0["ack"]?.intValue == 1 })
            #expect(packets.allSatisfy { $0["seq"] != nil && $0["window"] != nil && $0["delay"] != nil })
        }
    }

    @Test func transmissionOverUTP() throws {
        guard let daemon = RealTools.transmissionDaemon else {
            withKnownIssue("transmission-daemon is not installed") { Issue.record("no transmission") }
            return
        }
        let directory = TemporaryDirectory("tt-utp-tr")
        let (_, torrent, bytes) = try Seeders.makeTorrent(in: directory, size: 1 << 20, pieceLength: 256 * 1024)
        let daemonProcess = try UTPRealPeers.transmissionSeeder(daemon: daemon, torrent: torrent, dataFolder: directory.file("seed"),
                                                                configFolder: directory.file("tr"), host: "127.0.0.4")
        defer { daemonProcess.stop() }
        let port = daemonProcess.port
        let peer = "127.0.0.4:\(port)"
        // Transmission refuses a second connection from an address it knows: a fresh source for each.
        let handshake = CLI.run(["handshake", peer, "--torrent", torrent, "--transport", "utp", "--bind", "127.0.0.41", "--json"])
        #expect(handshake.code == 0, "\(handshake.stderr)")
        #expect(Self.json(handshake)?["transport"]?.stringValue == "utp")
        #expect(Self.json(handshake)?["client"]?.stringValue?.hasPrefix("Transmission") == true)
        let out = directory.file("piece.bin")
        let fetch = CLI.run(["fetch-piece", "--torrent", torrent, "--peer", peer, "--piece", "1", "--transport", "utp",
                             "--bind", "127.0.0.42", "-o", out, "--timeout", "60"])
        #expect(fetch.code == 0, "\(fetch.stderr)")
        #expect(readBytes(out) == Array(bytes[(256 * 1024)..<(512 * 1024)]))
        // The engine too: a whole download from Transmission over uTP only.
        let download = CLI.run(["download", torrent, "-o", directory.file("out"), "--no-trackers", "--transport", "utp", "--json",
                                "--peer", peer, "--bind", "127.0.0.43"])
        #expect(download.code == 0, "\(download.stderr)")
        #expect(readBytes(directory.file("out/data.bin")) == bytes)
        #expect(download.stdoutText.contains("\"transport\":\"utp\""))
    }
}
