import Testing
@testable import UTP

@Suite struct ConnectionTests {
    @Test func handshakeNumbersMatchLibutpAndLibtorrent() throws {
        var a = UTPConnection(dialing: 0x1234, peer: "b", now: 0)
        let syn = try #require(a.takeOutbox().first)
        #expect(syn.kind == .syn && syn.connectionID == 0x1234 && syn.seq == 1 && syn.ack == 0)
        var b = UTPConnection(accepting: syn, initialSeq: 500, peer: "a", now: 0.01)
        let synAck = try #require(b.takeOutbox().first)
        #expect(synAck.kind == .state && synAck.connectionID == 0x1234 && synAck.ack == 1 && synAck.seq == 500)
        #expect(b.receiveID == 0x1235 && b.sendID == 0x1234)
        a.receive(synAck, now: 0.02)
        #expect(a.state == .connected)
        #expect(a.ackNr == 499)  // the peer's seq_nr − 1: its first DATA reuses 500
        a.write([1, 2, 3], now: 0.02)
        let data = try #require(a.takeOutbox().first)
        #expect(data.kind == .data && data.connectionID == 0x1235 && data.seq == 2 && data.ack == 499)
        b.receive(data, now: 0.03)
        #expect(b.takeReceived() == [1, 2, 3])
        b.write([9], now: 0.03)
        let reply = try #require(b.takeOutbox().first)
        #expect(reply.kind == .data && reply.seq == 500 && reply.ack == 2)
        a.receive(reply, now: 0.04)
        #expect(a.takeReceived() == [9])
    }

    @Test func connectionIDsWrapAround() throws {
        var a = UTPConnection(dialing: 0xFFFF, peer: "b", now: 0)
        #expect(a.sendID == 0)
        let syn = try #require(a.takeOutbox().first)
        let b = UTPConnection(accepting: syn, initialSeq: 0xFFFF, peer: "a", now: 0)
        #expect(b.receiveID == 0 && b.sendID == 0xFFFF)
    }

    @Test func transfersBothWaysWithoutLoss() {
        var link = SimulatedLink()
        var random = SplitMix(seed: 9)
        let toB = random.bytes(1 << 20), toA = random.bytes(300_000)
        #expect(link.run(until: 5) { $0.a.state == .connected && $0.b != nil })
        link.a.write(toB, now: link.now)
        link.b!.write(toA, now: link.now)
        #expect(link.run(until: 60) { $0.receivedByB.count == toB.count && $0.receivedByA.count == toA.count })
        #expect(link.receivedByB == toB)
        #expect(link.receivedByA == toA)
    }

    @Test(arguments: [(0.01, 0.02, UInt64(1)), (0.05, 0.02, UInt64(2)), (0.2, 0.005, UInt64(3))])
    func transfersThroughLossDelayAndReordering(loss: Double, delay: Double, seed: UInt64) {
        var link = SimulatedLink(loss: loss, delay: delay, jitter: delay, seed: seed)
        var random = SplitMix(seed: seed)
        let toB = random.bytes(1 << 20), toA = random.bytes(100_000)
        #expect(link.run(until: 30) { $0.a.state == .connected && $0.b != nil })
        link.a.write(toB, now: link.now)
        link.b!.write(toA, now: link.now)
        #expect(link.run(until: 600) { $0.receivedByB.count >= toB.count && $0.receivedByA.count >= toA.count })
        #expect(link.receivedByB == toB)
        #expect(link.receivedByA == toA)
        #expect(link.a.error == nil && link.b?.error == nil)
    }

    @Test func threeDuplicateAcksResendTheOldest() throws {
        var a = connected()
        a.write([UInt8](repeating: 7, count: 1400 * 4), now: 1)
        let sent = a.takeOutbox()
        #expect(sent.count == 4)
        let ack = UTPPacket(kind: .state, connectionID: a.receiveID, window: 1 << 20, seq: 500, ack: 1)
        for _ in 0..<3 { a.receive(ack, now: 1.01) }
        let resent = a.takeOutbox()
        #expect(resent.map(\.seq) == [sent[0].seq])
    }

    @Test func selectiveAckLongerThanFourBytesMarksPacketsAndResendsTheGap() throws {
        var config = UTPConfiguration()
        config.payloadSize = 100
        var a = connected(config)
        a.congestion.window = 1e6
        a.write([UInt8](repeating: 1, count: 100 * 50), now: 1)
        let sent = a.takeOutbox()
        #expect(sent.count == 50)
        // ack_nr 1 (the SYN); bits 1…47 of a 6-byte mask name seqs 4…50: 2 and 3 are lost, 51 still in flight.
        var ack = UTPPacket(kind: .state, connectionID: a.receiveID, window: 1 << 20, seq: 500, ack: 1)
        ack.selectiveAck = [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        a.receive(ack, now: 2)
        #expect(a.bytesInFlight == 300)
        #expect(Set(a.takeOutbox().map(\.seq)) == [2, 3])
    }

    @Test func ackForDataNeverSentDropsThePacket() throws {
        var a = connected()
        let forged = UTPPacket(kind: .data, connectionID: a.receiveID, window: 1 << 20, seq: 500, ack: 300, payload: [1, 2])
        a.receive(forged, now: 1)
        #expect(!a.hasReceived)
        #expect(a.state == .connected)
    }

    @Test func zeroWindowForeverEndsWithinTheLimitAndHoldsOnlyWhatWasWritten() throws {
        var config = UTPConfiguration()
        config.zeroWindowTimeout = 10
        var a = connected(config, window: 0)
        a.write([UInt8](repeating: 1, count: 100_000), now: 1)
        var now = 1.0
        while a.state != .closed && now < 100 {
            now = max(now + 0.01, min(a.nextDeadline, now + 1))
            a.tick(now: now)
            // The hostile peer acks whatever arrives and keeps saying its window is zero.
            for packet in a.takeOutbox() where packet.kind == .data {
                a.receive(UTPPacket(kind: .state, connectionID: a.receiveID, window: 0, seq: 500, ack: packet.seq), now: now)
            }
            #expect(a.pendingBytes + a.bytesInFlight <= 100_000)
        }
        #expect(a.error == .zeroWindow(peer: "b", seconds: 10))
        #expect(now <= 12)
    }

    @Test func silentPeerFailsTheConnectionAfterRetransmissions() {
        var a = connected()
        a.write([1, 2, 3], now: 1)
        var now = 1.0
        while a.state != .closed && now < 1000 { now = a.nextDeadline; a.tick(now: now); _ = a.takeOutbox() }
        #expect(a.error == .retransmitTimeout(peer: "b"))
        #expect(now < 200)
    }

    @Test func unansweredSynTimesOut() {
        var a = UTPConnection(dialing: 5, peer: "b", now: 0)
        var syns = 0
        var now = 0.0
        while a.state != .closed && now < 100 {
            syns += a.takeOutbox().filter { $0.kind == .syn }.count
            now = a.nextDeadline
            a.tick(now: now)
        }
        #expect(a.error == .connectTimeout(peer: "b", seconds: 6))
        #expect(syns >= 2)
        #expect(now <= 7)
    }

    @Test func finEndsTheStreamAfterEveryByteBeforeIt() throws {
        var link = SimulatedLink(loss: 0.1, delay: 0.01, jitter: 0.01, seed: 4)
        #expect(link.run(until: 30) { $0.a.state == .connected && $0.b != nil })
        let data = SplitMix(seed: 5).bytesCopy(50_000)
        link.b!.write(data, now: link.now)
        #expect(link.run(until: 60) { $0.receivedByA.count == data.count })
        link.b!.close(now: link.now)
        #expect(link.run(until: 120) { $0.a.endOfStream })
        #expect(link.receivedByA == data)
    }

    @Test func ledbatShrinksTheWindowWhenDelayExceedsTheTarget() {
        var control = CongestionControl(UTPConfiguration())
        control.slowStart = false
        control.window = 100_000
        control.delaySample(1000, now: 0)  // base delay
        control.delaySample(1000 + 20_000, now: 1)
        control.acked(bytes: 50_000)
        let grown = control.window
        #expect(grown > 100_000)
        control.delaySample(1000 + 300_000, now: 2)  // 300 ms queuing, target 100 ms
        for _ in 0..<20 { control.acked(bytes: 50_000) }
        #expect(control.window < grown)
        control.lost(seq: 10, nextSeq: 20)
        let halved = control.window
        control.lost(seq: 12, nextSeq: 20)  // same window of data: no second cut
        #expect(control.window == halved)
    }

    /// An initiator past its SYN-ACK (peer's next seq 500), with the peer's window.
    func connected(_ configuration: UTPConfiguration = UTPConfiguration(), window: UInt32 = 1 << 20) -> UTPConnection {
        var a = UTPConnection(dialing: 10, peer: "b", now: 0, configuration: configuration)
        _ = a.takeOutbox()
        a.receive(UTPPacket(kind: .state, connectionID: 10, window: window, seq: 500, ack: 1), now: 0.5)
        return a
    }
}

extension SplitMix {
    func bytesCopy(_ count: Int) -> [UInt8] { var copy = self; return copy.bytes(count) }
}
