import Testing
@testable import Net

@Suite struct DatagramPortTests {
    /// Datagrams waiting when the port reads come out as one batch, in order, with their senders;
    /// KRPC (a leading `d`) goes to its own handler, never into a batch; a datagram longer than a
    /// slot is dropped and counted.
    @Test func waitingDatagramsComeAsOneBatchWithoutKRPC() throws {
        let loop = EventLoop()
        let port = try DatagramPort(loop: loop, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        defer { port.close() }
        let first = try UDPSocket(family: .ipv4, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        let second = try UDPSocket(family: .ipv4, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        defer { first.close(); second.close() }

        var batches: [[(bytes: [UInt8], from: SocketAddress)]] = []
        var krpc: [[UInt8]] = []
        port.onDatagrams = { batch in batches.append(batch.map { (Array($0.bytes), $0.from) }) }
        port.onKRPC = { bytes, _ in krpc.append(bytes) }

        // All sent before the loop first reads: they wait in the socket's queue together.
        var expected: [(bytes: [UInt8], from: SocketAddress)] = []
        for index in 0..<40 {
            let sender = index % 3 == 0 ? second : first
            let bytes = [UInt8(0x01), UInt8(index)] + [UInt8](repeating: UInt8(index), count: index * 30)
            try sender.send(bytes, to: port.localAddress!)
            expected.append((bytes, sender.localAddress!))
            if index % 10 == 0 { try first.send(Array("d1:y1:qe".utf8), to: port.localAddress!) }
        }
        try first.send([UInt8](repeating: 0x21, count: DatagramPort.slotSize + 1), to: port.localAddress!)
        try first.send([0x01, 0xFF], to: port.localAddress!)  // marks the end
        expected.append(([0x01, 0xFF], first.localAddress!))

        let deadline = loop.now + 10
        while batches.joined().count < expected.count && loop.now < deadline { loop.runOnce(timeout: 0.5) }

        let received = Array(batches.joined())
        #expect(received.map(\.bytes) == expected.map(\.bytes))
        #expect(received.map(\.from) == expected.map(\.from))
        #expect(batches.count == 1, "\(expected.count + 5) waiting datagrams (< \(DatagramPort.batchSize)) read in \(batches.count) batches")
        #expect(krpc == Array(repeating: Array("d1:y1:qe".utf8), count: 4))
        #expect(port.oversizedDatagrams == 1)
    }
}
