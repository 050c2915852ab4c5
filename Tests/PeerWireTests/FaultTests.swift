import Bencode
import Foundation
import Metainfo
import Net
import PeerWire
import Testing
import TestSupport

/// `handshake` and `fetch-piece` against hostile fake peers: each fault gives a clear error,
/// the right exit code, and ends in bounded time.
@Suite struct FaultTests {
    struct Fixture {
        let directory = TemporaryDirectory("tt-peer-fault")
        let torrentPath: String
        let bytes: [UInt8]
        let torrent: Torrent
        init() throws {
            let made = try Seeders.makeTorrent(in: directory, size: 100_000, pieceLength: 32768)
            torrentPath = made.torrent
            bytes = made.bytes
            torrent = try Torrent(bytes: readBytes(made.torrent))
        }
        var infoHash: [UInt8] { torrent.infoHashes.wire }
    }

    /// Reads our handshake and answers with a proper one plus `then` (for the fetch-piece start).
    static func greet(_ connection: TCPConnection, infoHash: [UInt8], then messages: [PeerMessage] = [.bitfield([0xF0]), .unchoke]) throws {
        _ = try FakePeer.readHandshake(connection)
        var out = FakePeer.handshake(infoHash: infoHash)
        for message in messages { out += message.encoded() }
        try connection.send(out)
    }

    func fetch(_ fixture: Fixture, _ peer: FakePeer, piece: Int = 1, timeout: String = "3", extra: [String] = []) -> CLIResult {
        defer { peer.stop() }
        return CLI.run(["fetch-piece", "--torrent", fixture.torrentPath, "--peer", peer.address, "--piece", String(piece),
                        "--timeout", timeout] + extra, cwd: fixture.directory.path)
    }

    @Test func pieceOutOfRangeIsUsageBeforeConnecting() throws {
        let fixture = try Fixture()
        let result = CLI.run(["fetch-piece", "--torrent", fixture.torrentPath, "--peer", "127.0.0.1:1", "--piece", "4"])
        #expect(result.code == 64)
        #expect(result.stderr.contains("0 to 3"))
    }

    @Test func refusedIs69() throws {
        let fixture = try Fixture()
        let port = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!).localAddress.port
        let result = CLI.run(["handshake", "127.0.0.1:\(port)", "--torrent", fixture.torrentPath])
        #expect(result.code == 69)
        #expect(result.stderr.contains("refused"))
    }

    @Test func garbageInsteadOfHandshake() throws {
        let fixture = try Fixture()
        let peer = try FakePeer { connection in
            _ = try connection.receive(max: 68, deadline: .after(5))
            try connection.send(Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8))
        }
        let result = CLI.run(["handshake", peer.address, "--torrent", fixture.torrentPath, "--json"])
        peer.stop()
        #expect(result.code == 76)
        #expect(result.stderr.contains("not a BitTorrent handshake") && result.stderr.contains(peer.address))
        #expect(result.stdoutText.contains("\"error\""))
    }

    @Test func wrongInfoHash() throws {
        let fixture = try Fixture()
        let peer = try FakePeer { connection in
            _ = try FakePeer.readHandshake(connection)
            try connection.send(FakePeer.handshake(infoHash: [UInt8](repeating: 0xAB, count: 20)))
        }
        let result = CLI.run(["handshake", peer.address, "--torrent", fixture.torrentPath])
        peer.stop()
        #expect(result.code == 76)
        #expect(result.stderr.contains("abababab") && result.stderr.contains("does not serve this torrent"))
    }

    @Test func hangUpBeforeHandshake() throws {
        let fixture = try Fixture()
        let peer = try FakePeer { connection in _ = try FakePeer.readHandshake(connection) }
        let result = CLI.run(["handshake", peer.address, "--info-hash", Hex.encode(fixture.infoHash)])
        peer.stop()
        #expect(result.code == 76)
        #expect(result.stderr.contains("closed the connection before its handshake"))
    }

    @Test func handshakeReportsWhatTheFakeSays() throws {
        let fixture = try Fixture()
        let infoHash = fixture.infoHash
        let peer = try FakePeer { connection in
            _ = try FakePeer.readHandshake(connection)
            var out = FakePeer.handshake(infoHash: infoHash, extensions: true, fast: true)
            out += ExtensionHandshake(messages: ["ut_metadata": 3], version: "Fake 1.0", listenPort: 7000, yourIP: [127, 0, 0, 1],
                                      requestQueue: 123).message.encoded()
            out += PeerMessage.bitfield([0xA0]).encoded() + PeerMessage.have(piece: 3).encoded()
            try connection.send(out)
            _ = try connection.receive(max: 1000, deadline: .after(5))
        }
        let result = CLI.run(["handshake", peer.address, "--torrent", fixture.torrentPath, "--json"])
        peer.stop()
        #expect(result.code == 0, "\(result.stderr)")
        let text = result.stdoutText
        #expect(text.contains("\"client\":\"libtorrent 2.0.8\""))
        #expect(text.contains("\"peer_id_text\":\"-LT2080-fakefakefake\""))
        #expect(text.contains("\"v\":\"Fake 1.0\"") && text.contains("\"ut_metadata\":3") && text.contains("\"reqq\":123"))
        #expect(text.contains("\"yourip\":\"127.0.0.1\""))
        #expect(text.contains("\"have\":2,\"total\":4,\"source\":\"bitfield\""))
        #expect(text.contains("\"extension_protocol\":true,\"fast\":true,\"dht\":false"))
    }

    @Test func bitfieldOfTheWrongLength() throws {
        let fixture = try Fixture()
        let infoHash = fixture.infoHash
        let peer = try FakePeer { try Self.greet($0, infoHash: infoHash, then: [.bitfield([0xF0, 0x00])]) }
        let result = fetch(fixture, peer)
        #expect(result.code == 76)
        #expect(result.stderr.contains("bad bitfield: 2 bytes for 4 pieces"))
    }

    @Test func oversizeLengthPrefix() throws {
        let fixture = try Fixture()
        let infoHash = fixture.infoHash
        let peer = try FakePeer { connection in
            try Self.greet(connection, infoHash: infoHash, then: [])
            try connection.send([0xFF, 0xFF, 0xFF, 0xF0, 7])
            _ = try? connection.receive(max: 100, deadline: .after(3))
        }
        let result = fetch(fixture, peer)
        #expect(result.code == 76)
        #expect(result.stderr.contains("length prefix 4294967280 exceeds the limit"))
    }

    @Test func blockNeverRequested() throws {
        let fixture = try Fixture()
        let infoHash = fixture.infoHash
        let peer = try FakePeer { connection in
            try Self.greet(connection, infoHash: infoHash)
            _ = try FakePeer.collectRequests(connection, count: 1)
            try connection.send(PeerMessage.piece(index: 2, begin: 0, block: [UInt8](repeating: 1, count: 16384)).encoded())
            _ = try? connection.receive(max: 100, deadline: .after(3))
        }
        let result = fetch(fixture, peer)
        #expect(result.code == 76)
        #expect(result.stderr.contains("never requested (piece 2"))
    }

    @Test func silenceTimesOut() throws {
        let fixture = try Fixture()
        let infoHash = fixture.infoHash
        let peer = try FakePeer { connection in
            try Self.greet(connection, infoHash: infoHash, then: [.bitfield([0xF0])])   // never unchokes
            _ = try? connection.receive(max: 1000, deadline: .after(3))
            _ = try? connection.receive(max: 1000, deadline: .after(3))
        }
        let result = fetch(fixture, peer, timeout: "0.5")
        #expect(result.code == 75)
        #expect(result.stderr.contains("waiting for unchoke"))
    }

    @Test func hangUpMidPiece() throws {
        let fixture = try Fixture()
        let infoHash = fixture.infoHash
        let bytes = fixture.bytes
        let peer = try FakePeer { connection in
            try Self.greet(connection, infoHash: infoHash)
            let requests = try FakePeer.collectRequests(connection, count: 2)
            let first = requests[0]
            let start = Int(first.index) * 32768 + Int(first.begin)
            try connection.send(PeerMessage.piece(index: first.index, begin: first.begin, block: Array(bytes[start..<start + Int(first.length)])).encoded())
        }
        let result = fetch(fixture, peer)
        #expect(result.code == 76)
        #expect(result.stderr.contains("closed the connection while we were waiting for piece 1"))
    }

    @Test func badDataIsNotWrittenUnlessKept() throws {
        let fixture = try Fixture()
        let infoHash = fixture.infoHash
        let script: @Sendable (TCPConnection) throws -> Void = { connection in
            try Self.greet(connection, infoHash: infoHash)
            for request in try FakePeer.collectRequests(connection, count: 2) {
                try connection.send(PeerMessage.piece(index: request.index, begin: request.begin,
                                                      block: [UInt8](repeating: 0xEE, count: Int(request.length))).encoded())
            }
            _ = try? connection.receive(max: 100, deadline: .after(3))
        }
        let output = fixture.directory.file("bad.bin")
        var result = fetch(fixture, try FakePeer(script: script), extra: ["-o", output])
        #expect(result.code == 76)
        #expect(result.stderr.contains("failed its hash check") && result.stderr.contains("nothing written"))
        #expect(!FileManager.default.fileExists(atPath: output))
        result = fetch(fixture, try FakePeer(script: script), extra: ["-o", output, "--keep-bad"])
        #expect(result.code == 76)
        #expect(readBytes(output) == [UInt8](repeating: 0xEE, count: 32768))
    }

    @Test func chokedMidPieceThenRejectedStillCompletes() throws {
        let fixture = try Fixture()
        let infoHash = fixture.infoHash
        let bytes = fixture.bytes
        let peer = try FakePeer { connection in
            _ = try FakePeer.readHandshake(connection)
            try connection.send(FakePeer.handshake(infoHash: infoHash, fast: true) + PeerMessage.haveAll.encoded() + PeerMessage.unchoke.encoded())
            var served = 0
            var rejectedOnce = false
            var decoder = FrameDecoder(expectingHandshake: false)
            let deadline = Deadline.after(10)
            while served < 2 {
                let chunk = try connection.receive(max: 65536, deadline: deadline)
                if chunk.isEmpty { return }
                decoder.append(chunk)
                while case .message(let message, _)? = try decoder.next() {
                    guard case .request(let request) = message else { continue }
                    if !rejectedOnce {
                        rejectedOnce = true
                        try connection.send(PeerMessage.reject(request).encoded())
                        continue
                    }
                    let start = Int(request.index) * 32768 + Int(request.begin)
                    try connection.send(PeerMessage.piece(index: request.index, begin: request.begin,
                                                          block: Array(bytes[start..<start + Int(request.length)])).encoded())
                    served += 1
                }
            }
            _ = try? connection.receive(max: 100, deadline: .after(3))
        }
        let result = fetch(fixture, peer, piece: 0, extra: ["--json", "-o", "-"])
        #expect(result.code == 0, "\(result.stderr)")
        #expect(result.stdout == Array(fixture.bytes[0..<32768]))
        #expect(result.stderr.contains("\"hash_ok\":true") && result.stderr.contains("\"rejects\":1"))
    }

    @Test func traceIsJSONLinesEndingWithResult() throws {
        let fixture = try Fixture()
        let infoHash = fixture.infoHash
        let bytes = fixture.bytes
        let peer = try FakePeer { connection in
            try Self.greet(connection, infoHash: infoHash)
            for request in try FakePeer.collectRequests(connection, count: 1) {   // piece 3 is one short block
                let start = Int(request.index) * 32768 + Int(request.begin)
                try connection.send(PeerMessage.piece(index: request.index, begin: request.begin,
                                                      block: Array(bytes[start..<start + Int(request.length)])).encoded())
            }
            _ = try? connection.receive(max: 100, deadline: .after(3))
        }
        let result = fetch(fixture, peer, piece: 3, extra: ["--trace"])
        #expect(result.code == 0, "\(result.stderr)")
        let lines = result.stdoutText.split(separator: "\n").map(String.init)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["event"] != nil)
        }
        #expect(lines.contains { $0.contains("\"direction\":\"out\",\"type\":\"request\"") && $0.contains("\"index\":3") })
        #expect(lines.contains { $0.contains("\"direction\":\"in\",\"type\":\"piece\"") && $0.contains("\"length\":\(100_000 - 3 * 32768 + 13)") })
        #expect(lines.last?.contains("\"event\":\"result\"") == true && lines.last?.contains("\"hash_ok\":true") == true)
    }
}
