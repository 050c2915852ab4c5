import Foundation
import Net
@testable import Tracker
import TestSupport
import Testing

/// Hostile trackers and clients against the `tt` binary: bounded time and memory, a documented
/// exit code, and `tt tracker` answering others while slow clients hold every connection slot.
@Suite(.serialized) struct HostileTrackerTests {
    let hash = "0123456789abcdef0123456789abcdef01234567"
    static let memoryLimitKiB = 96 * 1024

    @Test(arguments: [("100 MB body", FakeHTTPTracker.Reply.huge(100_000_000)),
                      ("never-ending chunked body", FakeHTTPTracker.Reply.endlessChunked),
                      ("never-ending body", FakeHTTPTracker.Reply.endless)])
    func anOversizeAnswerIsRefusedWithBoundedMemory(name: String, reply: FakeHTTPTracker.Reply) throws {
        let fake = try FakeHTTPTracker { _ in reply }
        defer { fake.stop() }
        let run = runMeasured(ttExecutable, ["announce", hash, "--tracker", fake.url, "--timeout", "20"], timeout: 60)
        #expect(!run.crashed)
        #expect(run.status == 76, "\(name): \(run.output)")
        #expect(run.output.contains("larger than") && run.output.contains(fake.url), "\(name): \(run.output)")
        #expect(run.peakKiB < Self.memoryLimitKiB, "\(name): peak memory \(run.peakKiB) KiB")
        #expect(run.seconds < 30, "\(name): took \(run.seconds) s")
    }

    /// A UDP tracker that answers every packet, many times over, with someone else's transaction id.
    @Test func aUDPTrackerAnsweringWithAnotherTransactionIDTimesOut() throws {
        let fake = try FakeUDPTracker { packet, _ in
            guard packet.count >= 16 else { return [] }
            let transaction = (UInt32(packet[12]) << 24 | UInt32(packet[13]) << 16 | UInt32(packet[14]) << 8 | UInt32(packet[15])) &+ 1
            let reply = UDPTrackerCodec.connectReply(transactionID: transaction, connectionID: 0xC0FFEE)
            return Array(repeating: reply, count: 50)
        }
        defer { fake.stop() }
        let run = runMeasured(ttExecutable, ["announce", hash, "--tracker", fake.url, "--timeout", "2", "--udp-retransmit", "0.5"], timeout: 30)
        #expect(!run.crashed)
        #expect(run.status == 75, "\(run.output)")
        #expect(run.output.contains("wrong transaction id") && run.output.contains(fake.url), "\(run.output)")
        #expect(run.peakKiB < Self.memoryLimitKiB, "peak memory \(run.peakKiB) KiB")
        #expect(run.seconds < 10, "took \(run.seconds) s")
        #expect(fake.packets.count >= 2, "it retransmitted while ignoring the strays")
    }

    @Test func slowClientsHoldingEverySlotDoNotStopTheTrackerAnswering() throws {
        let tracker = try ManagedProcess(ttExecutable, ["tracker", "--http-port", "0", "--udp-port", "off", "--bind", "127.0.0.1", "--json"])
        defer { tracker.stop() }
        let httpPort = try tracker.listeningPort("http_port")
        let address = SocketAddress(ip: "127.0.0.1", port: UInt16(httpPort))!
        // More slow clients than the tracker has slots (64): each sends half a request line and stalls.
        var slow: [TCPConnection] = []
        defer { slow.forEach { $0.close() } }
        for _ in 0..<80 {
            let connection = try TCPConnection.connect(to: address, timeout: 5)
            try connection.send(Array("GET /announce?info_hash=".utf8))
            slow.append(connection)
        }
        // A real client is answered at once, long before a slow client's 5 s request deadline frees a slot.
        let started = Date()
        let result = CLI.run(["announce", hash, "--tracker", "http://127.0.0.1:\(httpPort)/announce", "--timeout", "10", "--json"])
        let seconds = Date().timeIntervalSince(started)
        #expect(result.code == 0, "\(result.stderr)")
        #expect(seconds < 3, "answered after \(seconds) s")
        #expect(tracker.isRunning)
        #expect(highWaterKiB(tracker.pid) < Self.memoryLimitKiB)
    }
}
