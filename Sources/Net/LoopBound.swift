/// A value that may travel to other threads but only be used on its event loop's thread, like
/// swift-nio's `NIOLoopBound`: the check happens on every use instead of living in a comment.
///
/// ```swift
/// let engine = LoopBound(self, loop: loop)          // on the loop
/// DispatchQueue.global().async {
///     let result = work()
///     loop.execute { engine.value.finished(result) }  // back on the loop
/// }
/// ```
public struct LoopBound<Value>: @unchecked Sendable {
    // Sendable by hand: `stored` is only read through `value`, which traps off the loop's thread.
    public let loop: EventLoop
    private let stored: Value

    /// Call on the loop's thread.
    public init(_ value: Value, loop: EventLoop) {
        loop.preconditionInLoop()
        self.loop = loop
        self.stored = value
    }

    /// The value; traps when read off the loop's thread.
    public var value: Value {
        loop.preconditionInLoop()
        return stored
    }
}

/// Mutable state that may travel to other threads but only be read or changed on its event loop's
/// thread, like swift-nio's `NIOLoopBoundBox`.
public final class LoopBoundBox<Value>: @unchecked Sendable {
    // Sendable by hand: `stored` is only touched through `value`, which traps off the loop's thread.
    public let loop: EventLoop
    private var stored: Value

    /// Call on the loop's thread.
    public init(_ value: Value, loop: EventLoop) {
        loop.preconditionInLoop()
        self.loop = loop
        self.stored = value
    }

    /// The value; traps when read or written off the loop's thread.
    public var value: Value {
        get { loop.preconditionInLoop(); return stored }
        set { loop.preconditionInLoop(); stored = newValue }
    }
}
