import Dispatch
import Net
import Tracker

// MARK: - Trackers: announces on a worker, peers back to the roster

extension SwarmEngine {
    func announceRequest(_ event: AnnounceRequest.Event) -> AnnounceRequest {
        AnnounceRequest(infoHash: configuration.torrent.infoHashes.wire, peerID: configuration.peerID.bytes,
                        port: listener?.localAddress.port ?? 6881, uploaded: uploaded, downloaded: downloaded,
                        left: max(0, layout.dataLength - bytesOf(picker.have)), event: event, numWant: 80)
    }

    func announce(event: AnnounceRequest.Event?) {
        guard let tiersAtStart = announcer.begin() else { return }
        let request = announceRequest(event ?? .none)
        let client = trackerClient
        loop.offload({ () -> AnnounceOutcome in
            var tiers = tiersAtStart
            let result = tiers.first { url throws(TrackerError) in try client.announce(url, request) }
            return AnnounceOutcome(result: result, tiers: tiers)
        }, then: { [self] outcome in announced(outcome.result, tiers: outcome.tiers) })
    }

    private func announced(_ result: Result<(tracker: String, value: AnnounceResponse), TrackerErrors>, tiers: TrackerTiers) {
        switch result {
        case .success(let answer):
            let shortOfPeers = peers.count < 5 && !picker.isComplete && !configuration.serveOnly
            announcer.succeeded(tiers: tiers, interval: answer.value.interval, minInterval: answer.value.minInterval,
                                shortOfPeers: shortOfPeers, now: now)
            report(.trackerAnnounced(tracker: answer.tracker, peers: answer.value.peers.count))
            addPeers(answer.value.peers.compactMap { SocketAddress(ip: $0.ip, port: $0.port) }, source: .tracker)
        case .failure(let errors):
            announcer.failed(tiers: tiers, error: errors.errors.last?.description, now: now)
            for error in errors.errors { report(.trackerFailed(tracker: "", message: error.description)) }
        }
    }

    /// Best effort, bounded: tell the tracker we left.
    func announceStopped() {
        guard announcer.hasTrackers else { return }
        var options = trackerClient.options
        options.timeout = 2
        let client = TrackerClient(options: options)
        var tiers = announcer.tiers
        var request = announceRequest(.stopped)
        request.numWant = nil
        _ = tiers.first { url throws(TrackerError) in try client.announce(url, request) }
    }
}

/// An announce's answer and the tiers as it left them (a tracker that answered moves to the front).
struct AnnounceOutcome: Sendable {
    let result: Result<(tracker: String, value: AnnounceResponse), TrackerErrors>
    let tiers: TrackerTiers
}
