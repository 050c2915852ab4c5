import Glibc
import Net
import TestSupport
import Testing
@testable import UTP

/// Two real uTP ends over loopback UDP, directly and through a relay that drops and delays.
@Suite struct LoopbackTests {
    @Test func transferBothWaysAndClose() throws {
        let pair = try UTPPair()
        let a = try #require(pair.dial(pair.listenerAddress))
        let aSink = Sink(a)
        #expect(a.transport == .utp)
        let up = SplitMix(seed: 1).bytesCopy(3 << 20), down = SplitMix(seed: 2).bytesCopy(1 << 20)
        a.write(up)
        #expect(pair.run(seconds: 5) { !pair.accepted.isEmpty })
        let b = pair.accepted[0]
        let bSink = Sink(b)
        b.write(down)
        #expect(pair.run(seconds: 30) { bSink.bytes.count == up.count && aSink.bytes.count == down.count })
        #expect(bSink.bytes == up && aSink.bytes == down)
        // A local close aborts (ST_RESET, like TCP's RST): peers such as libtorrent then retry at once.
        a.close()
        #expect(pair.run(seconds: 5) { bSink.closed })
        #expect(bSink.error == .closed(address: b.remote.description))
        #expect(pair.listener.connectionCount == 0)
    }

    /// A host with nothing on the UDP port answers our SYN with ICMP port unreachable: the dial fails
    /// with that, not at its timeout, so `auto` can go on to TCP at once (peers without uTP are common).
    @Test func dialToAPortWithoutAListenerFailsOnTheICMPError() throws {
        let pair = try UTPPair()
        let refusing = RefusingPort(use: .udp)
        defer { refusing.close() }
        var result: Result<UTPStream, NetError>?
        pair.dialer.dial(SocketAddress(ip: "127.0.0.1", port: UInt16(refusing.port))!, timeout: 20) { result = $0 }
        #expect(pair.run(seconds: 25) { result != nil })
        switch result {
        case .failure(.unreachable(_, let reason))?: #expect(reason.contains("ICMP"))
        default: Issue.record("expected an unreachable error from ICMP, got \(String(describing: result))")
        }
        #expect(pair.dialer.connectionCount == 0)
    }

    @Test(arguments: [(0.01, 0.02), (0.05, 0.005)])
    func transferThroughLossAndDelay(loss: Double, delay: Double) throws {
        let pair = try UTPPair()
        let relay = try UDPRelay(loop: pair.loop, server: pair.listenerAddress, loss: loss, delay: delay, seed: 3)
        let a = try #require(pair.dial(relay.address, timeout: 10))
        let data = SplitMix(seed: 4).bytesCopy(4 << 20)
        a.write(data)
        #expect(pair.run(seconds: 10) { !pair.accepted.isEmpty })
        let sink = Sink(pair.accepted[0])
        #expect(pair.runWhileProgressing(stall: 30, progress: { sink.bytes.count }) { sink.bytes.count >= data.count || sink.closed },
                "stalled at \(sink.bytes.count) of \(data.count) bytes")
        #expect(sink.bytes == data)
        #expect(relay.dropped > 0)
    }

    @Test func connectToSilentPortTimesOut() throws {
        let pair = try UTPPair()
        let silent = try DatagramPort(loop: pair.loop, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        var result: Result<UTPStream, NetError>?
        let start = monotonicSeconds()
        pair.dialer.dial(silent.localAddress!, timeout: 1.5) { result = $0 }
        #expect(pair.run(seconds: 5) { result != nil })
        guard case .failure(.timeout)? = result else { Issue.record("expected a timeout, got \(String(describing: result))"); return }
        #expect(monotonicSeconds() - start < 3)
    }
}

/// Forged and flooding peers: bounded state, and an established connection carries on.
@Suite struct HostileTests {
    @Test func forgedIDsAcksForUnsentDataAndSynFloodLeaveOthersUnaffected() throws {
        let pair = try UTPPair()
        let a = try #require(pair.dial(pair.listenerAddress))
        a.write([1, 2, 3])
        #expect(pair.run(seconds: 5) { !pair.accepted.isEmpty })
        let b = pair.accepted[0]
        let sink = Sink(b)
        #expect(pair.run(seconds: 5) { sink.bytes.count == 3 })
        let attacker = try UDPSocket(family: .ipv4, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        var random = SplitMix(seed: 5)
        // Forged connection ids and garbage: dropped (DATA to an unknown id gets a RESET at most).
        for _ in 0..<2000 {
            let id = UInt16(truncatingIfNeeded: random.next())
            let kind = UTPPacket.Kind.allCases.filter { $0 != .syn }[Int(random.next() % 4)]
            try attacker.send(UTPPacket(kind: kind, connectionID: id, seq: 1, ack: 1, payload: [9, 9]).encoded(), to: pair.listenerAddress)
            try attacker.send(random.bytes(Int(random.next() % 40)), to: pair.listenerAddress)
        }
        // Acks for data never sent, with the connection's real id but from another address: not matched.
        try attacker.send(UTPPacket(kind: .state, connectionID: b.connection.receiveID, seq: 1, ack: 60000).encoded(), to: pair.listenerAddress)
        // A SYN flood from many source ports.
        var flooders: [UDPSocket] = []
        for _ in 0..<300 {
            let socket = try UDPSocket(family: .ipv4, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
            try socket.send(UTPPacket(kind: .syn, connectionID: UInt16(truncatingIfNeeded: random.next()), seq: 1, ack: 0).encoded(),
                            to: pair.listenerAddress)
            flooders.append(socket)
        }
        _ = pair.run(seconds: 1) { false }
        #expect(pair.listener.connectionCount <= pair.listener.maxPending + 1)
        #expect(pair.accepted.count == 1)  // nothing that only sent a SYN was handed out
        #expect(pair.listener.malformedDatagrams > 0)
        // The real connection still works both ways.
        let data = SplitMix(seed: 6).bytesCopy(1 << 20)
        a.write(data)
        #expect(pair.run(seconds: 20) { sink.bytes.count == 3 + data.count })
        #expect(Array(sink.bytes.dropFirst(3)) == data)
        // Half-open flood entries expire.
        pair.listener.pendingTimeout = 0.5
        #expect(pair.run(seconds: 5) { pair.listener.connectionCount == 1 })
        for socket in flooders { socket.close() }
    }

    @Test func peerThatNeverOpensItsWindowIsDroppedInBoundedTime() throws {
        let pair = try UTPPair()
        pair.dialer.configuration.zeroWindowTimeout = 2
        let a = try #require(pair.dial(pair.listenerAddress))
        let aSink = Sink(a)
        a.write([0])
        #expect(pair.run(seconds: 5) { !pair.accepted.isEmpty })
        let b = pair.accepted[0]
        let bSink = Sink(b)
        b.pausedReading = true
        // The reader never reads: its window fills (1 MiB) and stays at zero.
        let start = monotonicSeconds()
        for _ in 0..<40 { a.write([UInt8](repeating: 7, count: 100_000)) }
        #expect(pair.run(seconds: 20) { aSink.closed })
        #expect(monotonicSeconds() - start < 15)
        #expect(bSink.bytes.count <= 1 + pair.listener.configuration.receiveBuffer)
        guard case .timeout? = aSink.error else { Issue.record("expected a timeout, got \(String(describing: aSink.error))"); return }
    }
}

@Suite struct ProbeTests {
    @Test func probeMeasuresAListenerAndTimesOutOnSilence() throws {
        let thread = ListenerThread()
        defer { thread.stop() }
        guard case .success(let rtt) = UTPProbe.probe(thread.address, timeout: 2) else {
            Issue.record("no uTP answer from a listener")
            return
        }
        #expect(rtt >= 0 && rtt < 1)
        let silent = try UDPSocket(family: .ipv4, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        defer { silent.close() }
        guard case .failure(.timeout) = UTPProbe.probe(silent.localAddress!, timeout: 1) else {
            Issue.record("expected a timeout from a silent port")
            return
        }
    }
}
