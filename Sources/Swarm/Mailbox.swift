import Glibc
import Net
import Foundation

/// Lets worker threads hand results to the event loop's thread: closures are queued under a
/// lock and a byte on a pipe wakes the loop, which runs them in order.
final class Mailbox: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [() -> Void] = []
    private let readEnd: Int32
    private let writeEnd: Int32

    init(loop: EventLoop) {
        var ends: [Int32] = [0, 0]
        _ = pipe(&ends)
        readEnd = ends[0]
        writeEnd = ends[1]
        for fd in ends {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        loop.watch(readEnd) { [weak self] _ in self?.drain() }
    }

    /// Called from any thread.
    func post(_ action: @escaping () -> Void) {
        lock.withLock { pending.append(action) }
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    private func drain() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(readEnd, &buffer, buffer.count) > 0 {}
        let actions = lock.withLock { () -> [() -> Void] in
            let taken = pending
            pending.removeAll()
            return taken
        }
        for action in actions { action() }
    }

    func close(loop: EventLoop) {
        loop.unwatch(readEnd)
        Glibc.close(readEnd)
        Glibc.close(writeEnd)
    }
}
