import UTP

extension FuzzTarget {
    /// uTP (BEP 29) as a peer can send it: one datagram through both decoders, or a run of datagrams
    /// into a connection that has data of its own in flight.
    ///
    /// The first byte picks: even, one datagram (the rest); odd, a connection fed datagrams, each
    /// a length byte, a time step byte (ms) and that many bytes.
    public static let utp = FuzzTarget(
        name: "utp", summary: "uTP datagrams: the header decoders, and a connection taking any packets",
        exercise: { bytes in try exerciseUTP(bytes) },
        seeds: {
            let data = UTPPacket(kind: .data, connectionID: 7, timestamp: 1000, timestampDifference: 20, window: 1 << 20,
                                 seq: 100, ack: 1, payload: ArraySlice(Array(repeating: 0x42, count: 40)))
            let sack = UTPPacket(kind: .state, connectionID: 7, window: 65536, seq: 100, ack: 2, selectiveAck: [0x05, 0, 0, 0x80])
            var unknown = UTPPacket(kind: .state, connectionID: 7, seq: 1, ack: 1).encoded()
            unknown[1] = 2  // an extension of type 2 (Transmission's), 8 bytes, then none
            unknown += [0, 8] + Array(repeating: 0, count: 8)
            func session(_ packets: [UTPPacket]) -> [UInt8] {
                [1] + packets.flatMap { packet -> [UInt8] in
                    let bytes = packet.encoded()
                    return [UInt8(min(bytes.count, 255)), 3] + bytes.prefix(255)
                }
            }
            let stream = sessionReceiveID
            return [[0] + data.encoded(), [0] + sack.encoded(), [0] + unknown,
                    [0] + UTPPacket(kind: .fin, connectionID: 9, seq: 3, ack: 4).encoded(),
                    session([UTPPacket(kind: .state, connectionID: stream, window: 1 << 20, seq: 100, ack: 2),
                             UTPPacket(kind: .data, connectionID: stream, window: 1 << 20, seq: 101, ack: 3, payload: [1, 2, 3]),
                             UTPPacket(kind: .data, connectionID: stream, window: 1 << 20, seq: 103, ack: 3, payload: [4]),
                             UTPPacket(kind: .state, connectionID: stream, window: 0, seq: 101, ack: 3, selectiveAck: [1, 0, 0, 0]),
                             UTPPacket(kind: .fin, connectionID: stream, window: 1 << 20, seq: 104, ack: 4)]),
                    session([UTPPacket(kind: .reset, connectionID: stream, seq: 1, ack: 1)])]
        })
}

/// The connection id the connection under test receives on.
private let sessionReceiveID: UInt16 = 1000

func exerciseUTP(_ bytes: [UInt8]) throws {
    guard let mode = bytes.first else { return }
    let body = Array(bytes.dropFirst())
    if mode & 1 == 0 { try checkDatagram(body) } else { try checkConnection(body) }
}

/// The raw-memory decoder (what the multiplexer uses) and the array one agree; decode → encode →
/// decode is stable.
private func checkDatagram(_ datagram: [UInt8]) throws {
    let raw = datagram.withUnsafeBytes { bytes in Result { () throws(UTPError) in try UTPPacket.Header.decode(bytes) } }
    let packet = try? UTPPacket(decoding: datagram)
    switch (raw, packet) {
    case (.success(let decoded), let packet?):
        guard decoded.payloadStart <= datagram.count, decoded.header == packet.header,
              Array(datagram[decoded.payloadStart...]) == Array(packet.payload) else {
            throw FuzzViolation("the raw and array decoders disagree")
        }
        // Unknown extensions are read past, and of repeated selective ACKs the last counts: what we
        // encode again is the packet as understood, and it must decode to the same.
        var understood = packet
        understood.header.skippedExtensions = []
        guard let again = try? UTPPacket(decoding: packet.encoded()), again == understood else {
            throw FuzzViolation("decode → encode → decode changed a \(packet.kind.name) packet")
        }
    case (.failure, nil): break
    default: throw FuzzViolation("one decoder accepts what the other rejects")
    }
}

/// A dialing connection with 64 KiB of its own to send, connected by a SYN-ACK, then fed the
/// input's datagrams as they would come: bytes in flight and buffered never go negative, no more
/// is delivered than was received, everything it sends decodes, a closed one wants no timer.
private func checkConnection(_ body: [UInt8]) throws {
    var now = 1.0
    var connection = UTPConnection(dialing: sessionReceiveID, peer: "fuzz", now: now)
    connection.receive(UTPPacket(kind: .state, connectionID: sessionReceiveID, timestamp: 5, window: 1 << 20, seq: 100, ack: 1),
                       now: now)
    connection.write(Array(repeating: 0x55, count: 64 << 10), now: now)
    var offered = 0
    var delivered = 0
    var offset = 0
    while offset + 2 <= body.count {
        let length = Int(body[offset])
        now += Double(body[offset + 1]) / 1000
        offset += 2
        let datagram = Array(body[offset..<min(body.count, offset + length)])
        offset += length
        let decoded = datagram.withUnsafeBytes { bytes in
            (try? UTPPacket.Header.decode(bytes)).map { decoded in
                // The connection takes the payload where it lies, as from the port's buffer.
                connection.receive(decoded.header, payload: UnsafeRawBufferPointer(rebasing: bytes[decoded.payloadStart...]), now: now)
                return datagram.count - decoded.payloadStart
            }
        }
        if let payload = decoded { offered += payload }
        connection.tick(now: now)
        connection.sendAckIfNeeded(now: now)
        delivered += connection.takeReceived().count
        try checkInvariants(&connection, offered: offered, delivered: delivered)
    }
    now += 120
    connection.tick(now: now)
    try checkInvariants(&connection, offered: offered, delivered: delivered)
}

private func checkInvariants(_ connection: inout UTPConnection, offered: Int, delivered: Int) throws {
    if connection.bytesInFlight < 0 || connection.pendingBytes < 0 {
        throw FuzzViolation("negative bytes in flight (\(connection.bytesInFlight)) or pending (\(connection.pendingBytes))")
    }
    if delivered > offered { throw FuzzViolation("delivered \(delivered) bytes of \(offered) received") }
    if connection.state == .closed && connection.nextDeadline != .infinity {
        throw FuzzViolation("a closed connection still wants its timer")
    }
    for packet in connection.takeOutbox() {
        guard let again = try? UTPPacket(decoding: packet.encoded()), again == packet else {
            throw FuzzViolation("a \(packet.kind.name) packet we send does not decode to itself")
        }
    }
}
