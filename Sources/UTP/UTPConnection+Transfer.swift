// MARK: - Receiving, acknowledging, sending and retransmitting

extension UTPConnection {
    /// Takes one packet from the peer (already matched to this connection by id and address).
    /// `arrival` is when it reached the host (the kernel's receive time, when known): the delay we echo
    /// to the peer then excludes how long our process waited to be scheduled, which is not queuing.
    public mutating func receive(_ packet: UTPPacket, now: Double, arrival: Double? = nil) {
        packet.payload.withUnsafeBytes { receive(packet.header, payload: $0, now: now, arrival: arrival) }
    }

    /// Takes one packet whose payload is still where it arrived (valid during the call; it is copied
    /// if kept): how the multiplexer hands over datagrams straight from its receive buffer.
    public mutating func receive(_ packet: UTPPacket.Header, payload: UnsafeRawBufferPointer, now: Double, arrival: Double? = nil) {
        guard state != .closed else { return }
        switch packet.kind {
        case .reset:
            fail(.reset(peer: peerName))
            return
        case .syn:
            // The initiator's SYN again (our SYN-ACK was lost): answer it again.
            if !isInitiator && packet.seq == ackNr && packet.connectionID &+ 1 == receiveID { needAck = true; ackNow = true }
            return
        default: break
        }
        if state == .synSent {
            guard packet.kind == .state, packet.ack == 1 else { return }
            state = .connected
            ackNr = packet.seq &- 1
        }
        guard processAck(packet, now: now) else { return }
        if state == .closing && finSent && inFlight.isEmpty {
            // Our FIN and everything before it are acked.
            state = .closed
            clearDeadlines()
        }
        lastReceivedAt = now
        if packet.timestamp != 0 { replyDifference = Self.micros(min(now, arrival ?? now)) &- packet.timestamp }
        peerWindow = Int(packet.window)
        if peerWindow > 0 { zeroWindowSince = nil }
        if packet.kind == .data || packet.kind == .fin { accept(packet, payload: payload, now: now) }
        flush(now: now)
    }

    /// Applies ack_nr and the selective ACK; false when the packet acks data we never sent (dropped).
    mutating func processAck(_ packet: UTPPacket.Header, now: Double) -> Bool {
        let oldest = inFlight.isEmpty ? seqNr : inFlight.firstSeq
        let advance = Seq.distance(from: oldest &- 1, to: packet.ack)
        if advance > inFlight.count { return false }
        var bytesAcked = 0
        if advance > 0 {
            for _ in 0..<advance {
                let sent = inFlight.removeFirst()
                if !sent.acked && !sent.needsResend { bytesInFlight -= sent.payload.count }
                if !sent.acked { bytesAcked += sent.payload.count }
                // Karn: only packets sent once give a round-trip sample.
                if sent.transmissions == 1 && !sent.acked { congestion.rttSample(now - sent.sentAt) }
            }
            duplicateAcks = 0
            consecutiveTimeouts = 0
            congestion.resetBackoff()
            rtoDeadline = inFlight.isEmpty ? nil : now + congestion.timeout
        } else if advance == 0 && !inFlight.isEmpty && packet.kind == .state && packet.ack == lastAckReceived {
            duplicateAcks += 1
            if duplicateAcks == 3 { resend(index: 0, now: now, lost: true) }
        }
        if advance >= 0 { lastAckReceived = packet.ack }
        if advance >= 0, packet.selectiveAck != nil {
            bytesAcked += applySelectiveAck(packet, now: now)
        }
        if packet.timestampDifference != 0 { congestion.delaySample(packet.timestampDifference, now: now) }
        congestion.acked(bytes: bytesAcked)
        return true
    }

    /// Marks selectively acked packets; a packet with three or more acked after it is lost: resend it.
    mutating func applySelectiveAck(_ packet: UTPPacket.Header, now: Double) -> Int {
        guard !inFlight.isEmpty else { return 0 }
        var bytes = 0
        var farthest = -1
        for seq in packet.selectivelyAcked {
            let index = Seq.distance(from: inFlight.firstSeq, to: seq)
            guard index >= 0 && index < inFlight.count else { continue }
            farthest = max(farthest, index)
            if !inFlight[index].acked {
                if !inFlight[index].needsResend { bytesInFlight -= inFlight[index].payload.count }
                bytes += inFlight[index].payload.count
                inFlight[index].acked = true
                inFlight[index].needsResend = false
            }
        }
        guard farthest > 0 else { return bytes }
        var ackedAfter = 0
        for index in stride(from: farthest, through: 0, by: -1) {
            let sent = inFlight[index]
            if sent.acked { ackedAfter += 1; continue }
            // Resent at most once per round trip, so repeated acks do not resend it again and again.
            if ackedAfter >= 3 && now - sent.sentAt > (congestion.rtt ?? 0) { resend(index: index, now: now, lost: true) }
        }
        return bytes
    }

    /// Takes a DATA or FIN in order, or keeps it for later (bounded), and notes that we owe an ack:
    /// at once for anything but in-order data (a duplicate, a packet past a gap or filling one, a
    /// FIN), so the sender learns of a loss without waiting for a held-back ack.
    mutating func accept(_ packet: UTPPacket.Header, payload: UnsafeRawBufferPointer, now: Double) {
        guard state == .connected || state == .closing else { return }
        needAck = true
        dataPacketsReceived += 1
        let distance = Seq.distance(from: ackNr, to: packet.seq)
        guard distance > 0 else { duplicatePackets += 1; ackNow = true; return }  // the ack we owe covers it
        if let eof = eofSeq, Seq.distance(from: eof, to: packet.seq) > 0 { return }
        if packet.kind == .fin { eofSeq = packet.seq; ackNow = true }
        if distance == 1 {
            received.append(contentsOf: payload)
            unackedBytes += payload.count
            measureRate(payload.count, now: now)
            ackNr = packet.seq
            if !outOfOrder.isEmpty { ackNow = true }
            while let next = outOfOrder.removeValue(forKey: ackNr &+ 1) {
                outOfOrderBytes -= next.count
                received.append(contentsOf: next)
                ackNr &+= 1
            }
        } else {
            ackNow = true
            // A gap: packets were lost; ack every couple of packets until the sender has recovered.
            ackThreshold = 2 * configuration.payloadSize
            if distance <= configuration.maxReorder, outOfOrder[packet.seq] == nil, payload.count <= window {
                outOfOrderPackets += 1
                outOfOrder[packet.seq] = Array(payload)
                outOfOrderBytes += payload.count
            }
        }
        if let eof = eofSeq, eof == ackNr { endOfStream = true }
    }

    /// Sends new data as far as the congestion window and the peer's window allow.
    mutating func flush(now: Double) {
        guard state == .connected || state == .closing else { return }
        // Packets a timeout marked for resending go first.
        if inFlight.count > 0 {
            var index = 0
            while index < inFlight.count {
                if inFlight[index].needsResend {
                    guard canSend(inFlight[index].payload.count) else { return }
                    resend(index: index, now: now, lost: false)
                }
                index += 1
            }
        }
        while pendingBytes > 0 {
            let size = min(configuration.payloadSize, pendingBytes)
            guard canSend(size) else {
                if peerWindow == 0 && zeroWindowSince == nil { zeroWindowSince = now }
                return
            }
            guard inFlight.count < 0x4000 else { return }  // keep seq distances unambiguous
            let payload = takePending(size)
            inFlight.append(SentPacket(seq: seqNr, kind: .data, payload: payload, sentAt: now, transmissions: 1))
            bytesInFlight += payload.count
            emit(.data, seq: seqNr, payload: payload, now: now)
            seqNr &+= 1
            if rtoDeadline == nil { rtoDeadline = now + congestion.timeout }
        }
        if state == .closing && !finSent {
            // Everything written is out: the FIN follows it, and is resent like data until acked.
            finSent = true
            inFlight.append(SentPacket(seq: seqNr, kind: .fin, payload: [], sentAt: now, transmissions: 1))
            emit(.fin, seq: seqNr, payload: [], now: now)
            seqNr &+= 1
            if rtoDeadline == nil { rtoDeadline = now + congestion.timeout }
        }
    }

    /// One packet always fits when nothing is in flight and the peer has any room.
    func canSend(_ size: Int) -> Bool {
        let limit = min(Int(congestion.window), peerWindow)
        if bytesInFlight == 0 { return peerWindow > 0 }
        return bytesInFlight + size <= limit
    }

    mutating func takePending(_ size: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(size)
        while out.count < size {
            let chunk = pending[0]
            let take = min(size - out.count, chunk.count - pendingOffset)
            out.append(contentsOf: chunk[pendingOffset..<(pendingOffset + take)])
            pendingOffset += take
            if pendingOffset == chunk.count {
                pending.removeFirst()
                pendingOffset = 0
            }
        }
        pendingBytes -= size
        return out
    }

    mutating func resend(index: Int, now: Double, lost: Bool) {
        var sent = inFlight[index]
        guard !sent.acked else { return }
        if lost { congestion.lost(seq: sent.seq, nextSeq: seqNr) }
        if sent.needsResend { bytesInFlight += sent.payload.count }
        sent.needsResend = false
        sent.transmissions += 1
        resentPackets += 1
        sent.sentAt = now
        inFlight[index] = sent
        emit(sent.kind, seq: sent.seq, payload: sent.payload, now: now)
        if rtoDeadline == nil { rtoDeadline = now + congestion.timeout }
    }

    /// Retransmission timeouts, zero-window limits, connect timeout and keep-alives.
    public mutating func tick(now: Double) {
        guard state != .closed else { return }
        if let since = zeroWindowSince, peerWindow == 0 {
            if now - since >= configuration.zeroWindowTimeout {
                fail(.zeroWindow(peer: peerName, seconds: configuration.zeroWindowTimeout))
                return
            }
        }
        if needAck, let due = ackDue, now >= due { sendAckIfNeeded(now: now) }
        if let due = rtoDeadline, now >= due {
            if state == .synSent {
                // lastReceivedAt is the time of dialing until the SYN-ACK arrives.
                if now - lastReceivedAt >= configuration.connectTimeout {
                    fail(.connectTimeout(peer: peerName, seconds: configuration.connectTimeout))
                    return
                }
                resend(index: 0, now: now, lost: false)
                rtoDeadline = now + congestion.timeout
                return
            }
            timedOut(now: now)
            if state == .closed { return }
        }
        if zeroWindowSince != nil && bytesInFlight == 0 && pendingBytes > 0 && peerWindow == 0
            && now - lastSentAt >= congestion.timeout {
            // Probe a zero window with one packet; its ack brings the peer's current window.
            peerWindow = 1
            flush(now: now)
            peerWindow = 0
        }
        if now - lastSentAt >= configuration.keepAliveInterval {
            emit(.state, seq: seqNr, payload: [], now: now)
        }
    }

    mutating func timedOut(now: Double) {
        guard !inFlight.isEmpty else { rtoDeadline = nil; return }
        consecutiveTimeouts += 1
        if consecutiveTimeouts > configuration.maxRetransmissions {
            fail(.retransmitTimeout(peer: peerName))
            return
        }
        congestion.timedOut()
        // Everything unacked is presumed lost: send again as the (now small) window allows.
        for index in 0..<inFlight.count where !inFlight[index].acked && !inFlight[index].needsResend {
            inFlight[index].needsResend = true
            bytesInFlight -= inFlight[index].payload.count
        }
        rtoDeadline = now + congestion.timeout
        let first = (0..<inFlight.count).first { !inFlight[$0].acked }
        if let first { resend(index: first, now: now, lost: false) }
        flush(now: now)
    }
}
