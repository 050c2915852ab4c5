import Foundation
import JSON
import Metainfo
import Storage
import TestSupport
import Testing
import WebSeed

/// BEP 19 web seeds: the range plan from bytes alone, and `tt fetch-piece --webseed` against real
/// HTTP servers on loopback (nginx answers ranges with 206; Python's http.server ignores Range).
@Suite struct WebSeedTests {
    static let pieceLength = 32 * 1024

    /// A hybrid (so padded) two-file torrent `set` whose files have spaces in their names.
    func padded(_ directory: TemporaryDirectory) throws -> (torrent: Torrent, path: String, a: [UInt8], b: [UInt8]) {
        let a = pseudoRandomBytes(count: 50_000, seed: 61), b = pseudoRandomBytes(count: 70_000, seed: 62)
        directory.write("www/set/a file.bin", a)
        directory.write("www/set/sub dir/b.bin", b)
        var options = TorrentCreator.Options()
        options.pieceLength = Self.pieceLength
        options.version = .hybrid
        let bytes = try TorrentCreator(options: options).create(path: directory.file("www/set"))
        let path = directory.write("set.torrent", bytes)
        return (try Torrent(bytes: bytes), path, a, b)
    }

    @Test func thePlanNamesFilesAsBEP19SaysAndSkipsPadFiles() throws {
        let directory = TemporaryDirectory("tt-webseed")
        let made = try padded(directory)
        let layout = try FileLayout(torrent: made.torrent)
        let plan = try WebSeedPlan(base: "http://h:8/seeds", layout: layout)
        let real = layout.files.enumerated().filter { !$0.element.isPadding }.map(\.offset)
        #expect(plan.url(ofFile: real[0]) == "http://h:8/seeds/set/a%20file.bin")
        #expect(plan.url(ofFile: real[1]) == "http://h:8/seeds/set/sub%20dir/b.bin")
        // Piece 1 holds the end of 'a file.bin' (50000 bytes from 32768) then pad bytes up to 65536.
        let parts = plan.parts(of: made.torrent.layout.index(1)!)
        #expect(parts.count == 2)
        #expect(parts[0].rangeHeader == "bytes=32768-49999" && parts[0].pieceOffset == 0)
        #expect(parts[1].url == nil && parts[1].length == 65536 - 50000)
        let single = try Seeders.makeTorrent(in: directory, name: "one file.bin", size: 40_000, pieceLength: Self.pieceLength)
        let singleLayout = try FileLayout(torrent: try Torrent(bytes: readBytes(single.torrent)))
        #expect(try WebSeedPlan(base: "http://h/x/", layout: singleLayout).url(ofFile: 0) == "http://h/x/one%20file.bin")
        #expect(try WebSeedPlan(base: "http://h/exact.bin", layout: singleLayout).url(ofFile: 0) == "http://h/exact.bin")
        #expect(throws: WebSeedError.self) { try WebSeedPlan(base: "ftp://h/x", layout: singleLayout) }
    }

    @Test func fetchPieceFromNginxUsesRangesAcrossFilesAndPadding() throws {
        let directory = TemporaryDirectory("tt-webseed")
        let made = try padded(directory)
        guard let nginx = try WebServers.nginx(root: directory.file("www"), work: directory) else {
            withKnownIssue("nginx is not installed (scripts/install-tools installs it)") { Issue.record("no nginx") }
            return
        }
        defer { nginx.process.stop() }
        let layout = try FileLayout(torrent: made.torrent)
        for piece in 0..<made.torrent.pieceCount {
            let out = directory.file("piece\(piece)")
            let result = CLI.run(["fetch-piece", "--json", "-t", made.path, "--webseed", nginx.base, "--piece", String(piece), "-o", out])
            #expect(result.code == 0, "piece \(piece): \(result.stderr)\n\(WebServers.accessLog(directory))")
            let report = try JSONParser().parse(result.stdout)
            #expect(report["hash_ok"] == .bool(true))
            #expect(report["source"] == "webseed")
            let realParts = try WebSeedPlan(base: nginx.base, layout: layout).parts(of: made.torrent.layout.index(piece)!).filter { $0.url != nil }.count
            #expect(report["requests"]?.intValue == Int64(realParts))
            #expect(readBytes(out).count == layout.length(of: made.torrent.layout.index(piece)!))
        }
        // The piece spanning 'sub dir/b.bin' came by ranged GETs of the percent-encoded path, answered 206.
        let log = WebServers.accessLog(directory)
        #expect(log.contains("GET /set/sub%20dir/b.bin HTTP/1.1\" 206"), "\(log)")
        #expect(!log.contains("\" 200 "), "\(log)")
    }

    @Test func fetchPieceFromPythonHTTPServerThatIgnoresRange() throws {
        let directory = TemporaryDirectory("tt-webseed")
        let single = try Seeders.makeTorrent(in: directory, name: "data.bin", size: 100_000, pieceLength: Self.pieceLength, seed: 63)
        let server = try WebServers.pythonHTTP(root: directory.file("seed"))
        defer { server.process.stop() }
        let result = CLI.run(["fetch-piece", "-t", single.torrent, "--webseed", server.base + "data.bin", "--piece", "2", "-o", "-", "--trace"])
        #expect(result.code == 0, "\(result.stderr)\n\(server.process.log)")
        #expect(result.stdout == Array(single.bytes[65536..<98304]))
        // With -o - the trace goes to stderr: one HTTP request, answered 200 with the whole file.
        let events = try result.stderr.split(separator: "\n").map { try JSONParser().parse(Array($0.utf8)) }
        let request = try #require(events.first { $0["event"] == "http_request" })
        #expect(request["status"] == .int(200) && request["bytes"] == .int(100_000))
        #expect(events.last?["event"] == "result" && events.last?["hash_ok"] == .bool(true))
    }

    @Test func anHTTPSWebSeedWithItsCertificate() throws {
        let directory = TemporaryDirectory("tt-webseed")
        let single = try Seeders.makeTorrent(in: directory, name: "data.bin", size: 100_000, pieceLength: Self.pieceLength, seed: 65)
        guard let nginx = try WebServers.nginxTLS(root: directory.file("seed"), work: directory) else {
            withKnownIssue("nginx is not installed (scripts/install-tools installs it)") { Issue.record("no nginx") }
            return
        }
        defer { nginx.process.stop() }
        let url = nginx.base + "data.bin"
        #expect(url.hasPrefix("https://"))
        let trusted = CLI.run(["fetch-piece", "--json", "-t", single.torrent, "--webseed", url, "--piece", "1",
                               "--ca-file", nginx.certificate!, "-o", directory.file("p1")])
        #expect(trusted.code == 0, "\(trusted.stderr)")
        #expect(try JSONParser().parse(trusted.stdout)["hash_ok"] == .bool(true))
        #expect(readBytes(directory.file("p1")) == Array(single.bytes[32_768..<65_536]))
        // A self-signed certificate the system does not trust is refused, with the reason.
        let untrusted = CLI.run(["fetch-piece", "-t", single.torrent, "--webseed", url, "--piece", "1"])
        #expect(untrusted.code != 0)
        #expect(untrusted.stderr.lowercased().contains("certificate"), "\(untrusted.stderr)")
    }

    @Test func badWebSeedsExitWithTheirCodes() throws {
        let directory = TemporaryDirectory("tt-webseed")
        let single = try Seeders.makeTorrent(in: directory, name: "data.bin", size: 100_000, pieceLength: Self.pieceLength, seed: 64)
        var wrong = single.bytes
        wrong[40_000] ^= 0xFF
        directory.write("www/data.bin", wrong)
        directory.write("www/short.bin", Array(single.bytes.prefix(50_000)))
        guard let nginx = try WebServers.nginx(root: directory.file("www"), work: directory) else {
            withKnownIssue("nginx is not installed (scripts/install-tools installs it)") { Issue.record("no nginx") }
            return
        }
        defer { nginx.process.stop() }
        let bad = CLI.run(["fetch-piece", "--json", "-t", single.torrent, "--webseed", nginx.base + "data.bin", "--piece", "1",
                           "-o", directory.file("p1")])
        #expect(bad.code == 76)
        #expect(bad.stderr.contains("failed its hash check"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("p1")))
        #expect(CLI.run(["fetch-piece", "-t", single.torrent, "--webseed", nginx.base + "data.bin", "--piece", "0"]).code == 0)
        let missing = CLI.run(["fetch-piece", "--json", "-t", single.torrent, "--webseed", nginx.base + "nope.bin", "--piece", "0"])
        #expect(missing.code == 76)
        #expect(missing.stderr.contains("HTTP 404"))
        #expect(try JSONParser().parse(missing.stdout)["error"]?["kind"] == "http_status")
        let short = CLI.run(["fetch-piece", "-t", single.torrent, "--webseed", nginx.base + "short.bin", "--piece", "2"])
        #expect(short.code == 76)
        #expect(short.stderr.contains("416"), "\(short.stderr)")
        let refusing = RefusingPort()
        defer { refusing.close() }
        let refused = CLI.run(["fetch-piece", "-t", single.torrent, "--webseed", "http://127.0.0.1:\(refusing.port)/data.bin", "--piece", "0"])
        #expect(refused.code == 69, "\(refused.stderr)")
        #expect(CLI.run(["fetch-piece", "-t", single.torrent, "--webseed", "ftp://127.0.0.1/x", "--piece", "0"]).code == 64)
        #expect(CLI.run(["fetch-piece", "-t", single.torrent, "--webseed", nginx.base, "--peer", "127.0.0.1:1", "--piece", "0"]).code == 64)
    }
}

/// Web seeds inside `tt download`: alone, beside a libtorrent peer, and a bad one dropped.
@Suite struct WebSeedDownloadTests {
    static let pieceLength = 64 * 1024

    struct Made {
        let directory: TemporaryDirectory
        let torrent: String
        let files: [String: [UInt8]]
    }

    /// A three-file torrent whose data is under `www/set` (for the web server) and `seed/set` (for peers).
    func make(webSeeds: [String] = []) throws -> Made {
        let directory = TemporaryDirectory("tt-webseed-dl")
        var files: [String: [UInt8]] = [:]
        for (name, size, seed) in [("a.bin", 300_000, 91), ("b b.bin", 500_000, 92), ("c.bin", 250_000, 93)] {
            files[name] = pseudoRandomBytes(count: size, seed: UInt64(seed))
            directory.write("seed/set/\(name)", files[name]!)
            directory.write("www/set/\(name)", files[name]!)
        }
        var options = TorrentCreator.Options()
        options.pieceLength = Self.pieceLength
        options.webSeeds = webSeeds
        let torrent = directory.write("set.torrent", try TorrentCreator(options: options).create(path: directory.file("seed/set")))
        return Made(directory: directory, torrent: torrent, files: files)
    }

    func events(_ result: CLIResult) throws -> [JSONValue] {
        try result.stdoutText.split(separator: "\n").map { try JSONParser().parse(Array($0.utf8)) }
    }

    @Test func aWebSeedAloneDownloadsTheWholeTorrent() throws {
        let made = try make()
        guard let nginx = try WebServers.nginx(root: made.directory.file("www"), work: made.directory) else {
            withKnownIssue("nginx is not installed (scripts/install-tools installs it)") { Issue.record("no nginx") }
            return
        }
        defer { nginx.process.stop() }
        // The torrent's own url-list, written by tt edit, is what download uses.
        let edited = made.directory.file("ws.torrent")
        #expect(CLI.run(["edit", made.torrent, "-o", edited, "--web-seed", nginx.base, "-q"]).code == 0)
        let result = CLI.run(["download", "--json", edited, "-o", made.directory.file("DL"), "--stall-timeout", "30"])
        #expect(result.code == 0, "\(result.stderr)\n\(WebServers.accessLog(made.directory))")
        let all = try events(result)
        #expect(all.contains { $0["event"] == "webseed_added" && $0["url"]?.stringValue == nginx.base })
        let verified = all.filter { $0["event"] == "piece_verified" }
        #expect(verified.count == 17 && verified.allSatisfy { $0["source"] == "webseed" })
        // The web seed's bytes count in the rate the progress events report.
        #expect(all.contains { $0["event"] == "completed" && ($0["download_rate"].map { $0 != .double(0) && $0 != .int(0) } ?? false) })
        for (name, bytes) in made.files { #expect(readBytes(made.directory.file("DL/set/\(name)")) == bytes, "\(name)") }
        #expect(WebServers.accessLog(made.directory).contains("GET /set/b%20b.bin HTTP/1.1\" 206"))
    }

    @Test func aWebSeedBesideALibtorrentPeerAndABadOneDropped() throws {
        try #require(RealTools.libtorrent, "python3-libtorrent is not installed (scripts/install-tools installs it)")
        let made = try make()
        // The second server's copy is damaged throughout: any piece from it fails its hash.
        for (name, bytes) in made.files {
            var damaged = bytes
            for offset in stride(from: 0, to: damaged.count, by: 4096) { damaged[offset] ^= 0x55 }
            made.directory.write("bad/set/\(name)", damaged)
        }
        guard let good = try WebServers.nginx(root: made.directory.file("www"), work: made.directory) else {
            withKnownIssue("nginx is not installed (scripts/install-tools installs it)") { Issue.record("no nginx") }
            return
        }
        defer { good.process.stop() }
        let badServer = try WebServers.pythonHTTP(root: made.directory.file("bad"))
        defer { badServer.process.stop() }
        let seeder = try Seeders.libtorrentSeeder(torrent: made.torrent, dataFolder: made.directory.file("seed"))
        defer { seeder.stop() }
        let port = seeder.port

        let result = CLI.run(["download", "--json", made.torrent, "-o", made.directory.file("DL"), "--peer", "127.0.0.2:\(port)",
                              "--no-trackers", "--webseed", badServer.base + "nowhere/", "--webseed", good.base,
                              "--webseed", badServer.base, "--stall-timeout", "30"])
        #expect(result.code == 0, "\(result.stderr)\n\(seeder.log)")
        let all = try events(result)
        let dropped = all.filter { $0["event"] == "webseed_dropped" }
        #expect(dropped.contains { $0["url"]?.stringValue == badServer.base + "nowhere/" && $0["reason"]?.stringValue?.contains("404") == true })
        #expect(!dropped.contains { $0["url"]?.stringValue == good.base })
        let verified = all.filter { $0["event"] == "piece_verified" }
        #expect(verified.contains { $0["peer"]?.stringValue == good.base })
        #expect(!verified.contains { $0["peer"]?.stringValue == badServer.base })
        // Its first pieces failed their hash and it was dropped for it; the others fetched them again.
        #expect(all.contains { $0["event"] == "piece_failed" && $0["peers"] == .array([.string(badServer.base)]) })
        #expect(dropped.contains { $0["url"]?.stringValue == badServer.base && $0["reason"]?.stringValue?.contains("hash check") == true })
        #expect((all.last?["hash_failures"]?.intValue ?? 0) >= 1)
        for (name, bytes) in made.files { #expect(readBytes(made.directory.file("DL/set/\(name)")) == bytes, "\(name)") }
        #expect(CLI.run(["verify", made.directory.file("DL/set")]).code == 0)
    }
}
