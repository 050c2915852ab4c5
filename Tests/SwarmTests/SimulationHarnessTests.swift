import Metainfo
import Net
import PeerWire
import Testing

/// The simulation's parts on their own: streams keep their rate, latency and order; simulated
/// peers speak the wire as BEP 3 says and misbehave as asked; the same seed gives the same run.
@Suite struct SimulationHarnessTests {
    let engine = SimulatedNetwork.engineAddress

    func torrent(_ seed: UInt64 = 1, length: Int = 1 << 20, pieceLength: Int = 64 * 1024) throws -> SimulatedTorrent {
        try SimulatedTorrent(length: length, pieceLength: pieceLength, seed: seed)
    }

    @Test func streamsKeepRateLatencyOrderAndBackPressure() {
        let loop = EventLoop(clock: .virtual(start: 1000))
        let network = SimulatedNetwork(loop: loop)
        let far = SimulatedNetwork.peerAddress(0)
        network.add(engine, .init(latency: 0.02))
        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var acceptedAt = 0.0, drainedAt: [Double] = [], connectedAt = 0.0
        var received: [UInt8] = [], lastByteAt = 0.0, endedAt: Double?
        network.listen(at: far, .init(upload: 100 * 1024, latency: 0.03)) { stream in
            acceptedAt = loop.now
            stream.onDrained = { drainedAt.append(loop.now); stream.close() }
            stream.start()
            stream.write(payload)
            #expect(stream.bufferedBytes == payload.count)
        }
        network.dial(far, from: engine, timeout: 5) { result in
            guard case .success(let stream) = result else { Issue.record("dial failed"); return }
            connectedAt = loop.now
            stream.onData = { received += $0; lastByteAt = loop.now }
            stream.onClose = { error in #expect(error == nil); endedAt = loop.now }
            stream.start()
        }
        let started = monotonicSeconds()
        loop.run()
        #expect(monotonicSeconds() - started < 5)
        #expect(abs(acceptedAt - 1000.05) < 1e-9 && abs(connectedAt - 1000.1) < 1e-9)
        #expect(received == payload)
        // 1 MiB at 100 KiB/s is 10.24 s of sending, then 50 ms on the way.
        #expect(drainedAt.count == 1 && abs(drainedAt[0] - (1000.05 + 10.24)) < 1e-6)
        #expect(abs(lastByteAt - (1000.05 + 10.24 + 0.05)) < 1e-6)
        #expect(endedAt.map { $0 >= lastByteAt } == true)
    }

    @Test func refusedAndBlackHoledDials() {
        let loop = EventLoop(clock: .virtual(start: 0))
        let network = SimulatedNetwork(loop: loop)
        network.add(SimulatedNetwork.peerAddress(1), .init(accepts: false))
        network.add(SimulatedNetwork.peerAddress(2), .init(blackHole: true))
        var outcomes: [String: (Double, NetError?)] = [:]
        for index in [1, 2] {
            network.dial(SimulatedNetwork.peerAddress(index), from: engine, timeout: 10) { result in
                if case .failure(let error) = result { outcomes["\(index)"] = (loop.now, error) }
            }
        }
        loop.run()
        #expect(outcomes["1"]?.1 == .refused(address: SimulatedNetwork.peerAddress(1).description))
        #expect(outcomes["1"].map { $0.0 < 1 } == true)
        #expect(outcomes["2"]?.0 == 10)
        if case .timeout = outcomes["2"]?.1 {} else { Issue.record("black hole did not time out") }
    }

    /// Connects a probe (playing the engine) to one simulated peer.
    func connect(_ behaviour: SimulatedPeer.Behaviour, torrent: SimulatedTorrent, rate: Double = 1_048_576,
                 loop: EventLoop) -> (SimulatedPeer, () -> WireProbe?) {
        // The network keeps the connections and the listener keeps the peer, for as long as the loop does.
        let network = SimulatedNetwork(loop: loop)
        let peer = SimulatedPeer(index: 0, behaviour: behaviour, torrent: torrent, loop: loop)
        var probe: WireProbe?
        network.listen(at: peer.address, .init(upload: rate, latency: 0.01)) { peer.attach($0, dialled: false) }
        network.dial(peer.address, from: engine, timeout: 5) { result in
            if case .success(let stream) = result { probe = WireProbe(stream, infoHash: torrent.infoHash) }
        }
        return (peer, { _ = network; return probe })
    }

    func requestWholeTorrent(_ probe: WireProbe, _ torrent: SimulatedTorrent) -> [BlockRequest] {
        var requests: [BlockRequest] = []
        for piece in 0..<torrent.pieceCount {
            for begin in stride(from: 0, to: torrent.length(of: piece), by: 16384) {
                requests.append(BlockRequest(index: UInt32(piece), begin: UInt32(begin), length: UInt32(min(16384, torrent.length(of: piece) - begin))))
            }
        }
        for request in requests { probe.send(.request(request)) }
        return requests
    }

    @Test func seederServesEveryBlockAtItsRate() throws {
        let loop = EventLoop(clock: .virtual(start: 0))
        let torrent = try torrent()
        let (peer, probe) = connect(.init(), torrent: torrent, rate: 256 * 1024, loop: loop)
        #expect(loop.run(until: 5) { probe()?.handshake != nil && probe()?.messages.isEmpty == false })
        let wire = try #require(probe())
        #expect(wire.handshake?.peerID == peer.peerID)
        guard case .bitfield(let bits)? = wire.messages.first?.message else { Issue.record("no bitfield first"); return }
        #expect(Bitfield(bytes: bits, pieceCount: torrent.pieceCount)?.isComplete == true)
        wire.send(.interested)
        #expect(loop.run(until: 10) { wire.firstTime(of: "unchoke") != nil })
        let start = loop.now
        let requests = requestWholeTorrent(wire, torrent)
        #expect(loop.run(until: 100) { wire.blocks.count == requests.count })
        for block in wire.blocks {
            #expect(block.block == torrent.block(piece: Int(block.index), begin: Int(block.begin), length: block.block.count))
        }
        // 1 MiB at 256 KiB/s: about 4 s.
        let took = wire.blocks.last!.time - start
        #expect(took > 4 && took < 4.2, "took \(took)")
        #expect(peer.requestsReceived.count == requests.count)
    }

    @Test func liarSilentAndLeaverMisbehaveAsAsked() throws {
        let torrent = try torrent()
        do {
            let loop = EventLoop(clock: .virtual(start: 0))
            let (_, probe) = connect(.init(corruptsBlocks: true), torrent: torrent, loop: loop)
            loop.run(until: 1)
            let wire = try #require(probe())
            wire.send(.interested)
            loop.run(until: 2)
            let requests = requestWholeTorrent(wire, torrent)
            #expect(loop.run(until: 60) { wire.blocks.count == requests.count }, "\(wire.blocks.count) \(wire.messages.count) \(String(describing: wire.decodeError))")
            #expect(wire.blocks.allSatisfy { $0.block != torrent.block(piece: Int($0.index), begin: Int($0.begin), length: $0.block.count) })
        }
        do {
            let loop = EventLoop(clock: .virtual(start: 0))
            let (peer, probe) = connect(.init(answers: false), torrent: torrent, loop: loop)
            loop.run(until: 1)
            let wire = try #require(probe())
            wire.send(.interested)
            loop.run(until: 2)
            #expect(wire.firstTime(of: "unchoke") != nil)
            _ = requestWholeTorrent(wire, torrent)
            loop.run(until: 120)
            #expect(wire.blocks.isEmpty && peer.requestsReceived.count == 64 && wire.closed == nil)
        }
        do {
            let loop = EventLoop(clock: .virtual(start: 0))
            let (peer, probe) = connect(.init(leavesAfterBytes: 100_000), torrent: torrent, loop: loop)
            loop.run(until: 1)
            let wire = try #require(probe())
            wire.send(.interested)
            loop.run(until: 2)
            _ = requestWholeTorrent(wire, torrent)
            #expect(loop.run(until: 60) { wire.closed != nil })
            // Six whole blocks (96 KiB), then half of the seventh, then a reset: mid-piece.
            #expect(wire.blocks.count == 6 && peer.left)
            if case .some(.some(.closed)) = wire.closed {} else { Issue.record("expected a reset, got \(String(describing: wire.closed))") }
            #expect(wire.stream.bytesDelivered > 6 * 16384 + 8192)
        }
    }

    @Test func chokeCycleAndCancels() throws {
        let torrent = try torrent()
        let loop = EventLoop(clock: .virtual(start: 0))
        // Unchoked 20 s, choked 10 s, from the first unchoke; 16 KiB/s so requests queue up.
        let (peer, probe) = connect(.init(chokeCycle: (20, 10)), torrent: torrent, rate: 16 * 1024, loop: loop)
        loop.run(until: 1)
        let wire = try #require(probe())
        wire.send(.interested)
        loop.run(until: 2)
        let requests = requestWholeTorrent(wire, torrent)
        loop.run(until: 5)
        // Cancel everything past the first 8 blocks: a queued request is never answered once cancelled.
        for request in requests.dropFirst(8) { wire.send(.cancel(request)) }
        loop.run(until: 65)
        let changes = wire.messages.filter { $0.message == .choke || $0.message == .unchoke }.map { ($0.time, $0.message == .unchoke) }
        #expect(changes.map(\.1) == [true, false, true, false, true])
        #expect(changes.count == 5 && abs(changes[1].0 - changes[0].0 - 20) < 0.1 && abs(changes[2].0 - changes[1].0 - 10) < 0.1)
        #expect(peer.cancelsReceived.count == requests.count - 8)
        #expect(wire.blocks.count <= 8)
    }

    @Test func leecherRequestsWhatTheEngineHasWhileUnchoked() throws {
        let torrent = try torrent()
        let loop = EventLoop(clock: .virtual(start: 0))
        let network = SimulatedNetwork(loop: loop)
        var probe: WireProbe?
        network.listen(at: engine) { stream in
            let wire = WireProbe(stream, infoHash: torrent.infoHash)
            wire.send(.bitfield(Bitfield(pieceCount: torrent.pieceCount, all: true).bytes))
            probe = wire
        }
        let leecher = SimulatedPeer(index: 3, behaviour: .init(pieces: .none, leeches: true, dialsEngine: true), torrent: torrent, loop: loop)
        network.add(leecher.address, .init(download: 64 * 1024))
        network.dial(engine, from: leecher.address, timeout: 5) { result in
            if case .success(let stream) = result { leecher.attach(stream, dialled: true) }
        }
        loop.run(until: 3)
        let wire = try #require(probe)
        #expect(wire.messages.map(\.message) == [.interested])
        #expect(leecher.requestsReceived.isEmpty)
        wire.send(.unchoke)
        loop.run(until: 4)
        let requests = wire.messages.compactMap { if case .request(let r) = $0.message { return r } else { return nil } }
        #expect(requests.count == 8)
        #expect(requests.first == BlockRequest(index: 0, begin: 0, length: 16384))
    }

    @Test func sameSeedSameSwarmTrace() throws {
        func trace(_ seed: UInt64) throws -> [String] {
            let torrent = try SimulatedTorrent(length: 512 * 1024, pieceLength: 32 * 1024, seed: seed)
            let loop = EventLoop(clock: .virtual(start: 0))
            let network = SimulatedNetwork(loop: loop)
            var random = SeededGenerator(seed: seed)
            var probes: [WireProbe] = []
            for index in 0..<50 {
                var behaviour = SimulatedPeer.Behaviour()
                behaviour.answerDelay = Double(random.next() % 500) / 1000
                if index % 7 == 0 { behaviour.chokeCycle = (15, 5) }
                let peer = SimulatedPeer(index: index, behaviour: behaviour, torrent: torrent, loop: loop)
                let rate = Double(16 * 1024 * (1 + random.next() % 64))
                network.listen(at: peer.address, .init(upload: rate, latency: Double(random.next() % 100) / 1000)) { peer.attach($0, dialled: false) }
                network.dial(peer.address, from: engine, timeout: 5) { result in
                    guard case .success(let stream) = result else { return }
                    let wire = WireProbe(stream, infoHash: torrent.infoHash)
                    wire.send(.interested)
                    let piece = UInt32(index % torrent.pieceCount)
                    for begin in stride(from: 0, to: 32 * 1024, by: 16384) { wire.send(.request(.init(index: piece, begin: UInt32(begin), length: 16384))) }
                    probes.append(wire)
                }
            }
            loop.run(until: 60)
            return probes.flatMap { probe in probe.messages.map { "\(probe.stream.remote) \($0.time) \($0.message.name)" } }
        }
        let seed = SimulationSeed.value(default: 5)
        let first = try trace(seed)
        #expect(first.count > 150)
        #expect(try trace(seed) == first)
        #expect(try trace(seed + 1) != first)
    }
}
