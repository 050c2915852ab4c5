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
    /// Bytes we own: the start of a frame whose end has not arrived, from `start` on.
    private var buffer: [UInt8] = []
    private var start = 0
    /// The caller's bytes, decoded in place (no copy) until a frame is cut off at their end; only
    /// then is the remainder copied into `buffer`. A frame begun in `buffer` takes from here just
    /// the bytes it lacks. At most one of the two holds undecoded bytes before the other.
    private var input: ArraySlice<UInt8> = []

    /// The default limit fits a 16 KiB block and a bitfield of over 8 million pieces.
    public static let defaultMaxMessageLength = 1 << 20
    /// An emptied buffer keeps at most this much capacity (a burst must not pin memory per peer).
    static let keptCapacity = 64 * 1024

    public init(expectingHandshake: Bool, maxMessageLength: Int = FrameDecoder.defaultMaxMessageLength) {
        self.expectingHandshake = expectingHandshake
        self.maxMessageLength = maxMessageLength
    }

    /// Bytes received but not yet decoded.
    public var bufferedCount: Int { buffer.count - start + input.count }

    /// Takes bytes to decode. A slice (a read buffer) is decoded where it lies: drain the decoder
    /// (`next` until nil) before the slice's storage is written again, or it is copied then.
    public mutating func append(_ bytes: ArraySlice<UInt8>) {
        keepUndecodedInput()
        compact()
        input = bytes
    }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        keepUndecodedInput()
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or nil when more bytes are needed.
    /// When the next complete frame is a well-formed `piece` message, consumes it and hands its
    /// index, offset and block to `body` in place — no message value, no copy of the block (the
    /// download path's hot loop). Returns nil, consuming nothing, for anything else.
    public mutating func nextPieceBlock(_ body: (UInt32, UInt32, UnsafeRawBufferPointer) -> Void) -> Bool {
        guard !expectingHandshake else { return false }
        topUp()
        if start < buffer.count {
            guard let used = Self.pieceBlock(buffer[start...], maxMessageLength: maxMessageLength, body) else { return false }
            start += used
        } else {
            guard let used = Self.pieceBlock(input, maxMessageLength: maxMessageLength, body) else { return false }
            consumeInput(used)
        }
        return true
    }

    public mutating func next() throws(PeerWireError) -> PeerFrame? {
        topUp()
        let decoded: (frame: PeerFrame, length: Int)?
        if start < buffer.count {
            decoded = try Self.frame(buffer[start...], expectingHandshake: expectingHandshake, maxMessageLength: maxMessageLength)
            if let decoded { start += decoded.length }
        } else {
            decoded = try Self.frame(input, expectingHandshake: expectingHandshake, maxMessageLength: maxMessageLength)
            if let decoded { consumeInput(decoded.length) }
        }
        guard let decoded else {
            // Cut off: what is left of the caller's bytes becomes ours (at most one frame's worth).
            keepUndecodedInput()
            return nil
        }
        if case .handshake = decoded.frame { expectingHandshake = false }
        return decoded.frame
    }

    /// Moves the bytes the frame begun in `buffer` still lacks from `input` (its length prefix
    /// first, then its body), so it can be decoded from one place.
    private mutating func topUp() {
        while start < buffer.count, !input.isEmpty {
            let available = buffer.count - start
            let wanted: Int
            if expectingHandshake {
                wanted = Handshake.length
            } else if available < 4 {
                wanted = 4
            } else {
                let length = Self.lengthPrefix(buffer[start...])
                guard length <= maxMessageLength else { return }  // `next` throws on it
                wanted = 4 + length
            }
            guard available < wanted else { return }
            let take = min(wanted - available, input.count)
            buffer.append(contentsOf: input.prefix(take))
            consumeInput(take)
        }
    }

    /// Drops decoded bytes from `input`; an emptied slice lets go of the caller's storage. Even an empty
    /// slice keeps the whole array alive, so the caller's next write into its read buffer would copy it
    /// (256 KiB per read, into fresh pages: most of a fast download's page faults).
    private mutating func consumeInput(_ count: Int) {
        input = input.dropFirst(count)
        if input.isEmpty { input = [] }
    }

    private mutating func keepUndecodedInput() {
        guard !input.isEmpty else { return }
        compact()
        buffer.append(contentsOf: input)
        input = []
    }

    private mutating func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= Self.keptCapacity)
            start = 0
        } else if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
    }

    private static func lengthPrefix(_ bytes: ArraySlice<UInt8>) -> Int {
        let i = bytes.startIndex
        return Int(UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3]))
    }

    /// A whole well-formed `piece` message at the front of `bytes`, handed to `body`: its length.
    private static func pieceBlock(_ bytes: ArraySlice<UInt8>, maxMessageLength: Int,
                                   _ body: (UInt32, UInt32, UnsafeRawBufferPointer) -> Void) -> Int? {
        let available = bytes.count, first = bytes.startIndex
        guard available >= 13, bytes[first + 4] == MessageID.piece else { return nil }
        let length = lengthPrefix(bytes)
        guard length >= 9, length <= maxMessageLength, available >= 4 + length else { return nil }
        let body0 = first + 5
        let index = UInt32(bytes[body0]) << 24 | UInt32(bytes[body0 + 1]) << 16 | UInt32(bytes[body0 + 2]) << 8 | UInt32(bytes[body0 + 3])
        let begin = UInt32(bytes[body0 + 4]) << 24 | UInt32(bytes[body0 + 5]) << 16 | UInt32(bytes[body0 + 6]) << 8 | UInt32(bytes[body0 + 7])
        bytes.withUnsafeBytes { raw in body(index, begin, UnsafeRawBufferPointer(rebasing: raw[13..<4 + length])) }
        return 4 + length
    }

    /// The frame at the front of `bytes` and its length, or nil when it has not all arrived.
    private static func frame(_ bytes: ArraySlice<UInt8>, expectingHandshake: Bool,
                              maxMessageLength: Int) throws(PeerWireError) -> (frame: PeerFrame, length: Int)? {
        let available = bytes.count, first = bytes.startIndex
        if expectingHandshake {
            // Check the protocol string as soon as its bytes arrive, so garbage fails fast.
            let checked = min(available, Handshake.prefix.count)
            if !bytes[first..<first + checked].elementsEqual(Handshake.prefix[0..<checked]) {
                throw .notBitTorrent(received: Array(bytes[first..<first + min(available, 68)]))
            }
            guard available >= Handshake.length else { return nil }
            return (.handshake(try Handshake(decoding: bytes[first..<first + Handshake.length])), Handshake.length)
        }
        guard available >= 4 else { return nil }
        let length = lengthPrefix(bytes)
        guard length <= maxMessageLength else { throw .messageTooLong(length: UInt32(length), limit: maxMessageLength) }
        let total = 4 + length
        guard available >= total else { return nil }
        if length == 0 { return (.message(.keepAlive, wireLength: 4), 4) }
        let body = first + 4
        let message = try PeerMessage(id: bytes[body], payload: bytes[(body + 1)..<(body + length)])
        return (.message(message, wireLength: total), total)
    }
}
