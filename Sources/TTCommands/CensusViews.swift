import Bencode
import Census
import JSON
import Metainfo
import Net
import PeerWire

/// `tt swarm` output: one JSON document (`sources`, `peers`, `summary`), JSON Lines events, or text.
enum CensusViews {
    static func json(_ report: CensusReport) -> JSONValue {
        var fields: [JSONField] = []
        if let v1 = report.infoHashes.v1Hex { fields.append(JSONField("info_hash", .string(v1))) }
        if let v2 = report.infoHashes.v2Hex { fields.append(JSONField("info_hash_v2", .string(v2))) }
        fields += [
            JSONField("duration", .double(rounded(report.duration))),
            JSONField("sources", .array(report.sources.map(source))),
            JSONField("peers", .array(sorted(report.peers, pieceCount: report.pieceCount).map { peer($0, pieceCount: report.pieceCount) })),
            JSONField("summary", summary(report.summary)),
        ]
        return .object(fields)
    }

    static func event(_ event: Census.Event, pieceCount: Int?) -> JSONValue {
        switch event {
        case .source(let report): return .object([JSONField("event", .string("source"))] + source(report).objectFields)
        case .peer(let report): return .object([JSONField("event", .string("peer"))] + peer(report, pieceCount: pieceCount).objectFields)
        }
    }

    static func source(_ report: CensusSourceReport) -> JSONValue {
        .object([
            JSONField("source", .string(report.kind)),
            JSONField("name", .string(report.name)),
            JSONField("peers", .int(report.peers.count)),
            JSONField("seeders", .optional(report.seeders)),
            JSONField("leechers", .optional(report.leechers)),
            JSONField("downloaded", .optional(report.downloaded)),
            JSONField("error", .optional(report.error)),
            JSONField("time", seconds(report.elapsed)),
        ])
    }

    static func peer(_ report: CensusPeerReport, pieceCount: Int?) -> JSONValue {
        var fields = PeerView.json(report.address).objectFields
        fields.append(JSONField("sources", .array(report.sources.map { .string($0) })))
        fields.append(JSONField("reachable", .bool(report.reached)))
        fields.append(JSONField("error", .optional(report.failure)))
        let success = report.success
        fields.append(JSONField("transport", .optional(success?.transport)))
        fields.append(JSONField("encryption", .optional(success?.encryption)))
        fields.append(JSONField("encryption_required", .bool(report.requiresEncryption)))
        fields.append(JSONField("attempts", .array(report.attempts.map { attempt in
            .object([JSONField("transport", .string(attempt.transport)), JSONField("encryption", .string(attempt.encryption)),
                     JSONField("ok", .bool(attempt.failure == nil)), JSONField("error", .optional(attempt.failure)),
                     JSONField("message", .optional(attempt.message)), JSONField("time", .double(rounded(attempt.seconds)))])
        })))
        if let handshake = report.handshake {
            fields += PeerWireViews.peerIDFields(handshake.peerID)
            fields.append(JSONField("reserved", PeerWireViews.reserved(handshake.reserved)))
        }
        fields.append(JSONField("extensions", report.extensions.map(PeerWireViews.extensions) ?? .null))
        let have = report.have?.setCount ?? (report.saidHaveAll ? pieceCount : report.haveCount)
        fields.append(JSONField("pieces", .object([
            JSONField("have", .optional(have)),
            JSONField("total", .optional(pieceCount)),
            JSONField("fraction", report.fraction(pieceCount: pieceCount).map { .double(($0 * 10000).rounded() / 10000) } ?? .null),
            JSONField("seeder", .bool(report.isSeeder(pieceCount: pieceCount))),
        ])))
        fields.append(JSONField("connect_time", seconds(report.connectTime)))
        fields.append(JSONField("rtt", seconds(report.handshakeTime)))
        fields.append(JSONField("unchoked", .bool(report.unchokedAfter != nil)))
        fields.append(JSONField("unchoked_after", seconds(report.unchokedAfter)))
        fields.append(JSONField("pex_peers", .int(report.pexPeers)))
        return .object(fields)
    }

    static func summary(_ summary: CensusSummary) -> JSONValue {
        .object([
            JSONField("peers_known", .int(summary.peersKnown)),
            JSONField("peers_reached", .int(summary.peersReached)),
            JSONField("seeders_reached", .int(summary.seedersReached)),
            JSONField("leechers_reached", .int(summary.leechersReached)),
            JSONField("seeders_announced", .optional(summary.seedersAnnounced)),
            JSONField("leechers_announced", .optional(summary.leechersAnnounced)),
            JSONField("clients", .array(summary.clients.map {
                .object([JSONField("client", .string($0.client)), JSONField("peers", .int($0.peers)),
                         JSONField("share", .double((Double($0.peers) / Double(max(1, summary.peersReached)) * 10000).rounded() / 10000))])
            })),
            JSONField("encryption_required", .int(summary.requiresEncryption)),
            JSONField("utp_only", .int(summary.onlyUTP)),
            JSONField("unchoked_us", .int(summary.unchokedUs)),
            JSONField("pieces", .optional(summary.pieceCount)),
            JSONField("minimum_copies", .optional(summary.minimumCopies)),
            JSONField("rarest_pieces", .array(summary.rarestPieces.map { .int($0) })),
            JSONField("missing_pieces", .optional(summary.missingPieces)),
            JSONField("completable", summary.completable.map { .bool($0) } ?? .null),
        ])
    }

    /// Peers by what they hold, most first; unreachable peers last.
    static func sorted(_ peers: [CensusPeerReport], pieceCount: Int?) -> [CensusPeerReport] {
        peers.enumerated().sorted { a, b in
            let x = a.element.reached ? (a.element.fraction(pieceCount: pieceCount) ?? 0) : -1
            let y = b.element.reached ? (b.element.fraction(pieceCount: pieceCount) ?? 0) : -1
            return x != y ? x > y : a.offset < b.offset
        }.map(\.element)
    }

    static func text(_ report: CensusReport) -> String {
        let summary = report.summary
        var lines: [String] = []
        func row(_ label: String, _ value: String) { lines.append(Format.padded(label, 14) + value) }
        row("info hash", report.infoHashes.v1Hex ?? report.infoHashes.v2Hex ?? "")
        for source in report.sources {
            var text = "\(source.peers.count) peers"
            if let seeders = source.seeders, let leechers = source.leechers { text += ", \(seeders) seeders, \(leechers) leechers" }
            if let error = source.error { text = "error: " + TerminalText.escape(error) }
            row(source.kind, "\(TerminalText.escape(source.name)): \(text)")
        }
        var reached = "\(summary.peersReached) of \(summary.peersKnown) (\(summary.seedersReached) seeders, \(summary.leechersReached) leechers)"
        if summary.seedersAnnounced != nil || summary.leechersAnnounced != nil {
            reached += "; trackers count \(summary.seedersAnnounced.map(String.init) ?? "?") seeders, \(summary.leechersAnnounced.map(String.init) ?? "?") leechers"
        }
        row("reached", reached)
        if !summary.clients.isEmpty {
            row("clients", summary.clients.map { "\(TerminalText.escape($0.client)) ×\($0.peers)" }.joined(separator: ", "))
        }
        if summary.peersReached == 0 {
            row("availability", "unknown: no peer was reached")
        } else if let copies = summary.minimumCopies, let pieces = summary.pieceCount {
            let rarest = summary.rarestPieces.prefix(8).map(String.init).joined(separator: ", ")
            row("availability", "every piece has ≥ \(copies) copies among reached peers; rarest: \(rarest)\(summary.rarestPieces.count > 8 ? ", …" : "") of \(pieces)")
        }
        if let completable = summary.completable {
            row("completable", completable ? "yes, from the reachable peers alone"
                                           : "no: \(summary.missingPieces.map(String.init) ?? "some") pieces are on no reachable peer")
        }
        if summary.requiresEncryption > 0 { row("encryption", "\(summary.requiresEncryption) peers insist on it") }
        if summary.onlyUTP > 0 { row("uTP only", "\(summary.onlyUTP) peers") }
        guard !report.peers.isEmpty else { return (lines + ["", "no peers: no source named one"]).joined(separator: "\n") }
        lines.append("")
        let header = ["peer", "client", "pieces", "via", "rtt", "unchoked", "sources"]
        var table = [header]
        for peer in sorted(report.peers, pieceCount: report.pieceCount) {
            guard peer.reached else {
                table.append([peer.address.description, "-", "-", peer.failure ?? "?", "-", "-", peer.sources.joined(separator: ",")])
                continue
            }
            let fraction = peer.fraction(pieceCount: report.pieceCount).map { peer.isSeeder(pieceCount: report.pieceCount) ? "seed" : Format.format1($0 * 100) + "%" } ?? "?"
            let via = [peer.success?.transport, peer.success?.encryption == "rc4" ? "rc4" : nil].compactMap { $0 }.joined(separator: "+")
            table.append([peer.address.description, TerminalText.escape(peer.handshake?.peerID.client ?? "unknown"), fraction, via,
                          peer.handshakeTime.map { Format.seconds($0) } ?? "-", peer.unchokedAfter == nil ? "no" : "yes",
                          peer.sources.joined(separator: ",")])
        }
        let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        for row in table {
            lines.append(Format.trimmed(row.enumerated().map { Format.padded($0.element, widths[$0.offset]) }
                .joined(separator: "  ")))
        }
        return lines.joined(separator: "\n")
    }

    static func rounded(_ seconds: Double) -> Double { (seconds * 1e6).rounded() / 1e6 }
    static func seconds(_ value: Double?) -> JSONValue { value.map { .double(rounded($0)) } ?? .null }
}
