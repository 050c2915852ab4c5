import Foundation
import JSON
import TestSupport
import Testing

/// The roster as `tt download` runs it: our own address (as a tracker echoes it back, or as named by
/// mistake) is never dialled, and peers carry where they came from.
@Suite struct RosterBehaviourTests {
    @Test func neverDialsItsOwnAddressAndTagsPeersWithTheirSource() throws {
        let directory = TemporaryDirectory()
        let made = try Seeders.makeTorrent(in: directory, size: 300_000, pieceLength: 32_768)
        let seed = try ManagedProcess(ttExecutable, ["seed", made.torrent, made.data, "--port", "0", "--bind", "127.0.0.1",
                                                     "--no-announce", "--json"], label: "tt-seed")
        defer { seed.stop() }
        let seedPort = try seed.listeningPort()
        // The download is told its own port to name it as a peer, so it cannot take port 0: a candidate, and
        // its listening event must show it got that port (else someone took it first: a new candidate).
        var ownPort = 0
        var result: (status: Int32, output: String) = (-1, "")
        var events: [JSONValue] = []
        for _ in 1...4 {
            ownPort = candidatePort()
            // Listening on every address (the default), so 127.0.0.1:ownPort is us without being the listener's address.
            result = runCommand(ttExecutable, ["download", made.torrent, "-o", "out", "--port", String(ownPort),
                                               "--no-trackers", "--peer", "127.0.0.1:\(ownPort)", "--peer", "127.0.0.1:\(seedPort)", "--json"],
                                timeout: 60, cwd: directory.path)
            events = result.output.split(separator: "\n").compactMap { try? JSONParser().parse(Array($0.utf8)) }
            if events.contains(where: { $0["event"] == "listening" && $0["port"] == .int(Int64(ownPort)) }) { break }
            try? FileManager.default.removeItem(atPath: directory.file("out"))
        }
        try #require(events.contains { $0["event"] == "listening" && $0["port"] == .int(Int64(ownPort)) },
                     "tt download never listened on the port it was given: \(result.output.suffix(2000))")
        #expect(result.status == 0, "\(result.output.suffix(2000))")
        let peerEvents = events.filter { ($0["event"]?.stringValue ?? "").hasPrefix("peer_") }
        // Not one connection to ourselves, in either direction.
        #expect(!peerEvents.contains { $0["port"] == .int(Int64(ownPort)) }, "\(peerEvents)")
        #expect(!peerEvents.contains { ($0["reason"]?.stringValue ?? "").contains("ourselves") }, "\(peerEvents)")
        let connected = peerEvents.filter { $0["event"] == "peer_connected" }
        // --transport auto (the default) dials uTP first, and tt seed answers it.
        #expect(connected.contains { $0["port"] == .int(Int64(seedPort)) && $0["source"] == "peer_option" && $0["transport"] == "utp"
                                     && $0["encryption"] == "plaintext" }, "\(connected)")
    }
}
