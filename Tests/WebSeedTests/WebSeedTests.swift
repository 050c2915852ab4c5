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
            withKnownIssue("nginx could not be installed") { Issue.record("no nginx") }
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

    @Test func badWebSeedsExitWithTheirCodes() throws {
        let directory = TemporaryDirectory("tt-webseed")
        let single = try Seeders.makeTorrent(in: directory, name: "data.bin", size: 100_000, pieceLength: Self.pieceLength, seed: 64)
        var wrong = single.bytes
        wrong[40_000] ^= 0xFF
        directory.write("www/data.bin", wrong)
        directory.write("www/short.bin", Array(single.bytes.prefix(50_000)))
        guard let nginx = try WebServers.nginx(root: directory.file("www"), work: directory) else {
            withKnownIssue("nginx could not be installed") { Issue.record("no nginx") }
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
        let refused = CLI.run(["fetch-piece", "-t", single.torrent, "--webseed", "http://127.0.0.1:\(freePort())/data.bin", "--piece", "0"])
        #expect(refused.code == 69, "\(refused.stderr)")
        #expect(CLI.run(["fetch-piece", "-t", single.torrent, "--webseed", "ftp://127.0.0.1/x", "--piece", "0"]).code == 64)
        #expect(CLI.run(["fetch-piece", "-t", single.torrent, "--webseed", nginx.base, "--peer", "127.0.0.1:1", "--piece", "0"]).code == 64)
    }
}
