import Foundation
import Glibc
import TestSupport
import Testing
@testable import Net

@Suite struct SocketAddressTests {
    @Test func parsesIPv4AndIPv6() throws {
        let v4 = try SocketAddress(parsing: "127.0.0.1:6881")
        #expect(v4.family == .ipv4 && v4.ip == "127.0.0.1" && v4.port == 6881 && v4.description == "127.0.0.1:6881")
        let v6 = try SocketAddress(parsing: "[::1]:51413")
        #expect(v6.family == .ipv6 && v6.ip == "::1" && v6.port == 51413 && v6.description == "[::1]:51413")
        #expect(try SocketAddress(parsing: v6.description) == v6)
    }

    @Test func rejectsBadText() {
        for text in ["127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "::1:80", "[::1]80", "[::1", ":80", "localhost:80"] {
            #expect(throws: NetError.self, "\(text)") { try SocketAddress(parsing: text) }
        }
        // Its exit code (64) is asserted where exit codes live: CommandTests' ExitCodeMappingTests.
    }

    @Test func resolvesNamesAndLiterals() throws {
        #expect(try SocketAddress.resolve("localhost:80").port == 80)
        #expect(try SocketAddress.resolve(host: "127.0.0.3", port: 1) == [SocketAddress(ip: "127.0.0.3", port: 1)!])
        #expect(throws: NetError.self) { try SocketAddress.resolve(host: "no-such-host.invalid", port: 1) }
        do {
            _ = try SocketAddress.resolve(host: "no-such-host.invalid", port: 1)
        } catch {
            guard case .dns = error else { Issue.record("expected a DNS error, got \(error)"); return }
        }
    }
}

@Suite struct TCPTests {
    @Test func connectSendReceiveAndEndOfStream() throws {
        let listener = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        let client = try TCPConnection.connect(to: listener.localAddress, timeout: 5)
        let server = try listener.accept(deadline: .after(5))
        let big = [UInt8](repeating: 7, count: 3 << 20)   // more than the socket buffers hold
        let sender = Thread { try? client.send(big, deadline: .after(10)); client.shutdownWrite() }
        sender.start()
        let received = try server.receiveAll(limit: 4 << 20, deadline: .after(10))
        #expect(received == big)
        try server.send([1, 2, 3])
        #expect(try client.receive(exactly: 3, deadline: .after(5)) == [1, 2, 3])
        server.close()
        #expect(try client.receive(max: 10, deadline: .after(5)) == [])
    }

    @Test func ipv6Loopback() throws {
        if let missing = ipv6LoopbackMissing {
            withKnownIssue("no IPv6 loopback on this machine: \(missing)") { Issue.record("IPv6 loopback test not run") }
            return
        }
        let listener = try TCPListener(bind: SocketAddress(ip: "::1", port: 0)!)
        let client = try TCPConnection.connect(to: listener.localAddress, timeout: 5)
        let server = try listener.accept(deadline: .after(5))
        try client.send(Array("hello".utf8))
        #expect(try server.receive(exactly: 5, deadline: .after(5)) == Array("hello".utf8))
        #expect(server.remote.family == .ipv6)
    }

    @Test func refusedIs69() throws {
        // Bind a port, close it: nothing listens there now.
        let port = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!).localAddress.port
        #expect(throws: NetError.refused(address: "127.0.0.1:\(port)")) {
            try TCPConnection.connect(to: SocketAddress(ip: "127.0.0.1", port: port)!, timeout: 5)
        }
    }

    @Test func silenceTimesOut() throws {
        let listener = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        let client = try TCPConnection.connect(to: listener.localAddress, timeout: 5)
        let server = try listener.accept(deadline: .after(5))
        #expect(throws: NetError.self) { try client.receive(max: 10, deadline: .after(0.2)) }
        do {
            _ = try client.receive(max: 10, deadline: .after(0.1))
        } catch {
            guard case .timeout = error else { Issue.record("expected a timeout, got \(error)"); return }
        }
        server.close()
    }

    @Test func writingToAClosedPeerIsAnErrorNotSIGPIPE() throws {
        let listener = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        let client = try TCPConnection.connect(to: listener.localAddress, timeout: 5)
        try listener.accept(deadline: .after(5)).close()
        var failed = false
        for _ in 0..<100 {
            do { try client.send([UInt8](repeating: 0, count: 65536), deadline: .after(2)) } catch { failed = true; break }
        }
        #expect(failed)
    }
}

@Suite struct UDPTests {
    @Test func sendAndReceiveWithDeadline() throws {
        let server = try UDPSocket(family: .ipv4, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        let client = try UDPSocket(family: .ipv4)
        try client.send([1, 2, 3], to: server.localAddress!)
        let (bytes, from) = try server.receive(deadline: .after(5))
        #expect(bytes == [1, 2, 3])
        try server.send([4], to: from)
        #expect(try client.receive(deadline: .after(5)).bytes == [4])
        #expect(throws: NetError.self) { try client.receive(deadline: .after(0.1)) }
    }
}

@Suite struct EventLoopTests {
    @Test func echoesManyConnectionsOnOneThread() throws {
        let loop = EventLoop()
        let listener = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        var servers: [StreamChannel] = []
        loop.watch(listener.fileDescriptor) { _ in
            while let connection = try? listener.acceptNext() {
                let channel = StreamChannel(loop: loop, connection: connection)
                channel.onData = { [weak channel] bytes in channel?.write(Array(bytes)) }
                channel.start()
                servers.append(channel)
            }
        }
        let payload = [UInt8](repeating: 0x5A, count: 1 << 20)
        var received = [Int](repeating: 0, count: 8)
        var clients: [StreamChannel] = []
        var finished = 0
        for index in 0..<8 {
            StreamChannel.connect(loop: loop, to: listener.localAddress, timeout: 5) { result in
                guard case .success(let channel) = result else { Issue.record("connect failed"); return }
                channel.onData = { bytes in
                    received[index] += bytes.count
                    if received[index] == payload.count { finished += 1; if finished == 8 { loop.stop() } }
                }
                channel.start()
                channel.write(payload)
                clients.append(channel)
            }
        }
        loop.schedule(after: 20) { loop.stop() }
        loop.run()
        #expect(received == [Int](repeating: payload.count, count: 8))
        for channel in clients + servers { channel.close() }
    }

    @Test func connectFailureAndTimers() {
        let loop = EventLoop()
        var outcome: NetError?
        var order: [Int] = []
        loop.schedule(after: 0.05) { order.append(2) }
        loop.schedule(after: 0.01) { order.append(1) }
        let cancelled = loop.schedule(after: 0.02) { order.append(99) }
        loop.cancel(cancelled)
        let port = (try? TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!).localAddress.port) ?? 1
        StreamChannel.connect(loop: loop, to: SocketAddress(ip: "127.0.0.1", port: port)!, timeout: 5) { result in
            if case .failure(let error) = result { outcome = error }
        }
        loop.run()
        #expect(order == [1, 2])
        #expect(outcome == .refused(address: "127.0.0.1:\(port)"))
    }

    @Test func peerHangUpIsReported() throws {
        let loop = EventLoop()
        let listener = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        let client = try TCPConnection.connect(to: listener.localAddress, timeout: 5)
        let channel = StreamChannel(loop: loop, connection: try listener.accept(deadline: .after(5)))
        var closed = false
        var data: [UInt8] = []
        channel.onData = { data += $0 }
        channel.onClose = { error in closed = error == nil; loop.stop() }
        channel.start()
        try client.send([1, 2])
        client.close()
        loop.schedule(after: 10) { loop.stop() }
        loop.run()
        #expect(closed && data == [1, 2])
    }
}
