import Foundation
import Metainfo
import Storage
import TestSupport
import Testing

/// `tt verify` must reach the same piece verdicts as libtorrent's recheck and `aria2c --check-integrity`.
@Suite(.serialized) struct RealCheckerTests {
    /// libtorrent (Python binding): add the torrent unpaused in upload mode, wait for the check, list good pieces.
    static let libtorrentScript = """
    import libtorrent as lt, sys, time, json
    ses = lt.session({'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
                      'listen_interfaces': '127.0.0.1:0', 'hashing_threads': 2, 'aio_threads': 2,
                      'alert_mask': lt.alert.category_t.status_notification})
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(sys.argv[1])
    p.save_path = sys.argv[2]
    p.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    p.flags |= lt.torrent_flags.upload_mode
    h = ses.add_torrent(p)
    deadline = time.time() + 120
    checked = False
    while not checked and time.time() < deadline:
        checked = any(isinstance(a, lt.torrent_checked_alert) for a in ses.pop_alerts())
        time.sleep(0.005)
    s = h.status()
    print(json.dumps({"checked": checked, "good": [i for i, b in enumerate(s.pieces) if b]}))
    """

    static func copyTree(_ from: String, to: String) throws {
        try FileManager.default.createDirectory(atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: from, toPath: to)
    }

    /// Good pieces according to libtorrent, checking a copy of the data.
    static func libtorrentGood(_ fixture: Fixture) throws -> [Int] {
        #expect(RealTools.libtorrent, "python3-libtorrent is needed")
        let save = TemporaryDirectory("tt-lt")
        if FileManager.default.fileExists(atPath: fixture.content) {
            try copyTree(fixture.content, to: save.file("data"))
        }
        let result = RealTools.python(libtorrentScript, [fixture.torrentPath, save.path], timeout: 180)
        #expect(result.status == 0, "\(result.output)")
        let line = try #require(result.output.split(separator: "\n").last { $0.hasPrefix("{") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["checked"] as? Bool == true, "libtorrent did not finish checking")
        return try #require(object["good"] as? [Int])
    }

    /// Good pieces according to `aria2c -V --hash-check-only`: none missing when it exits 0 without a
    /// control file, else the bitfield in `<name>.aria2`.
    static func aria2Good(_ fixture: Fixture) throws -> [Int] {
        let aria2c = try #require(RealTools.aria2c, "aria2 is needed")
        let dir = TemporaryDirectory("tt-aria2")
        if FileManager.default.fileExists(atPath: fixture.content) {
            try copyTree(fixture.content, to: dir.file("data"))
        }
        let result = runCommand(aria2c, ["--check-integrity=true", "--hash-check-only=true", "--seed-time=0",
                                         "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
                                         "--file-allocation=none", "--console-log-level=warn", "--summary-interval=0",
                                         "-d", dir.path, fixture.torrentPath], timeout: 180)
        let control = dir.file("data.aria2")
        guard FileManager.default.fileExists(atPath: control) else {
            #expect(result.status == 0, "aria2c: \(result.output)")
            return Array(0..<fixture.torrent.pieceCount)
        }
        // Control file v1 (big-endian): version 2, ext 4, hash length 4, hash, piece length 4, total 8,
        // uploaded 8, bitfield length 4, bitfield.
        let bytes = readBytes(control)
        func u32(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        let hashLength = u32(6)
        let bitfieldAt = 10 + hashLength + 4 + 8 + 8
        let count = u32(bitfieldAt)
        let bits = Array(bytes[(bitfieldAt + 4)..<(bitfieldAt + 4 + count)])
        return (0..<fixture.torrent.pieceCount).filter { bits[$0 >> 3] & (0x80 >> UInt8($0 & 7)) != 0 }
    }

    static func ours(_ fixture: Fixture) throws -> (good: [Int], report: VerifyReport) {
        let report = try fixture.verify()
        return (report.verdicts.indices.filter { report.verdicts[$0] == .good }, report)
    }

    func expectSameVerdicts(_ fixture: Fixture, expectedGood: [Int]) throws {
        let (good, _) = try Self.ours(fixture)
        #expect(good == expectedGood, "tt verify")
        #expect(try Self.libtorrentGood(fixture) == good, "libtorrent recheck")
        #expect(try Self.aria2Good(fixture) == good, "aria2c --check-integrity")
    }

    @Test func aCompleteFile() throws {
        let fixture = try Fixture(files: [("", 300_000)])
        try expectSameVerdicts(fixture, expectedGood: Array(0..<19))
    }

    @Test func aFlippedByteInAKnownPiece() throws {
        let fixture = try Fixture(files: [("", 300_000)])
        fixture.flipByte("", at: 7 * 16384 + 100)
        try expectSameVerdicts(fixture, expectedGood: Array(0..<19).filter { $0 != 7 })
    }

    @Test func aTruncatedFile() throws {
        let fixture = try Fixture(files: [("", 300_000)])
        fixture.truncate("", to: 150_000)
        try expectSameVerdicts(fixture, expectedGood: Array(0..<9))  // 9 × 16384 = 147456 ≤ 150000
    }

    @Test func aMultiFileTorrentWithOneFileMissingAndOneTooLong() throws {
        let fixture = try Fixture(files: [("a.bin", 100_000), ("b/c.bin", 60_000), ("d.bin", 70_000)])
        // Stream: a 0..<100000, b/c 100000..<160000, d 160000..<230000; pieces of 16384.
        fixture.remove("b/c.bin")
        fixture.append("d.bin", bytes: 5000)
        let missing = Set(100_000 / 16384...(160_000 - 1) / 16384)
        try expectSameVerdicts(fixture, expectedGood: Array(0..<15).filter { !missing.contains($0) })
        let (_, report) = try Self.ours(fixture)
        #expect(report.status("b/c.bin") == .missing)
        #expect(report.status("d.bin") == .tooLong)
    }
}
