import Census
import Metainfo
import Net
import PeerWire
import Testing

/// The census summary from reports alone: reach, seeders vs leechers, client shares, piece
/// availability, and what a failed peer is reported as.
@Suite struct CensusSummaryTests {
    static func peer(_ port: UInt16, client: String = "-TR3000-", have: [Int]? = nil, pieces: Int = 8, haveAll: Bool = false,
                     attempts: [CensusAttemptReport] = [ok("tcp")]) -> CensusPeerReport {
        var report = CensusPeerReport(address: SocketAddress(ip: "127.0.0.1", port: port)!, sources: ["tracker"])
        report.attempts = attempts
        if attempts.contains(where: { $0.failure == nil }) {
            let id = Array(client.utf8) + [UInt8](repeating: 0x41, count: 20 - client.utf8.count)
            report.handshake = Handshake(reserved: ReservedBits([]), infoHash: [UInt8](repeating: 1, count: 20), peerID: PeerID(bytes: id))
        }
        if let have {
            var bits = Bitfield(pieceCount: pieces)
            for index in have { bits[index] = true }
            report.have = bits
        }
        report.saidHaveAll = haveAll
        return report
    }

    static func ok(_ transport: String, _ encryption: String = "plaintext") -> CensusAttemptReport {
        CensusAttemptReport(transport: transport, encryption: encryption, failure: nil, message: nil, seconds: 0.01)
    }

    static func failed(_ transport: String, _ why: String, _ encryption: String = "plaintext") -> CensusAttemptReport {
        CensusAttemptReport(transport: transport, encryption: encryption, failure: why, message: why, seconds: 0.01)
    }

    @Test func availabilityCountsWhatEachPeerHolds() {
        let peers = [
            Self.peer(1, client: "-TR3000-", have: Array(0..<8)),
            Self.peer(2, client: "-LT2080-", have: [0, 1, 2]),
            Self.peer(3, client: "-LT2080-", have: [1, 2, 5]),
            Self.peer(4, attempts: [Self.failed("tcp", "refused")]),
        ]
        var tracker = CensusSourceReport(kind: "tracker", name: "http://127.0.0.1:1/announce")
        tracker.seeders = 3
        tracker.leechers = 4
        let summary = CensusSummary(sources: [tracker], peers: peers, pieceCount: 8)
        #expect(summary.peersKnown == 4)
        #expect(summary.peersReached == 3)
        #expect(summary.seedersReached == 1 && summary.leechersReached == 2)
        #expect(summary.seedersAnnounced == 3 && summary.leechersAnnounced == 4)
        #expect(summary.minimumCopies == 1)
        #expect(summary.rarestPieces == [3, 4, 6, 7])
        #expect(summary.missingPieces == 0 && summary.completable == true)
        #expect(summary.clients.map(\.peers) == [2, 1])
        #expect(peers[3].failure == "refused")
    }

    @Test func withoutTheSeederPiecesAreMissing() {
        let peers = [Self.peer(2, have: [0, 1, 2]), Self.peer(3, have: [1, 2, 5]), Self.peer(1, have: Array(0..<8), attempts: [Self.failed("tcp", "timeout")])]
        let summary = CensusSummary(sources: [], peers: peers, pieceCount: 8)
        #expect(summary.minimumCopies == 0)
        #expect(summary.missingPieces == 4)
        #expect(summary.completable == false)
        #expect(summary.seedersReached == 0)
    }

    @Test func transportsAndEncryptionTheyInsistOn() {
        let refusedThenUTP = Self.peer(1, attempts: [Self.failed("tcp", "refused"), Self.ok("utp")])
        let plaintextCutOff = Self.peer(2, attempts: [Self.failed("tcp", "closed"), Self.ok("tcp", "rc4")])
        let silent = Self.peer(3, attempts: [Self.failed("tcp", "refused"), Self.failed("utp", "timeout")])
        #expect(refusedThenUTP.onlyUTP && !refusedThenUTP.requiresEncryption)
        #expect(plaintextCutOff.requiresEncryption && !plaintextCutOff.onlyUTP)
        #expect(silent.failure == "refused", "TCP's refusal is the answer, not uTP's silence")
        let summary = CensusSummary(sources: [], peers: [refusedThenUTP, plaintextCutOff, silent], pieceCount: nil)
        #expect(summary.onlyUTP == 1 && summary.requiresEncryption == 1)
        #expect(summary.minimumCopies == nil && summary.completable == nil)
    }

    @Test func haveAllWithoutAPieceCountIsASeeder() {
        let seeder = Self.peer(1, haveAll: true)
        #expect(seeder.isSeeder(pieceCount: nil))
        let summary = CensusSummary(sources: [], peers: [seeder], pieceCount: nil)
        #expect(summary.seedersReached == 1 && summary.completable == true)
    }
}
