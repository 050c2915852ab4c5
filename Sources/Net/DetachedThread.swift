import CTTNet
import Glibc

/// Runs `body` on a new detached POSIX thread. Foundation's `Thread` lives outside
/// FoundationEssentials, the only Foundation `tt` loads (README "Footprint"); this is all we used of it.
/// `name` (at most 15 bytes are kept) shows in `top -H` and debuggers. False when the system has no
/// thread to give (EAGAIN): then `body` does not run and the caller undoes what it prepared for it.
@discardableResult
public func startDetachedThread(name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
    final class Box { let body: @Sendable () -> Void; init(_ body: @escaping @Sendable () -> Void) { self.body = body } }
    let context = Unmanaged.passRetained(Box({ tt_name_this_thread(name); body() })).toOpaque()
    var thread = pthread_t()
    let started = pthread_create(&thread, nil, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        box.body()
        return nil
    }, context)
    guard started == 0 else {
        Unmanaged<Box>.fromOpaque(context).release()
        return false
    }
    pthread_detach(thread)
    return true
}
