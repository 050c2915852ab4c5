import Dispatch
import Storage

// MARK: - Checkpoints: flush what was written, then record it in the resume state

extension SwarmEngine {
    /// Records the pieces already flushed, without flushing anything more.
    func recordDurable() {
        guard !configuration.serveOnly else { return }
        let resume = ResumeState(infoHashHex: ResumeState.key(configuration.torrent.infoHashes), name: layout.name,
                                 torrentBytes: configuration.torrentBytes, verified: durable)
        do { _ = try resume.save(output: configuration.output) } catch { finish(.failure(.storage("\(error)"))) }
    }

    /// Flushes written pieces, then records them (never the other way round).
    func saveState(force: Bool, synchronously: Bool) {
        guard !configuration.serveOnly, force || !unflushed.isEmpty else { return }
        guard !saveInFlight || synchronously else { return }
        let batch = unflushed
        unflushed.removeAll()
        var state = durable
        for piece in batch { state[piece] = true }
        let resume = ResumeState(infoHashHex: ResumeState.key(configuration.torrent.infoHashes), name: layout.name,
                                 torrentBytes: configuration.torrentBytes, verified: state)
        let store = self.store!, output = configuration.output
        let work: @Sendable () -> String? = {
            do {
                try store.flush()
                _ = try resume.save(output: output)
                return nil
            } catch {
                return "\(error)"
            }
        }
        if synchronously {
            let failure = ioQueue.sync(execute: work)
            if let failure { finish(.failure(.storage(failure))) } else { durable = state }
            return
        }
        saveInFlight = true
        loop.offload(on: ioQueue, work, then: { [self] failure in
            saveInFlight = false
            if let failure {
                finish(.failure(.storage(failure)))
            } else {
                for piece in batch { durable[piece] = true }
            }
        })
    }
}
