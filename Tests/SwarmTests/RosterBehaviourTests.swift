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
        let seedPort = freePort()
        let seed = try ManagedProcess(ttExecutable, ["seed", made.torrent, made.data, "--port", String(seedPort), "--bind", "127.0.0.1",
                                                     "--no-announce", "-q"], label: "tt-seed")
        defer { seed.stop() }
        #expect(waitForTCP(port: seedPort), "tt seed did not listen: \(seed.log)")
        let ownPort = freePort()
        // Listening on every address (the default), so 127.0.0.1:ownPort is us without being the listener's address.
        let result = runCommand(ttExecutable, ["download", made.torrent, "-o", "out", "--port", String(ownPort),
                                               "--no-trackers", "--peer", "127.0.0.1:\(ownPort)", "--peer", "127.0.0.1:\(seedPort)", "--json"],
                                timeout: 60, cwd: directory.path)
        #expect(result.status == 0, "\(result.output.suffix(2000))")
        let events = result.output.split(separator: "\n").compactMap { try? JSONParser().parse(Array($0.utf8)) }
        let peerEvents = events.filter { ($0["event"]?.stringValue ?? "").hasPrefix("peer_") }
        // Not one connection to ourselves, in either direction.
        #expect(!peerEvents.contains { $0["port"] == .int(Int64(ownPort)) }, "\(peerEvents)")
        #expect(!peerEvents.contains { ($0["reason"]?.stringValue ?? "").contains("ourselves") }, "\(peerEvents)")
        let connected = peerEvents.filter { $0["event"] == "peer_connected" }
        #expect(connected.contains { $0["port"] == .int(Int64(seedPort)) && $0["source"] == "peer_option" && $0["transport"] == "tcp"
                                     && $0["encryption"] == "plaintext" }, "\(connected)")
    }
}
