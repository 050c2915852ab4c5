import Bencode
import Foundation
import JSON
import Metainfo
import Net
import PeerWire
import TestSupport
import Testing

/// `tt download` as a real process against several seeders at once, hostile peers among them.
@Suite(.serialized) struct SwarmDownloadTests {
    /// Runs `tt download … --json` to completion and returns the exit status and the events.
    func download(_ arguments: [String], cwd: String, timeout: Double = 120) -> (status: Int32, events: [JSONValue], output: String) {
        let result = runCommand(ttExecutable, ["download"] + arguments + ["--json"], timeout: timeout, cwd: cwd)
        let events = result.output.split(separator: "\n").compactMap { try? JSONParser().parse(Array($0.utf8)) }
        return (result.status, events, result.output)
    }

    /// `tt seed` on a port it binds itself (port 0), read back from its `listening` event.
    func startSeed(torrent: String, data: String) throws -> (process: ManagedProcess, port: Int) {
        let seed = try ManagedProcess(ttExecutable, ["seed", torrent, data, "--port", "0", "--bind", "127.0.0.1", "--no-announce", "--json"],
                                      label: "tt-seed")
        let port = try seed.listeningPort()
        return (seed, port)
    }

    /// A peer that has everything and answers every request with flipped bytes.
    func corruptPeer(infoHash: [UInt8], data: [UInt8], pieceLength: Int) throws -> FakePeer {
        try FakePeer { connection in
            _ = try FakePeer.readHandshake(connection)
            try connection.send(FakePeer.handshake(infoHash: infoHash, fast: true, peerID: Array("-XX0001-corruptcorru".utf8)))
            try connection.send(PeerMessage.haveAll.encoded() + PeerMessage.unchoke.encoded())
            var decoder = FrameDecoder(expectingHandshake: false)
            let deadline = Deadline.after(60)
            while !deadline.hasPassed {
                let bytes = try connection.receive(max: 65536, deadline: deadline)
                if bytes.isEmpty { return }
                decoder.append(bytes)
                while case .message(let message, _)? = try decoder.next() {
                    guard case .request(let request) = message else { continue }
                    let start = Int(request.index) * pieceLength + Int(request.begin)
                    let block = data[start..<start + Int(request.length)].map { $0 ^ 0x5A }
                    try connection.send(PeerMessage.piece(index: request.index, begin: request.begin, block: block).encoded())
                }
            }
        }
    }

    /// A peer that has everything, unchokes, takes requests and never answers.
    func stallingPeer(infoHash: [UInt8]) throws -> FakePeer {
        try FakePeer { connection in
            _ = try FakePeer.readHandshake(connection)
            try connection.send(FakePeer.handshake(infoHash: infoHash, peerID: Array("-XX0001-stallstallst".utf8)))
            let all = Bitfield(pieceCount: 64, all: true)
            try connection.send(PeerMessage.bitfield(all.bytes).encoded() + PeerMessage.unchoke.encoded())
            while let bytes = try? connection.receive(max: 65536, deadline: .after(60)), !bytes.isEmpty {}
        }
    }

    @Test func downloadsFromSeveralPeersBansTheCorruptOneAndOutlastsTheStaller() throws {
        let directory = TemporaryDirectory()
        let pieceLength = 64 * 1024
        let made = try Seeders.makeTorrent(in: directory, size: 64 * pieceLength - 777, pieceLength: pieceLength)
        let torrent = try Torrent(bytes: readBytes(made.torrent))
        #expect(torrent.pieceCount == 64)
        let (seedA, portA) = try startSeed(torrent: made.torrent, data: made.data)
        let (seedB, portB) = try startSeed(torrent: made.torrent, data: made.data)
        defer { seedA.stop(); seedB.stop() }
        let corrupt = try corruptPeer(infoHash: torrent.infoHashes.wire, data: made.bytes, pieceLength: pieceLength)
        let staller = try stallingPeer(infoHash: torrent.infoHashes.wire)
        defer { corrupt.stop(); staller.stop() }

        let result = download([made.torrent, "-o", "out", "--peer", corrupt.address, "--peer", staller.address,
                               "--peer", "127.0.0.1:\(portA)", "--peer", "127.0.0.1:\(portB)", "--bind", "127.0.0.1",
                               // TCP only: with uTP first the TCP-only fakes would join 1 s after the seeds.
                               "--peer-timeout", "3", "--transport", "tcp"], cwd: directory.path)
        #expect(result.status == 0, "\(result.output.suffix(2000))")
        #expect(readBytes(directory.file("out/data.bin")) == made.bytes)
        let banned = result.events.filter { $0["event"] == "peer_banned" }
        #expect(banned.contains { $0["addr"] == .string(corrupt.address) }, "corrupt peer not banned: \(result.output.suffix(3000))")
        #expect(!banned.contains { $0["addr"] == .string("127.0.0.1:\(portA)") || $0["addr"] == .string("127.0.0.1:\(portB)") })
        let finished = try #require(result.events.last)
        #expect(finished["event"] == "finished")
        #expect(finished["outcome"] == "complete")
        #expect(finished["pieces_have"] == .int(64))
        let verified = result.events.filter { $0["event"] == "piece_verified" }.compactMap { $0["piece"]?.intValue }
        #expect(Set(verified).count == 64)
        // A download made by tt knows its torrent.
        let verify = CLI.run(["verify", "out/data.bin"], cwd: directory.path)
        #expect(verify.code == 0, "\(verify.stderr)")
    }

    @Test func multiFileTorrentLandsInItsFolder() throws {
        let directory = TemporaryDirectory()
        directory.write("src/set/a.bin", pseudoRandomBytes(count: 300_000, seed: 1))
        directory.write("src/set/sub/b.bin", pseudoRandomBytes(count: 123_457, seed: 2))
        directory.write("src/set/empty", [])
        let created = CLI.run(["create", "src/set", "--piece-size", "32K", "-o", "set.torrent", "--no-date"], cwd: directory.path)
        try #require(created.code == 0, "\(created.stderr)")
        let (seed, port) = try startSeed(torrent: directory.file("set.torrent"), data: directory.file("src/set"))
        defer { seed.stop() }
        let result = download(["set.torrent", "-o", "out", "--peer", "127.0.0.1:\(port)", "--bind", "127.0.0.1"], cwd: directory.path)
        #expect(result.status == 0, "\(result.output.suffix(2000))")
        for name in ["a.bin", "sub/b.bin", "empty"] {
            #expect(FileManager.default.contentsEqual(atPath: directory.file("src/set/\(name)"), andPath: directory.file("out/set/\(name)")), "\(name)")
        }
    }

    @Test func killedAtRandomMomentsResumesWithoutRefetchingSavedPieces() throws {
        let directory = TemporaryDirectory()
        let pieceLength = 256 * 1024
        let pieceCount = 96
        let made = try Seeders.makeTorrent(in: directory, size: pieceCount * pieceLength - 5, pieceLength: pieceLength, seed: 99)
        let torrent = try Torrent(bytes: readBytes(made.torrent))
        // ~10 MB/s, so the kills land mid-download whatever the machine.
        let seeder = try ThrottledSeeder(infoHash: torrent.infoHashes.wire, data: made.bytes, pieceLength: pieceLength, pauseMicroseconds: 1500)
        defer { seeder.stop() }
        let arguments = ["download", made.torrent, "-o", "out", "--peer", seeder.address, "--bind", "127.0.0.1", "--json", "--checkpoint", "1"]
        var kills = 0
        for _ in 0..<4 {
            let before = recordedPieces(directory.path + "/out", torrent: made.torrent)
            let child = try ManagedProcess(ttExecutable, arguments, cwd: directory.path)
            // Wait for this run's first checkpoint (the state records more than before), then kill
            // at a random instant after it: mid-write, mid-checkpoint or between them.
            let deadline = Date().addingTimeInterval(60)
            while child.isRunning && Date() < deadline
                    && recordedPieces(directory.path + "/out", torrent: made.torrent).count <= before.count {
                usleep(20_000)
            }
            usleep(UInt32.random(in: 0...400_000))  // the kill instant, chosen at random
            if child.isRunning { kill(child.pid, SIGKILL); kills += 1 }
            #expect(child.wait(timeout: 10) != nil)
            // The run trusted at least what the state recorded before it.
            let started = child.log.split(separator: "\n").compactMap { try? JSONParser().parse(Array($0.utf8)) }.first { $0["event"] == "started" }
            if let started { #expect((started["pieces_from_state"]?.intValue ?? -1) >= Int64(before.count)) }
            // What the state claims must be on disk and good, whatever instant the kill hit.
            let onDisk = readBytes(directory.file("out/data.bin"))
            for piece in recordedPieces(directory.path + "/out", torrent: made.torrent) {
                let start = piece * pieceLength
                let end = min(start + pieceLength, made.bytes.count)
                #expect(onDisk.count >= end && onDisk[start..<end] == made.bytes[start..<end], "piece \(piece) recorded but not on disk")
            }
        }
        #expect(kills > 0, "every run finished before its kill")
        let before = recordedPieces(directory.path + "/out", torrent: made.torrent).count
        #expect(before > 0, "nothing was saved across \(kills) kills")
        let last = download([made.torrent, "-o", "out", "--peer", seeder.address, "--bind", "127.0.0.1"], cwd: directory.path)
        #expect(last.status == 0, "\(last.output.suffix(2000))")
        #expect(readBytes(directory.file("out/data.bin")) == made.bytes)
        let started = last.events.first { $0["event"] == "started" }
        #expect((started?["pieces_have"]?.intValue ?? -1) >= Int64(before))
        let downloaded = last.events.last?["downloaded"]?.intValue ?? -1
        #expect(downloaded <= Int64((pieceCount - before) * pieceLength), "re-fetched pieces the state had: \(downloaded) bytes, \(before) recorded")
    }

    /// Pieces the resume state records, read through `tt decode` (the file is bencode).
    func recordedPieces(_ output: String, torrent: String) -> [Int] {
        guard let hash = try? JSONParser().parse(CLI.run(["info", "--json", torrent]).stdout)["info_hash"]?.stringValue else { return [] }
        let state = output + "/.tt/\(hash).resume"
        guard FileManager.default.fileExists(atPath: state) else { return [] }
        let decoded = CLI.run(["decode", "--compact", state])
        guard let value = try? JSONParser().parse(decoded.stdout), let count = value["piece count"]?.intValue else { return [] }
        let bits: [UInt8]
        switch value["pieces"] {
        case .string(let text)?: bits = Array(text.utf8)
        case .object(let fields)?: bits = fields.first.flatMap { $0.value.stringValue }.flatMap(Hex.decode) ?? []
        default: bits = []
        }
        return (0..<Int(count)).filter { $0 / 8 < bits.count && bits[$0 / 8] & (0x80 >> UInt8($0 % 8)) != 0 }
    }

    @Test func refusesUnsafeTorrentsBeforeWritingAnything() throws {
        let directory = TemporaryDirectory()
        let result = runCommand(ttExecutable, ["download", fixture("bad/unsafe-path-dotdot.torrent"), "-o", "out", "--peer", "127.0.0.1:9"],
                                cwd: directory.path)
        #expect(result.status == 65)
        #expect(result.output.contains("unsafe path"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("out")))
    }

    @Test func unreachablePeersEndWithExit69AndAClearMessage() throws {
        let directory = TemporaryDirectory()
        let made = try Seeders.makeTorrent(in: directory, size: 100_000, pieceLength: 16_384)
        let refusing = RefusingPort(use: .tcpAndUDP)
        defer { refusing.close() }
        let result = runCommand(ttExecutable, ["download", made.torrent, "-o", "out", "--peer", "127.0.0.1:\(refusing.port)"],
                                timeout: 60, cwd: directory.path)
        #expect(result.status == 69, "\(result.output)")
        #expect(result.output.contains("no peers to download from"))
        #expect(result.output.split(separator: "\n").filter { $0.hasPrefix("tt: error:") }.count == 1)
        // TCP's reason (uTP failed first, on ICMP), the address said once.
        let address = "127.0.0.1:\(refusing.port)"
        #expect(result.output.contains("\(address): connection refused"), "\(result.output)")
        #expect(!result.output.contains("\(address): \(address)"), "\(result.output)")
    }
}

/// A seeder for many connections that pauses after every block, so downloads take a while.
final class ThrottledSeeder: @unchecked Sendable {
    let listener: TCPListener
    private let stopped = NSLock()
    private var isStopped = false
    var address: String { listener.localAddress.description }

    /// Signalled when the accept thread has left its loop.
    private let acceptEnded = DispatchSemaphore(value: 0)

    init(infoHash: [UInt8], data: [UInt8], pieceLength: Int, pauseMicroseconds: UInt32) throws {
        listener = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        let listener = self.listener
        let acceptEnded = self.acceptEnded
        Thread.detachNewThread { [weak self] in
            defer { acceptEnded.signal() }
            while let self, !self.stopped.withLock({ self.isStopped }) {
                guard let connection = try? listener.accept(deadline: .after(0.2)) else { continue }
                Thread.detachNewThread {
                    defer { connection.close() }
                    guard (try? FakePeer.readHandshake(connection)) != nil else { return }
                    let pieces = (data.count + pieceLength - 1) / pieceLength
                    let all = Bitfield(pieceCount: pieces, all: true)
                    try? connection.send(FakePeer.handshake(infoHash: infoHash) + PeerMessage.bitfield(all.bytes).encoded() + PeerMessage.unchoke.encoded())
                    var decoder = FrameDecoder(expectingHandshake: false)
                    while let bytes = try? connection.receive(max: 65536, deadline: .after(30)), !bytes.isEmpty {
                        decoder.append(bytes)
                        while case .message(let message, _)? = try? decoder.next() {
                            guard case .request(let request) = message else { continue }
                            let start = Int(request.index) * pieceLength + Int(request.begin)
                            let block = Array(data[start..<min(start + Int(request.length), data.count)])
                            usleep(pauseMicroseconds)
                            guard (try? connection.send(PeerMessage.piece(index: request.index, begin: request.begin, block: block).encoded())) != nil else { return }
                        }
                    }
                }
            }
        }
    }

    /// Ends the accept loop and waits for it (bounded) before closing the listener under it.
    func stop() {
        stopped.withLock { isStopped = true }
        _ = acceptEnded.wait(timeout: .now() + 10)
        listener.close()
    }
}

/// The serving side (shared by `tt seed` and `tt download --seed`) against a hand-driven client.
@Suite struct ServingTests {
    @Test func servesRequestedBlocksAndDropsAPeerThatAsksOutOfRange() throws {
        let directory = TemporaryDirectory()
        let made = try Seeders.makeTorrent(in: directory, size: 100_000, pieceLength: 32_768, seed: 5)
        let torrent = try Torrent(bytes: readBytes(made.torrent))
        let seed = try ManagedProcess(ttExecutable, ["seed", made.torrent, made.data, "--port", "0", "--bind", "127.0.0.1",
                                                     "--no-announce", "--json"])
        defer { seed.stop() }
        let port = try seed.listeningPort()
        let connection = try TCPConnection.connect(to: SocketAddress(ip: "127.0.0.1", port: UInt16(port))!, timeout: 5)
        defer { connection.close() }
        try connection.send(FakePeer.handshake(infoHash: torrent.infoHashes.wire, fast: true, peerID: Array("-XX0001-clientclient".utf8)))
        let handshake = try FakePeer.readHandshake(connection)
        #expect(handshake.infoHash == torrent.infoHashes.wire)
        #expect(handshake.peerID.client == "tt 0.1.0")
        #expect(try FakePeer.waitFor(connection) { $0 == .haveAll } != nil)
        try connection.send(PeerMessage.interested.encoded())
        #expect(try FakePeer.waitFor(connection) { $0 == .unchoke } != nil)
        // The last piece is short: 100000 - 3 × 32768 = 1696 bytes.
        try connection.send(PeerMessage.request(BlockRequest(index: 3, begin: 0, length: 1696)).encoded())
        let piece = try FakePeer.waitFor(connection) { if case .piece = $0 { return true }; return false }
        let expected = Array(made.bytes[98_304...])
        guard case .piece(3, 0, let block)? = piece else { Issue.record("no piece: \(String(describing: piece))"); return }
        #expect(block == expected)
        // Past the end of the torrent: the seed hangs up on us.
        try connection.send(PeerMessage.request(BlockRequest(index: 3, begin: 1024, length: 16_384)).encoded())
        let after = try FakePeer.waitFor(connection) { _ in true }
        #expect(after == nil, "the connection should have been closed, got \(String(describing: after))")
        seed.stop()
        #expect(seed.log.contains("\"event\":\"peer_dropped\"") && seed.log.contains("out of range"), "\(seed.log)")
    }
}

/// Magnet links: the info dictionary comes from peers (BEP 9) — from `tt seed`, and from libtorrent.
@Suite(.serialized) struct MagnetDownloadTests {
    func download(_ link: String, peer: String, in directory: TemporaryDirectory) -> (status: Int32, output: String) {
        runCommand(ttExecutable, ["download", link, "--peer", peer, "-o", "out", "--bind", "127.0.0.1", "--json"], timeout: 90, cwd: directory.path)
    }

    @Test func fetchesTheMetadataFromTtSeedThenTheData() throws {
        let directory = TemporaryDirectory()
        // A multi-file torrent whose info dictionary spans several 16 KiB metadata pieces.
        for index in 0..<700 { directory.write("src/set/f\(index).bin", pseudoRandomBytes(count: 97 + index, seed: UInt64(index))) }
        let created = CLI.run(["create", "src/set", "--piece-size", "16K", "-o", "set.torrent", "--no-date"], cwd: directory.path)
        try #require(created.code == 0, "\(created.stderr)")
        let torrent = try Torrent(bytes: readBytes(directory.file("set.torrent")))
        #expect(torrent.infoBytes.count > 16_384)  // more than one metadata piece
        let seed = try ManagedProcess(ttExecutable, ["seed", directory.file("set.torrent"), directory.file("src/set"), "--port", "0",
                                                     "--bind", "127.0.0.1", "--no-announce", "--json"])
        defer { seed.stop() }
        let port = try seed.listeningPort()
        let result = download(MagnetLink(torrent: torrent).link, peer: "127.0.0.1:\(port)", in: directory)
        #expect(result.status == 0, "\(result.output.suffix(2000))")
        for index in [0, 350, 699] {
            #expect(FileManager.default.contentsEqual(atPath: directory.file("src/set/f\(index).bin"), andPath: directory.file("out/set/f\(index).bin")))
        }
        // The state keeps the torrent rebuilt from the metadata: verify needs nothing else.
        #expect(CLI.run(["verify", "out/set"], cwd: directory.path).code == 0)
    }

    @Test func fetchesTheMetadataFromLibtorrent() throws {
        try #require(RealTools.libtorrent, "python3-libtorrent is not available")
        let directory = TemporaryDirectory()
        let made = try Seeders.makeTorrent(in: directory, size: 2_000_000, pieceLength: 32_768, seed: 77)
        let torrent = try Torrent(bytes: readBytes(made.torrent))
        let seeder = try Seeders.libtorrentSeeder(torrent: made.torrent, dataFolder: directory.file("seed"), host: "127.0.0.2")
        defer { seeder.stop() }
        let port = seeder.port
        let result = download(MagnetLink(torrent: torrent).link, peer: "127.0.0.2:\(port)", in: directory)
        #expect(result.status == 0, "\(result.output.suffix(2000))\n\(seeder.log.suffix(500))")
        #expect(readBytes(directory.file("out/data.bin")) == made.bytes)
    }

    @Test func aPeerWithoutTheMetadataIsAClearError() throws {
        let directory = TemporaryDirectory()
        let link = "magnet:?xt=urn:btih:" + String(repeating: "ab", count: 20)
        let refusing = RefusingPort(use: .tcpAndUDP)
        defer { refusing.close() }
        let result = runCommand(ttExecutable, ["download", link, "--peer", "127.0.0.1:\(refusing.port)", "-o", "out"], timeout: 60, cwd: directory.path)
        #expect(result.status == 69, "\(result.output)")
        #expect(result.output.contains("no peer gave the metadata"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("out")))
    }
}
