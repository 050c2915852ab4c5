import Glibc
import Net
import Synchronization

// The UDP half of the embedded tracker (BEP 15): connection ids without per-client state, and one
// thread answering batches of announces and scrapes.
extension TrackerServer {
    /// Connection ids are a keyed hash of the client address and the current minute: no
    /// per-client memory, and an id stays valid for one to two minutes.
    private func connectionID(for client: PeerAddress, minute: Int) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(secret)
        hasher.combine(client)
        hasher.combine(minute)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    private func validConnection(_ id: UInt64, client: PeerAddress, minute: Int) -> Bool {
        id == connectionID(for: client, minute: minute) || id == connectionID(for: client, minute: minute - 1)
    }

    /// What a batch of UDP requests added to the counters, added once per batch.
    private struct Tally {
        var announces = 0, scrapes = 0, errors = 0
    }

    /// Takes every datagram waiting (recvmmsg), answers them all under one lock of the state, and
    /// sends the replies together (sendmmsg): three system calls and no allocation per batch of
    /// announces, instead of two calls and several allocations per announce.
    func udpLoop(_ socket: UDPSocket) {
        let family: CompactPeers.Family = socket.family == .ipv4 ? .v4 : .v6
        let batch = DatagramBatch(capacity: 32, datagramSize: 2048, replySize: 4096)
        var logs: [LogEntry] = []
        while !isStopped {
            expireIfDue()
            let count: Int
            do { count = try batch.receiveBlocking(from: socket) } catch {
                usleep(10_000)
                continue
            }
            if count == 0 { continue }
            let time = now()
            let minute = Int(time / 60)
            var tally = Tally()
            state.withLock { state in
                for index in 0..<count {
                    let sender = batch.sender(index)
                    guard sender.ipLength != 0 else { continue }
                    let client = PeerAddress(ip: sender.ip, isV6: sender.ipLength == 16, port: sender.port)
                    let length = answerUDP(batch.datagram(index), from: client, into: batch.reply(index), family: family,
                                           state: &state, now: time, minute: minute, tally: &tally, logs: &logs)
                    batch.setReplyLength(index, length)
                }
            }
            batch.sendReplies(on: socket, count: count)
            if tally.announces + tally.scrapes + tally.errors > 0 {
                counters.withLock {
                    $0.announces += tally.announces
                    $0.scrapes += tally.scrapes
                    $0.errors += tally.errors
                }
            }
            if !logs.isEmpty {
                for entry in logs { log(entry) }
                logs.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Answers one UDP request into `out`: the reply's length, 0 for none.
    private func answerUDP(_ bytes: UnsafeRawBufferPointer, from client: PeerAddress, into out: UnsafeMutableRawBufferPointer,
                           family: CompactPeers.Family, state: inout TrackerState, now time: Double, minute: Int,
                           tally: inout Tally, logs: inout [LogEntry]) -> Int {
        guard let request = UDPTrackerCodec.decodeServerRequest(bytes) else { return 0 }
        switch request {
        case .connect(let transactionID):
            return UDPTrackerCodec.writeConnectReply(out, transactionID: transactionID,
                                                     connectionID: connectionID(for: client, minute: minute))
        case .announce(let connectionID, let transactionID, let announcement):
            guard validConnection(connectionID, client: client, minute: minute) else {
                tally.errors += 1
                logs.append(LogEntry(transport: "udp", action: "error", client: client.description,
                                     infoHashes: [announcement.infoHash.bytes], error: "unknown connection id"))
                return UDPTrackerCodec.write(UDPTrackerCodec.errorReply(transactionID: transactionID,
                                                                        message: "unknown or expired connection id"), out)
            }
            // The peers go after the 20-byte head, which carries the counts: written once the peers are.
            var length = 20
            let wantedSize = family.entrySize
            var returned = 0
            let peer = PeerAddress(ip: client.ip, isV6: client.isV6, port: announcement.port)
            let counts = state.answer(announcement, from: peer, now: time) { entry in
                // Only peers of the socket's family fit in a BEP 15 reply.
                guard entry.address.compactSize == wantedSize, length + wantedSize <= out.count else { return false }
                entry.address.writeCompact(to: out, at: length)
                length += wantedSize
                returned += 1
                return true
            }
            _ = UDPTrackerCodec.writeAnnounceHead(out, transactionID: transactionID, counts)
            tally.announces += 1
            if options.logsRequests { logs.append(entry("udp", announcement, client: client, counts, returned: returned)) }
            return length
        case .scrape(let connectionID, let transactionID, let hashes):
            guard validConnection(connectionID, client: client, minute: minute) else {
                return UDPTrackerCodec.write(UDPTrackerCodec.errorReply(transactionID: transactionID,
                                                                        message: "unknown or expired connection id"), out)
            }
            let entries = state.scrape(hashes, now: time)
            tally.scrapes += 1
            if options.logsRequests { logs.append(LogEntry(transport: "udp", action: "scrape", client: client.description, infoHashes: hashes)) }
            return UDPTrackerCodec.write(UDPTrackerCodec.scrapeReply(transactionID: transactionID, entries), out)
        }
    }
}
