import Net
import PeerWire

/// The other side of a simulated peer in harness tests: a bare client made of PeerWire's codecs
/// that sends what a test tells it and keeps every frame it gets, with the virtual time.
final class WireProbe {
    let stream: SimulatedStream
    let loop: EventLoop
    private var decoder = FrameDecoder(expectingHandshake: true)
    private(set) var handshake: Handshake?
    private(set) var messages: [(time: Double, message: PeerMessage)] = []
    private(set) var closed: NetError?? = nil
    private(set) var decodeError: (any Error)?

    init(_ stream: SimulatedStream, infoHash: [UInt8]) {
        self.stream = stream
        self.loop = stream.loop
        stream.onData = { [unowned self] bytes in
            decoder.append(bytes)
            do {
                while let frame = try decoder.next() {
                    switch frame {
                    case .handshake(let handshake): self.handshake = handshake
                    case .message(let message, _): messages.append((loop.now, message))
                    }
                }
            } catch {
                decodeError = error
            }
        }
        stream.onClose = { [unowned self] error in closed = .some(error) }
        stream.start()
        stream.write(Handshake(reserved: ReservedBits(), infoHash: infoHash, peerID: PeerID(bytes: Array("-PR0001-000000000000".utf8))).encoded())
    }

    func send(_ message: PeerMessage) { stream.write(message.encoded()) }

    var blocks: [(time: Double, index: UInt32, begin: UInt32, block: [UInt8])] {
        messages.compactMap { if case .piece(let i, let b, let block) = $0.message { return ($0.time, i, b, block) } else { return nil } }
    }

    func firstTime(of name: String) -> Double? { messages.first { $0.message.name == name }?.time }
}
