import Foundation
import Net
@testable import UTP
import Synchronization

/// A `UDPRelay` on its own thread and loop, for relaying between processes (or an in-process CLI run).
final class RelayThread: @unchecked Sendable {
    private let stopped = Atomic<Bool>(false)
    private let ready = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private(set) var address: SocketAddress?
    private(set) var dropped = 0
    private(set) var forwarded = 0

    init(server: SocketAddress, loss: Double, delay: Double, seed: UInt64 = 11) {
        let thread = Thread { [self] in
            let loop = EventLoop()
            let relay = try? UDPRelay(loop: loop, server: server, loss: loss, delay: delay, seed: seed)
            address = relay?.address
            ready.signal()
            while relay != nil && !stopped.load(ordering: .relaxed) {
                loop.runOnce(timeout: 0.05)
                dropped = relay!.dropped
                forwarded = relay!.forwarded
            }
            finished.signal()
        }
        thread.start()
        ready.wait()
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        finished.wait()
    }
}

/// A uTP listener on its own thread (accepts and keeps connections), for blocking clients in tests.
final class ListenerThread: @unchecked Sendable {
    private let stopped = Atomic<Bool>(false)
    private let ready = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private(set) var address = SocketAddress.any(.ipv4)

    init() {
        Thread { [self] in
            let loop = EventLoop()
            let port = try? DatagramPort(loop: loop, bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
            var accepted: [UTPStream] = []
            let multiplexer = port.map { UTPMultiplexer(port: $0) }
            multiplexer?.onAccept = { accepted.append($0) }
            if let local = port?.localAddress { address = local }
            ready.signal()
            while multiplexer != nil && !stopped.load(ordering: .relaxed) { loop.runOnce(timeout: 0.05) }
            _ = accepted
            finished.signal()
        }.start()
        ready.wait()
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        finished.wait()
    }
}
