/// The carrier under a peer connection, as peer events name it (`"transport"`).
public enum TransportKind: String, Sendable, CaseIterable {
    case tcp
    case utp
}

/// A reliable, ordered byte stream to one peer, driven by an `EventLoop` on the loop's thread.
///
/// The peer session sits on top of this and never knows what carries it: TCP (`StreamChannel`),
/// uTP, or an encrypting wrapper around either. Callbacks run on the loop's thread.
public protocol ByteStream: AnyObject {
    /// The peer's address.
    var remote: SocketAddress { get }
    /// The carrier underneath any wrappers.
    var transport: TransportKind { get }
    /// True when the bytes on the wire are encrypted (MSE/PE RC4); wrappers override it.
    var isEncrypted: Bool { get }
    var isOpen: Bool { get }
    /// Bytes accepted by `write` and not yet handed to the carrier.
    var bufferedBytes: Int { get }
    /// When true the stream stops delivering data (back-pressure); the peer's bytes wait.
    var pausedReading: Bool { get set }
    /// Called with each chunk received.
    var onData: ((ArraySlice<UInt8>) -> Void)? { get set }
    /// Called once when the stream ends: nil for an orderly end from the remote, or the error.
    /// Not called after a local `close()`.
    var onClose: ((NetError?) -> Void)? { get set }
    /// Called from the loop (never from inside `write`) when every buffered byte has gone out.
    var onDrained: (() -> Void)? { get set }
    /// Starts delivering data; set the callbacks first.
    func start()
    /// Queues bytes to send.
    func write(_ bytes: [UInt8])
    /// Queues several runs of bytes, in order. A TCP stream keeps the slices themselves (no copy)
    /// and hands them to the kernel in one `sendmsg`; a piece's blocks go out straight from the
    /// upload cache this way.
    func write(chunks: [ArraySlice<UInt8>])
    /// Closes at once; buffered bytes are dropped.
    func close()
}

extension ByteStream {
    public var isEncrypted: Bool { false }

    /// Streams that transform or re-frame what they send take the runs joined.
    public func write(chunks: [ArraySlice<UInt8>]) {
        var joined: [UInt8] = []
        joined.reserveCapacity(chunks.reduce(0) { $0 + $1.count })
        for chunk in chunks { joined += chunk }
        write(joined)
    }
}

extension StreamChannel: ByteStream {
    public var transport: TransportKind { .tcp }
}
