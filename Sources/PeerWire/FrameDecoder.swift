/// What comes off the wire: the handshake once, then length-prefixed messages.
public enum PeerFrame: Hashable, Sendable {
    case handshake(Handshake)
    /// A message and its size on the wire (length prefix included).
    case message(PeerMessage, wireLength: Int)
}

/// Splits a peer's byte stream into frames.
///
/// `next()` has three answers: a frame; nil for "need more bytes" (nothing consumed); or a
/// thrown error for malformed input. The length prefix is checked against
/// `maxMessageLength` before any byte of the body is buffered, so a 4 GiB prefix costs nothing.
///
/// ```swift
/// var decoder = FrameDecoder(expectingHandshake: true)
/// decoder.append(bytesFromSocket)
/// while let frame = try decoder.next() { … }
/// ```
public struct FrameDecoder: Sendable {
    /// The largest message accepted (id + payload, without the 4-byte prefix).
    public var maxMessageLength: Int
    public private(set) var expectingHandshake: Bool
    private var buffer: [UInt8] = []
    private var start = 0

    /// The default limit fits a 16 KiB block and a bitfield of over 8 million pieces.
    public static let defaultMaxMessageLength = 1 << 20

    public init(expectingHandshake: Bool, maxMessageLength: Int = FrameDecoder.defaultMaxMessageLength) {
        self.expectingHandshake = expectingHandshake
        self.maxMessageLength = maxMessageLength
    }

    /// Bytes received but not yet decoded.
    public var bufferedCount: Int { buffer.count - start }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or nil when more bytes are needed.
    /// When the next complete frame is a well-formed `piece` message, consumes it and hands its
    /// index, offset and block to `body` in place — no message value, no copy of the block (the
    /// download path's hot loop). Returns nil, consuming nothing, for anything else.
    public mutating func nextPieceBlock(_ body: (UInt32, UInt32, UnsafeRawBufferPointer) -> Void) -> Bool {
        guard !expectingHandshake else { return false }
        let available = buffer.count - start
        guard available >= 13, buffer[start + 4] == MessageID.piece else { return false }
        let length = Int(UInt32(buffer[start]) << 24 | UInt32(buffer[start + 1]) << 16 | UInt32(buffer[start + 2]) << 8 | UInt32(buffer[start + 3]))
        guard length >= 9, length <= maxMessageLength, available >= 4 + length else { return false }
        let body0 = start + 5
        let index = UInt32(buffer[body0]) << 24 | UInt32(buffer[body0 + 1]) << 16 | UInt32(buffer[body0 + 2]) << 8 | UInt32(buffer[body0 + 3])
        let begin = UInt32(buffer[body0 + 4]) << 24 | UInt32(buffer[body0 + 5]) << 16 | UInt32(buffer[body0 + 6]) << 8 | UInt32(buffer[body0 + 7])
        let blockStart = body0 + 8, blockEnd = start + 4 + length
        start = blockEnd
        buffer.withUnsafeBytes { raw in body(index, begin, UnsafeRawBufferPointer(rebasing: raw[blockStart..<blockEnd])) }
        return true
    }

    public mutating func next() throws(PeerWireError) -> PeerFrame? {
        let available = buffer.count - start
        if expectingHandshake {
            // Check the protocol string as soon as its bytes arrive, so garbage fails fast.
            let checked = min(available, Handshake.prefix.count)
            if !buffer[start..<start + checked].elementsEqual(Handshake.prefix[0..<checked]) {
                throw .notBitTorrent(received: Array(buffer[start..<start + min(available, 68)]))
            }
            guard available >= Handshake.length else { return nil }
            let handshake = try Handshake(decoding: buffer[start..<start + Handshake.length])
            start += Handshake.length
            expectingHandshake = false
            return .handshake(handshake)
        }
        guard available >= 4 else { return nil }
        let length = UInt32(buffer[start]) << 24 | UInt32(buffer[start + 1]) << 16 | UInt32(buffer[start + 2]) << 8 | UInt32(buffer[start + 3])
        guard length <= maxMessageLength else { throw .messageTooLong(length: length, limit: maxMessageLength) }
        let total = 4 + Int(length)
        guard available >= total else { return nil }
        let body = start + 4
        start += total
        if length == 0 { return .message(.keepAlive, wireLength: 4) }
        let message = try PeerMessage(id: buffer[body], payload: buffer[(body + 1)..<(body + Int(length))])
        return .message(message, wireLength: total)
    }
}
