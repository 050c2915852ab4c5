import Metainfo
import Net
import PeerWire
import WebSeed

/// One BEP 19 web seed as the engine uses it: a picker key of its own, a few piece fetches in flight.
final class WebSeedWorker {
    let url: String
    let key: PiecePicker.PeerKey
    let client: WebSeedClient
    var inFlight = 0
    /// Failures in a row; three (or one bad piece, or a 404) and the web seed is dropped.
    var failures = 0
    var dropped = false
    /// Pieces received in the last few seconds (time, bytes), for the download rate.
    private var recent: [(Double, Int)] = []
    static let rateWindow = 5.0

    func record(_ bytes: Int, now: Double) {
        recent.append((now, bytes))
        recent.removeAll { $0.0 < now - Self.rateWindow }
    }

    /// Bytes/s over the last few seconds (a web seed delivers whole pieces, so the window is wide).
    func rate(now: Double) -> Double {
        recent.removeAll { $0.0 < now - Self.rateWindow }
        guard let first = recent.first else { return 0 }
        return Double(recent.reduce(0) { $0 + $1.1 }) / max(1, min(Self.rateWindow, now - first.0 + 1))
    }

    init(url: String, key: PiecePicker.PeerKey, client: WebSeedClient) {
        self.url = url
        self.key = key
        self.client = client
    }
}

// MARK: - Web seeds: whole pieces over HTTP range requests, picked like a peer that has everything

extension SwarmEngine {
    /// Pieces fetched at once from one web seed (each one HTTP request per file it touches).
    static let webSeedFetches = 4
    static let webSeedTimeout = 30.0

    func startWebSeeds() {
        guard !configuration.serveOnly else { return }
        for url in configuration.webSeeds where !webSeeds.contains(where: { $0.url == url }) {
            do {
                let client = try WebSeedClient(url: url, torrent: configuration.torrent, layout: layout)
                nextKey += 1
                webSeeds.append(WebSeedWorker(url: url, key: nextKey, client: client))
                // It has every piece: rarest-first only looks at pieces somebody has.
                picker.peerHas(bitfield: { _ in true })
                report(.webSeedAdded(url: url))
            } catch {
                report(.webSeedDropped(url: url, reason: error.description))
            }
        }
        feedWebSeeds()
    }

    /// Gives every web seed with room a piece the picker chooses for it (it has them all).
    func feedWebSeeds() {
        for seed in webSeeds where !seed.dropped {
            while seed.inFlight < Self.webSeedFetches, outcome == nil, !picker.isComplete, checksInFlight < maxChecksInFlight {
                let blocks = picker.pick(for: seed.key, count: lengths.blockCount(of: lengths.piece(0)!), peerHas: { _ in true }, inFlight: [])
                guard let piece = blocks.first?.piece else { break }
                let mine = blocks.filter { $0.piece == piece }
                for block in blocks where block.piece != piece { picker.abandoned(block, by: seed.key) }
                guard let index = lengths.piece(piece) else { break }
                seed.inFlight += 1
                let client = seed.client
                loop.offload({ () -> Result<WebSeedClient.Piece, WebSeedError> in
                    do throws(WebSeedError) { return .success(try client.fetch(index, deadline: .after(Self.webSeedTimeout))) }
                    catch { return .failure(error) }
                }, then: { [self] result in
                    seed.inFlight -= 1
                    delivered(result, piece: index, blocks: mine, from: seed)
                    feedWebSeeds()
                })
            }
        }
    }

    private func delivered(_ result: Result<WebSeedClient.Piece, WebSeedError>, piece: PieceIndex, blocks: [PiecePicker.Block],
                           from seed: WebSeedWorker) {
        guard outcome == nil else { return }
        let fetched: WebSeedClient.Piece
        switch result {
        case .failure(let error):
            for block in blocks { picker.abandoned(block, by: seed.key) }
            seed.failures += 1
            if case .status(_, 404, _) = error { drop(seed, reason: error.description) }
            else if seed.failures >= 3 { drop(seed, reason: "\(seed.failures) failures in a row, the last: \(error)") }
            return
        case .success(let piece): fetched = piece
        }
        downloaded += Int64(fetched.bytes.count)
        seed.record(fetched.bytes.count, now: now)
        guard fetched.hashMatches else {
            for block in blocks { picker.abandoned(block, by: seed.key) }
            hashFailures += 1
            wasted += Int64(fetched.bytes.count)
            report(.pieceFailed(piece: piece.value, peers: [seed.url]))
            drop(seed, reason: "served data for piece \(piece.value) that failed its hash check")
            return
        }
        seed.failures = 0
        for block in blocks {
            let outcome = picker.received(block, from: seed.key)
            guard outcome.wanted else { continue }
            let buffer = buffers[block.piece] ?? newPieceBuffer(fetched.bytes.count)
            buffers[block.piece] = buffer
            fetched.bytes.withUnsafeBytes { source in
                buffer.bytes.baseAddress!.advanced(by: block.begin).copyMemory(from: source.baseAddress! + block.begin, byteCount: block.length)
            }
            // Endgame: peers asked for this block too.
            for key in outcome.alsoRequestedFrom {
                guard let other = peers[key], other.inFlight.removeValue(forKey: block) != nil else { continue }
                other.send(.cancel(BlockRequest(index: UInt32(block.piece), begin: UInt32(block.begin), length: UInt32(block.length))))
            }
            if outcome.pieceComplete, let data = buffers.removeValue(forKey: block.piece) {
                check(piece, data, source: seed.url)
            }
        }
    }

    private func drop(_ seed: WebSeedWorker, reason: String) {
        guard !seed.dropped else { return }
        seed.dropped = true
        picker.peerGone(seed.key)
        picker.peerLeft(bitfield: { _ in true })
        report(.webSeedDropped(url: seed.url, reason: reason))
    }
}
