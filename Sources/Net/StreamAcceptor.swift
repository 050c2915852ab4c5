/// Looks at an incoming stream before the peer session gets it: the MSE/PE answerer conforms
/// (it finishes the key exchange, or passes a plain handshake through, or drops the peer).
///
/// `accept` runs on the loop's thread; `completion` runs on it at most once, with the stream the
/// session should read (not called when the peer was dropped; the acceptor closes it).
public protocol StreamAcceptor {
    func accept(_ stream: any ByteStream, loop: EventLoop, completion: @escaping (any ByteStream) -> Void)
}
