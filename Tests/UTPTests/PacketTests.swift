import Testing
@testable import UTP

@Suite struct PacketTests {
    @Test func headerRoundTripsBigEndian() throws {
        let packet = UTPPacket(kind: .data, connectionID: 0xABCD, timestamp: 0x0102_0304, timestampDifference: 0x0506_0708,
                               window: 0x0009_0A0B, seq: 0x1234, ack: 0xFFFF, payload: [1, 2, 3])
        let bytes = packet.encoded()
        #expect(bytes.count == 23)
        #expect(Array(bytes[0..<20]) == [0x01, 0, 0xAB, 0xCD, 1, 2, 3, 4, 5, 6, 7, 8, 0, 9, 0x0A, 0x0B, 0x12, 0x34, 0xFF, 0xFF])
        #expect(try UTPPacket(decoding: bytes) == packet)
    }

    @Test func rawSynAsLibtorrentExpectsIt() throws {
        // ST_SYN is 0x41 on the wire: type 4, version 1.
        let syn = UTPPacket(kind: .syn, connectionID: 7, seq: 1, ack: 0).encoded()
        #expect(syn[0] == 0x41)
        #expect(try UTPPacket(decoding: [0x21] + [UInt8](repeating: 0, count: 19)).kind == .state)
    }

    @Test func selectiveAckOfAnyLengthAndUnknownExtensionsSkipped() throws {
        // Header with extension 2 (Transmission's, 8 bytes) then a 6-byte selective ACK, then payload.
        var bytes: [UInt8] = [0x01, 2, 0, 5] + [UInt8](repeating: 0, count: 12) + [0, 10, 0, 20]
        bytes += [1, 8] + [UInt8](repeating: 0xEE, count: 8)
        bytes += [0, 6, 0b0000_0101, 0, 0, 0, 0, 0x80]
        bytes += [42, 43]
        let packet = try UTPPacket(decoding: bytes)
        #expect(packet.skippedExtensions == [2])
        #expect(packet.selectiveAck?.count == 6)
        #expect(packet.selectivelyAcked == [22, 24, 22 + 47])
        #expect(Array(packet.payload) == [42, 43])
    }

    @Test func malformedPacketsAreErrorsNotCrashes() {
        let cases: [[UInt8]] = [
            [], [0x41], [UInt8](repeating: 0, count: 19),
            [0x02] + [UInt8](repeating: 0, count: 19),  // version 2
            [0x51] + [UInt8](repeating: 0, count: 19),  // type 5
            [0x01, 1] + [UInt8](repeating: 0, count: 18),  // extension header missing
            [0x01, 1] + [UInt8](repeating: 0, count: 18) + [0, 9, 1],  // extension longer than the datagram
            [0x01, 1] + [UInt8](repeating: 0, count: 18) + [0, 0],  // empty selective ACK
        ]
        for bytes in cases {
            #expect(throws: UTPError.self) { try UTPPacket(decoding: bytes) }
        }
        // Every truncation of a valid packet with extensions either decodes or throws.
        let full = UTPPacket(kind: .state, connectionID: 1, seq: 2, ack: 3, selectiveAck: [1, 2, 3, 4]).encoded()
        for length in 0...full.count { _ = try? UTPPacket(decoding: Array(full[0..<length])) }
    }
}
