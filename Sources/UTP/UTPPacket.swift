/// One uTP packet (BEP 29): the 20-byte header, its extensions and the payload. No I/O.
///
/// Header, big-endian: type (4 bits) and version 1 (4 bits), first extension type, connection id,
/// timestamp (µs), timestamp difference (µs), receive window (bytes), seq_nr, ack_nr. Extensions
/// form a chain of (next type, length, bytes); type 1 is a selective ACK whose bitmask may have any
/// length (libtorrent sends more than 4 bytes); other types (Transmission's 2) are skipped.
public struct UTPPacket: Sendable, Equatable {
    public enum Kind: UInt8, Sendable, CaseIterable {
        case data = 0, fin = 1, state = 2, reset = 3, syn = 4

        public var name: String {
            switch self {
            case .data: return "data"
            case .fin: return "fin"
            case .state: return "state"
            case .reset: return "reset"
            case .syn: return "syn"
            }
        }
    }

    public static let headerSize = 20
    static let selectiveAckExtension: UInt8 = 1

    /// Everything but the payload. A received packet is taken as its header and its payload where it
    /// arrived (`UTPConnection.receive(_:payload:now:arrival:)`), so a datagram is decoded without
    /// copying or retaining the buffer it came in.
    public struct Header: Sendable, Equatable {
        public var kind: Kind
        public var connectionID: UInt16
        public var timestamp: UInt32
        public var timestampDifference: UInt32
        public var window: UInt32
        public var seq: UInt16
        public var ack: UInt16
        /// Selective ACK bitmask: bit i (LSB first in each byte) says `ack + 2 + i` was received.
        public var selectiveAck: [UInt8]?
        /// Types of extensions we read past without understanding.
        public var skippedExtensions: [UInt8] = []

        /// Decodes the header and extensions at the start of a datagram; the payload is the rest,
        /// from `payloadStart`.
        public static func decode(_ bytes: UnsafeRawBufferPointer) throws(UTPError) -> (header: Header, payloadStart: Int) {
            guard bytes.count >= UTPPacket.headerSize else {
                throw .malformed("\(bytes.count) bytes, shorter than the 20-byte header")
            }
            guard bytes[0] & 0x0F == 1 else { throw .malformed("version \(bytes[0] & 0x0F), expected 1") }
            guard let kind = Kind(rawValue: bytes[0] >> 4) else { throw .malformed("unknown type \(bytes[0] >> 4)") }
            func u16(_ i: Int) -> UInt16 { UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt16.self)) }
            func u32(_ i: Int) -> UInt32 { UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self)) }
            var header = Header(kind: kind, connectionID: u16(2), timestamp: u32(4), timestampDifference: u32(8),
                                window: u32(12), seq: u16(16), ack: u16(18))
            var next = bytes[1]
            var offset = UTPPacket.headerSize
            // Each extension is at least 2 bytes, so the chain ends within the datagram.
            while next != 0 {
                guard offset + 2 <= bytes.count else { throw .malformed("extension \(next) header past the end at byte \(offset)") }
                let type = next
                next = bytes[offset]
                let length = Int(bytes[offset + 1])
                offset += 2
                guard offset + length <= bytes.count else {
                    throw .malformed("extension \(type) of \(length) bytes runs past the end at byte \(offset)")
                }
                if type == UTPPacket.selectiveAckExtension {
                    guard length > 0 else { throw .malformed("empty selective ACK") }
                    header.selectiveAck = Array(bytes[offset..<(offset + length)])
                } else {
                    header.skippedExtensions.append(type)
                }
                offset += length
            }
            return (header, offset)
        }

        /// Sequence numbers the selective ACK names as received (beyond `ack + 1`).
        public var selectivelyAcked: [UInt16] {
            guard let mask = selectiveAck else { return [] }
            var result: [UInt16] = []
            for (byteIndex, byte) in mask.enumerated() where byte != 0 {
                for bit in 0..<8 where byte & (1 << bit) != 0 {
                    result.append(ack &+ 2 &+ UInt16(truncatingIfNeeded: byteIndex * 8 + bit))
                }
            }
            return result
        }
    }

    public var header: Header
    public var payload: ArraySlice<UInt8>

    public var kind: Kind { get { header.kind } set { header.kind = newValue } }
    public var connectionID: UInt16 { get { header.connectionID } set { header.connectionID = newValue } }
    public var timestamp: UInt32 { get { header.timestamp } set { header.timestamp = newValue } }
    public var timestampDifference: UInt32 { get { header.timestampDifference } set { header.timestampDifference = newValue } }
    public var window: UInt32 { get { header.window } set { header.window = newValue } }
    public var seq: UInt16 { get { header.seq } set { header.seq = newValue } }
    public var ack: UInt16 { get { header.ack } set { header.ack = newValue } }
    public var selectiveAck: [UInt8]? { get { header.selectiveAck } set { header.selectiveAck = newValue } }
    public var skippedExtensions: [UInt8] { header.skippedExtensions }
    public var selectivelyAcked: [UInt16] { header.selectivelyAcked }

    public init(kind: Kind, connectionID: UInt16, timestamp: UInt32 = 0, timestampDifference: UInt32 = 0,
                window: UInt32 = 0, seq: UInt16, ack: UInt16, selectiveAck: [UInt8]? = nil, payload: ArraySlice<UInt8> = []) {
        self.header = Header(kind: kind, connectionID: connectionID, timestamp: timestamp, timestampDifference: timestampDifference,
                             window: window, seq: seq, ack: ack, selectiveAck: selectiveAck)
        self.payload = payload
    }

    public init(header: Header, payload: ArraySlice<UInt8> = []) {
        self.header = header
        self.payload = payload
    }

    /// Decodes a datagram; the payload is a slice of it (no copy).
    public init(decoding bytes: [UInt8]) throws(UTPError) {
        try self.init(decoding: bytes[...])
    }

    /// Decodes a datagram held in part of a larger buffer; the payload is a slice of it (no copy).
    public init(decoding bytes: ArraySlice<UInt8>) throws(UTPError) {
        // withUnsafeBytes rethrows untyped: the result is carried out instead.
        let decoded = bytes.withUnsafeBytes { raw in Result { () throws(UTPError) in try Header.decode(raw) } }
        let (header, payloadStart) = try decoded.get()
        self.header = header
        self.payload = bytes[(bytes.startIndex + payloadStart)...]
    }

    /// The datagram bytes.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.headerSize + (selectiveAck.map { $0.count + 2 } ?? 0) + payload.count)
        func u16(_ v: UInt16) { out.append(UInt8(v >> 8)); out.append(UInt8(truncatingIfNeeded: v)) }
        func u32(_ v: UInt32) { u16(UInt16(v >> 16)); u16(UInt16(truncatingIfNeeded: v)) }
        out.append(kind.rawValue << 4 | 1)
        out.append(selectiveAck == nil ? 0 : Self.selectiveAckExtension)
        u16(connectionID)
        u32(timestamp)
        u32(timestampDifference)
        u32(window)
        u16(seq)
        u16(ack)
        if let mask = selectiveAck {
            out.append(0)
            out.append(UInt8(min(mask.count, 255)))
            out.append(contentsOf: mask.prefix(255))
        }
        out.append(contentsOf: payload)
        return out
    }
}

/// Sequence-number arithmetic modulo 2^16.
enum Seq {
    /// How far `b` is ahead of `a` (negative when behind), for distances under 2^15.
    static func distance(from a: UInt16, to b: UInt16) -> Int { Int(Int16(bitPattern: b &- a)) }
}
