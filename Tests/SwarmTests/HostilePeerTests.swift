import Bencode
import Foundation
import Metainfo
import Net
import PeerWire
import TestSupport
import Testing

/// Hostile peers against the `tt` binary as a user runs it: each ends with the peer dropped and a
/// documented exit code, within bounded time and memory — never a crash, a hang or a big allocation.
@Suite(.serialized) struct HostilePeerTests {
    /// Generous for a download of a few MB on a loaded machine; a 1 GiB allocation is far above it.
    static let memoryLimitKiB = 160 * 1024

    /// A peer that completes the handshake (extension and fast bits), then runs `after`.
    func hostilePeer(infoHash: [UInt8], _ after: @escaping @Sendable (TCPConnection) throws -> Void) throws -> FakePeer {
        try FakePeer { connection in
            _ = try FakePeer.readHandshake(connection)
            try connection.send(FakePeer.handshake(infoHash: infoHash, extensions: true, fast: true))
            try after(connection)
            // Then wait for tt to hang up (bounded).
            while let bytes = try? connection.receive(max: 65536, deadline: .after(20)), !bytes.isEmpty {}
        }
    }

    func download(_ target: String, peers: [String], in directory: TemporaryDirectory, extra: [String] = []) -> MeasuredRun {
        runMeasured(ttExecutable, ["download", target, "-o", directory.file("out"), "--bind", "127.0.0.1", "--json", "--stall-timeout", "3"]
                    + peers.flatMap { ["--peer", $0] } + extra, timeout: 90)
    }

    func expectDroppedCleanly(_ run: MeasuredRun, mentioning reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!run.crashed, "tt crashed: \(run.output.suffix(1500))", sourceLocation: sourceLocation)
        #expect(run.status == 69 || run.status == 76, "exit \(String(describing: run.status)): \(run.output.suffix(1500))", sourceLocation: sourceLocation)
        #expect(run.output.contains(reason), "\(run.output.suffix(1500))", sourceLocation: sourceLocation)
        #expect(run.peakKiB < Self.memoryLimitKiB, "peak memory \(run.peakKiB) KiB", sourceLocation: sourceLocation)
        #expect(run.seconds < 60, "took \(run.seconds) s", sourceLocation: sourceLocation)
    }

    @Test func aFourGiBLengthPrefixDropsThePeerWithoutAllocating() throws {
        let directory = TemporaryDirectory()
        let made = try Seeders.makeTorrent(in: directory, size: 300_000, pieceLength: 32_768, seed: 41)
        let torrent = try Torrent(bytes: readBytes(made.torrent))
        let peer = try hostilePeer(infoHash: torrent.infoHashes.wire) { connection in
            try connection.send(PeerMessage.haveAll.encoded() + PeerMessage.unchoke.encoded() + [0xFF, 0xFF, 0xFF, 0xFF]
                                + [UInt8](repeating: 7, count: 65536))
        }
        defer { peer.stop() }
        let run = download(made.torrent, peers: [peer.address], in: directory)
        expectDroppedCleanly(run, mentioning: "peer_dropped")
        #expect(run.output.contains("4294967295"), "the drop names the length: \(run.output.suffix(1500))")
    }

    @Test func aHaveForPiece2To32Minus1DropsThePeer() throws {
        let directory = TemporaryDirectory()
        let made = try Seeders.makeTorrent(in: directory, size: 300_000, pieceLength: 32_768, seed: 42)
        let torrent = try Torrent(bytes: readBytes(made.torrent))
        let peer = try hostilePeer(infoHash: torrent.infoHashes.wire) { connection in
            try connection.send(PeerMessage.haveNone.encoded() + PeerMessage.have(piece: UInt32.max).encoded())
        }
        defer { peer.stop() }
        let run = download(made.torrent, peers: [peer.address], in: directory)
        expectDroppedCleanly(run, mentioning: "peer_dropped")
        #expect(run.output.contains("4294967295"), "the drop names the piece: \(run.output.suffix(1500))")
    }

    /// Offsets and sizes a peer chooses: each is checked before any arithmetic or allocation.
    @Test(arguments: [
        ("piece at offset 2^32-1", PeerMessage.piece(index: 0, begin: UInt32.max, block: [1, 2, 3]).encoded()),
        ("piece for index 2^32-1", PeerMessage.piece(index: UInt32.max, begin: 0, block: [1]).encoded()),
        ("bitfield of 1 MiB - 1", PeerMessage.bitfield([UInt8](repeating: 0xFF, count: (1 << 20) - 1)).encoded()),
        ("request for 2^32-1 bytes", PeerMessage.request(BlockRequest(index: 0, begin: 16_384, length: UInt32.max)).encoded()),
        ("allowed_fast 2^32-1", PeerMessage.allowedFast(piece: UInt32.max).encoded() + PeerMessage.haveNone.encoded()),
    ])
    func hostileOffsetsAndSizesDropThePeer(name: String, message: [UInt8]) throws {
        let directory = TemporaryDirectory()
        let made = try Seeders.makeTorrent(in: directory, size: 300_000, pieceLength: 32_768, seed: 46)
        let torrent = try Torrent(bytes: readBytes(made.torrent))
        let peer = try hostilePeer(infoHash: torrent.infoHashes.wire) { connection in
            try connection.send(PeerMessage.haveAll.encoded() + PeerMessage.unchoke.encoded() + message)
        }
        defer { peer.stop() }
        let run = download(made.torrent, peers: [peer.address], in: directory, extra: ["--peer-timeout", "5"])
        #expect(!run.crashed, "\(name): \(run.output.suffix(1500))")
        #expect(run.status == 69 || run.status == 76, "\(name): exit \(String(describing: run.status)): \(run.output.suffix(1500))")
        #expect(run.peakKiB < Self.memoryLimitKiB, "\(name): peak memory \(run.peakKiB) KiB")
        #expect(run.seconds < 60, "\(name): took \(run.seconds) s")
    }

    @Test func aHundredThousandHavesASecondDoNotStopTheDownload() throws {
        let directory = TemporaryDirectory()
        let pieceLength = 32_768
        let made = try Seeders.makeTorrent(in: directory, size: 64 * pieceLength - 9, pieceLength: pieceLength, seed: 43)
        let torrent = try Torrent(bytes: readBytes(made.torrent))
        let count = UInt32(torrent.pieceCount)
        let flooder = try hostilePeer(infoHash: torrent.infoHashes.wire) { connection in
            try connection.send(PeerMessage.haveNone.encoded())
            // 10 000 haves every 100 ms for 3 s: 100 000 a second, 900 KB/s of nothing.
            var batch: [UInt8] = []
            for index in 0..<10_000 { PeerMessage.have(piece: UInt32(index) % count).encode(into: &batch) }
            let end = Date().addingTimeInterval(3)
            var next = Date()
            while Date() < end {
                try connection.send(batch, deadline: .after(5))
                next = next.addingTimeInterval(0.1)
                let wait = next.timeIntervalSinceNow
                if wait > 0 { usleep(UInt32(wait * 1_000_000)) }  // pacing the flood, not synchronisation
            }
        }
        defer { flooder.stop() }
        let seeder = try ThrottledSeeder(infoHash: torrent.infoHashes.wire, data: made.bytes, pieceLength: pieceLength, pauseMicroseconds: 15_000)
        defer { seeder.stop() }
        let run = download(made.torrent, peers: [flooder.address, seeder.address], in: directory)
        #expect(run.status == 0, "\(run.output.suffix(1500))")
        #expect(run.seconds > 1, "the download overlapped the flood")
        #expect(readBytes(directory.file("out/data.bin")) == made.bytes)
        #expect(run.peakKiB < Self.memoryLimitKiB, "peak memory \(run.peakKiB) KiB")
    }

    /// A magnet link's peer announcing `metadataSize`; each ut_metadata request tt sends is answered
    /// with `answer(piece)` under tt's own ut_metadata id (nil: hang up).
    func metadataPeer(infoHash: [UInt8], metadataSize: Int, answer: @escaping @Sendable (Int) -> [UInt8]?) throws -> FakePeer {
        try hostilePeer(infoHash: infoHash) { connection in
            try connection.send(ExtensionHandshake(messages: ["ut_metadata": 3], version: "fake 1", metadataSize: metadataSize).message.encoded())
            // One decoder for the whole conversation: tt's handshake and first request may share a read.
            var decoder = FrameDecoder(expectingHandshake: false)
            var theirs: Int?
            let deadline = Deadline.after(20)
            while true {
                while case .message(let message, _)? = try decoder.next() {
                    guard case .extended(let id, let payload) = message else { continue }
                    if id == 0 { theirs = try ExtensionHandshake(decoding: payload).messages["ut_metadata"]; continue }
                    guard id == 3, let theirs, case .request(let piece) = try MetadataMessage(decoding: payload),
                          let bytes = answer(piece) else { return }
                    try connection.send(PeerMessage.extended(id: UInt8(theirs), payload: bytes).encoded())
                }
                let bytes = try connection.receive(max: 65536, deadline: deadline)
                if bytes.isEmpty { return }
                decoder.append(bytes)
            }
        }
    }

    @Test func aPeerAnnouncingOneGiBOfMetadataIsDropped() throws {
        let directory = TemporaryDirectory()
        let link = "magnet:?xt=urn:btih:" + String(repeating: "cd", count: 20)
        let peer = try metadataPeer(infoHash: [UInt8](repeating: 0xCD, count: 20), metadataSize: 1 << 30) { piece in
            MetadataMessage.data(piece: piece, totalSize: 1 << 30, bytes: [UInt8](repeating: 0x61, count: 16_384)).encoded()
        }
        defer { peer.stop() }
        let run = download(link, peers: [peer.address], in: directory)
        expectDroppedCleanly(run, mentioning: "metadata_size")
        #expect(!FileManager.default.fileExists(atPath: directory.file("out/.tt")))
    }

    @Test func metadataThatDoesNotMatchTheLinksHashIsRefused() throws {
        let directory = TemporaryDirectory()
        // A real info dictionary, served for a link that names another hash.
        let made = try Seeders.makeTorrent(in: directory, size: 50_000, pieceLength: 16_384, seed: 44)
        let info = try Torrent(bytes: readBytes(made.torrent)).infoBytes
        let wanted = [UInt8](repeating: 0xEF, count: 20)
        let link = "magnet:?xt=urn:btih:" + Hex.encode(wanted)
        let peer = try metadataPeer(infoHash: wanted, metadataSize: info.count) { piece in
            piece == 0 ? MetadataMessage.data(piece: 0, totalSize: info.count, bytes: info).encoded() : nil
        }
        defer { peer.stop() }
        let run = download(link, peers: [peer.address], in: directory)
        expectDroppedCleanly(run, mentioning: "not the magnet's info hash")
        #expect(!FileManager.default.fileExists(atPath: directory.file("out/data.bin")))
    }

    @Test func aRequestForOneMiBIsRefusedAndTheSeedServesOthers() throws {
        let directory = TemporaryDirectory()
        let made = try Seeders.makeTorrent(in: directory, size: 4 << 20, pieceLength: 2 << 20, seed: 45)
        let torrent = try Torrent(bytes: readBytes(made.torrent))
        let seed = try ManagedProcess(ttExecutable, ["seed", made.torrent, made.data, "--port", "0", "--bind", "127.0.0.1", "--no-announce", "--json"])
        defer { seed.stop() }
        let port = try seed.listeningPort()
        let address = SocketAddress(ip: "127.0.0.1", port: UInt16(port))!
        func greet(_ connection: TCPConnection) throws {
            try connection.send(FakePeer.handshake(infoHash: torrent.infoHashes.wire, fast: true))
            _ = try FakePeer.readHandshake(connection)
            try connection.send(PeerMessage.interested.encoded())
            #expect(try FakePeer.waitFor(connection) { $0 == .unchoke } != nil)
        }
        let hostile = try TCPConnection.connect(to: address, timeout: 5)
        defer { hostile.close() }
        try greet(hostile)
        try hostile.send(PeerMessage.request(BlockRequest(index: 0, begin: 0, length: 1 << 20)).encoded())
        // Refused (reject) or hung up on; never a 1 MiB block.
        let answer = try FakePeer.waitFor(hostile) { if case .piece = $0 { return true }; if case .reject = $0 { return true }; return false }
        if case .piece? = answer { Issue.record("tt seed sent a 1 MiB block") }
        #expect(seed.isRunning)
        #expect(highWaterKiB(seed.pid) < Self.memoryLimitKiB)
        // Another peer is still served.
        let polite = try TCPConnection.connect(to: address, timeout: 5)
        defer { polite.close() }
        try greet(polite)
        try polite.send(PeerMessage.request(BlockRequest(index: 1, begin: 16_384, length: 16_384)).encoded())
        guard case .piece(1, 16_384, let block)? = try FakePeer.waitFor(polite, { if case .piece = $0 { return true }; return false }) else {
            Issue.record("no block for the polite peer: \(seed.log.suffix(1000))")
            return
        }
        let start = (2 << 20) + 16_384
        #expect(block == Array(made.bytes[start..<(start + 16_384)]))
    }
}
