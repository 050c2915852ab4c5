import Glibc
import Testing
@testable import Net

/// `--bind` of download and seed: the engine's TCP dialer connects from that address, so a peer that
/// knows us by it (Transmission keys peers by address) sees the same one whichever side dialled.
@Suite struct BoundDialTests {
    @Test func tcpDialerConnectsFromTheBoundAddress() throws {
        let listener = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        defer { listener.close() }
        let loop = EventLoop()
        var outcome: Result<any ByteStream, NetError>?
        TCPDialer(local: SocketAddress(ip: "127.0.0.7", port: 0)).dial(listener.localAddress, loop: loop, timeout: 5) { result in
            outcome = result
            loop.stop()
        }
        loop.schedule(after: 10) { loop.stop() }  // a watchdog: fail rather than hang
        loop.run()
        let stream = try #require(try outcome?.get())
        defer { stream.close() }
        let accepted = try listener.accept(deadline: .after(5))
        defer { accepted.close() }
        #expect(accepted.remote.ip == "127.0.0.7")
    }

    @Test func anUnspecifiedOrOtherFamilyBindLeavesTheSourceToTheSystem() throws {
        let listener = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        defer { listener.close() }
        for local in ["0.0.0.0", "::1"] {
            let loop = EventLoop()
            var outcome: Result<any ByteStream, NetError>?
            TCPDialer(local: SocketAddress(ip: local, port: 0)).dial(listener.localAddress, loop: loop, timeout: 5) { result in
                outcome = result
                loop.stop()
            }
            loop.schedule(after: 10) { loop.stop() }
            loop.run()
            let stream = try #require(try outcome?.get(), "bound to \(local)")
            defer { stream.close() }
            let accepted = try listener.accept(deadline: .after(5))
            defer { accepted.close() }
            #expect(accepted.remote.ip == "127.0.0.1", "bound to \(local)")
        }
    }
}
