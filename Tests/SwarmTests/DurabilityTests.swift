import Foundation
import JSON
import Metainfo
import Storage
import TestSupport
import Testing

/// Storage faults seen through `tt download` as a user runs it: a full disk, a corrupt or
/// truncated resume file. The data comes from a ThrottledSeeder (no pauses) on loopback.
@Suite(.serialized) struct DurabilityTests {
    func download(_ torrent: String, into output: String, peer: String) -> (status: Int32, output: String, events: [JSONValue]) {
        let result = runCommand(ttExecutable, ["download", torrent, "-o", output, "--peer", peer, "--bind", "127.0.0.1", "--json",
                                               "--checkpoint", "1"], timeout: 120)
        return (result.status, result.output, result.output.split(separator: "\n").compactMap { try? JSONParser().parse(Array($0.utf8)) })
    }

    @Test func aFullDiskStopsWithExit74KeepsAnHonestStateAndALaterRunFinishes() throws {
        let directory = TemporaryDirectory()
        let small = directory.file("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        let mounted = runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tt-test-full", small], timeout: 20)
        guard mounted.status == 0 else {
            withKnownIssue("a 1 MiB tmpfs cannot be mounted here (not root, or no mount permission): \(mounted.output)") {
                Issue.record("full-disk test not run")
            }
            return
        }
        defer { runCommand("/bin/umount", ["-l", small], timeout: 20) }
        let pieceLength = 64 * 1024
        let made = try Seeders.makeTorrent(in: directory, size: 48 * pieceLength - 3, pieceLength: pieceLength, seed: 74)
        let torrent = try Torrent(bytes: readBytes(made.torrent))
        let seeder = try ThrottledSeeder(infoHash: torrent.infoHashes.wire, data: made.bytes, pieceLength: pieceLength, pauseMicroseconds: 0)
        defer { seeder.stop() }

        let first = download(made.torrent, into: small, peer: seeder.address)
        #expect(first.status == 74, "\(first.output.suffix(1500))")
        #expect(first.output.contains("No space left on device"), "\(first.output.suffix(1500))")
        #expect(!first.output.contains("Fatal error"))
        // The state names only pieces whose bytes are on disk and good.
        let hashHex = try #require(torrent.infoHashes.v1Hex)
        let onDisk = readBytes(small + "/data.bin")
        let recorded = recordedPieces(small + "/.tt/\(hashHex).resume")
        for piece in recorded {
            let start = piece * pieceLength, end = min(start + pieceLength, made.bytes.count)
            #expect(onDisk.count >= end && onDisk[start..<end] == made.bytes[start..<end], "piece \(piece) recorded but not on disk")
        }
        #expect(recorded.count < torrent.pieceCount)

        // With room, the next run finishes, byte for byte.
        let grown = runCommand("/bin/mount", ["-o", "remount,size=16m", small], timeout: 20)
        try #require(grown.status == 0, "\(grown.output)")
        let second = download(made.torrent, into: small, peer: seeder.address)
        #expect(second.status == 0, "\(second.output.suffix(1500))")
        #expect(readBytes(small + "/data.bin") == made.bytes)
    }

    @Test(arguments: ["truncated", "garbage", "another torrent"])
    func aDamagedResumeFileIsAWarningAndEverythingIsRechecked(damage: String) throws {
        let directory = TemporaryDirectory()
        let pieceLength = 32 * 1024
        let made = try Seeders.makeTorrent(in: directory, size: 20 * pieceLength - 1, pieceLength: pieceLength, seed: 65)
        let torrent = try Torrent(bytes: readBytes(made.torrent))
        let seeder = try ThrottledSeeder(infoHash: torrent.infoHashes.wire, data: made.bytes, pieceLength: pieceLength, pauseMicroseconds: 0)
        defer { seeder.stop() }
        let output = directory.file("out")
        let first = download(made.torrent, into: output, peer: seeder.address)
        try #require(first.status == 0, "\(first.output.suffix(1500))")
        let state = output + "/.tt/\(try #require(torrent.infoHashes.v1Hex)).resume"
        let saved = readBytes(state)
        try #require(saved.count > 100)
        switch damage {
        case "truncated": directory.write("damaged", Array(saved.prefix(saved.count / 2)))
        case "garbage": directory.write("damaged", pseudoRandomBytes(count: saved.count, seed: 3))
        default:
            let other = String(decoding: saved, as: UTF8.self).replacingOccurrences(of: torrent.infoHashes.v1Hex!, with: String(repeating: "0", count: 40))
            directory.write("damaged", Array(other.utf8))
        }
        try FileManager.default.removeItem(atPath: state)
        try FileManager.default.copyItem(atPath: directory.file("damaged"), toPath: state)

        let second = download(made.torrent, into: output, peer: seeder.address)
        #expect(second.status == 0, "\(second.output.suffix(1500))")
        #expect(second.output.contains("tt: warning: ") && second.output.contains("re-checking everything on disk"), "\(second.output.suffix(1500))")
        let started = try #require(second.events.first { $0["event"] == "started" })
        #expect(started["pieces_from_state"]?.intValue == 0)
        #expect(started["pieces_rechecked"]?.intValue == Int64(torrent.pieceCount))
        #expect(started["resume_warning"]?.stringValue?.contains(".resume") == true)
        #expect(readBytes(output + "/data.bin") == made.bytes)
    }

    /// The pieces a resume file records (empty when it is missing or unreadable).
    func recordedPieces(_ state: String) -> [Int] {
        guard let loaded = try? ResumeState.load(path: state) else { return [] }
        return (0..<loaded.verified.pieceCount).filter { loaded.verified[$0] }
    }
}
