import Glibc
import Net
import Synchronization

/// BEP 15 client: connect, announce, scrape over `Net`'s UDP socket, with the 15·2ⁿ
/// retransmission schedule cut off by the caller's deadline. Connection ids are kept per
/// tracker address for their one-minute lifetime and reused.
final class UDPTransport: Sendable {
    /// Seconds before the first retransmission (BEP 15: 15); tests shrink it.
    let retransmitBase: Double
    /// Local IP to send from, for its own address family.
    let localIP: String?

    init(retransmitBase: Double, localIP: String? = nil) {
        self.retransmitBase = retransmitBase
        self.localIP = localIP
    }

    func announce(_ url: TrackerURL, _ request: AnnounceRequest, deadline: Deadline, name: String) throws(TrackerError) -> AnnounceResponse {
        let session = try Session(url, deadline: deadline, name: name, transport: self)
        let reply = try session.exchange(deadline: deadline) { connectionID, transactionID in
            UDPTrackerCodec.announceRequest(connectionID: connectionID, transactionID: transactionID, request)
        }
        guard case .announce(_, let response) = reply else { throw .badResponse(name, "a UDP reply of the wrong kind to an announce") }
        session.finish()
        return response
    }

    func scrape(_ url: TrackerURL, infoHashes: [[UInt8]], deadline: Deadline, name: String) throws(TrackerError) -> [ScrapeEntry] {
        let session = try Session(url, deadline: deadline, name: name, transport: self)
        var entries: [ScrapeEntry] = []
        // BEP 15: about 74 hashes fit in one packet.
        for start in stride(from: 0, to: infoHashes.count, by: 74) {
            let batch = Array(infoHashes[start..<min(start + 74, infoHashes.count)])
            let reply = try session.exchange(deadline: deadline) { connectionID, transactionID in
                UDPTrackerCodec.scrapeRequest(connectionID: connectionID, transactionID: transactionID, infoHashes: batch)
            }
            guard case .scrape(_, let counts) = reply else { throw .badResponse(name, "a UDP reply of the wrong kind to a scrape") }
            guard counts.count == batch.count else {
                throw .badResponse(name, "scrape reply has \(counts.count) entries for \(batch.count) info hashes")
            }
            for (hash, count) in zip(batch, counts) {
                entries.append(ScrapeEntry(infoHash: hash, complete: count.complete, incomplete: count.incomplete, downloaded: count.downloaded))
            }
        }
        session.finish()
        return entries
    }

    /// A socket kept for one tracker with the connection id it obtained: trackers tie the id to
    /// our address and port, so reusing the id means reusing the socket.
    final class Link: @unchecked Sendable {
        let socket: UDPSocket
        var connectionID: UInt64?
        var expires: Double = 0
        init(socket: UDPSocket) { self.socket = socket }
        var validID: UInt64? { expires > monotonicSeconds() ? connectionID : nil }
    }

    private let idle = Mutex<[SocketAddress: [Link]]>([:])

    /// An idle link to `address`, or a new one; concurrent requests each get their own socket.
    func checkout(_ address: SocketAddress) throws(NetError) -> Link {
        if let link = idle.withLock({ $0[address]?.popLast() }) { return link }
        let local = localIP.flatMap { SocketAddress(ip: $0, port: 0) }.flatMap { $0.family == address.family ? $0 : nil }
        let link = Link(socket: try UDPSocket(family: address.family, bind: local))
        UDPConnect.connect(link.socket.fileDescriptor, address)
        return link
    }

    func checkin(_ address: SocketAddress, _ link: Link) {
        idle.withLock { pool in
            if (pool[address]?.count ?? 0) < 4 { pool[address, default: []].append(link) }
        }
    }

    /// One socket to one tracker address for one command.
    struct Session {
        let address: SocketAddress
        let link: Link
        var socket: UDPSocket { link.socket }
        let name: String
        let transport: UDPTransport
        var family: CompactPeers.Family { address.family == .ipv4 ? .v4 : .v6 }

        init(_ url: TrackerURL, deadline: Deadline, name: String, transport: UDPTransport) throws(TrackerError) {
            do {
                address = try SocketAddress.resolve(host: url.host, port: url.port)[0]
                link = try transport.checkout(address)
            } catch {
                throw TrackerError(net: error, name: name)
            }
            self.name = name
            self.transport = transport
        }

        /// Gives the socket back for reuse (only after a clean exchange: a late reply must not confuse the next one).
        func finish() { transport.checkin(address, link) }

        /// Connects if needed, then sends `build(connectionID, transactionID)` and waits for its reply.
        func exchange(deadline: Deadline, _ build: (UInt64, UInt32) -> [UInt8]) throws(TrackerError) -> UDPTrackerCodec.Reply {
            let connectionID: UInt64
            if let cached = link.validID {
                connectionID = cached
            } else {
                let reply = try roundTrip(deadline: deadline, what: "connect") { UDPTrackerCodec.connectRequest(transactionID: $0) }
                guard case .connect(_, let id) = reply else { throw .badResponse(name, "a UDP reply of the wrong kind to connect") }
                link.connectionID = id
                link.expires = monotonicSeconds() + 60
                connectionID = id
            }
            let reply = try roundTrip(deadline: deadline, what: "request") { build(connectionID, $0) }
            return reply
        }

        /// Sends a packet with a fresh transaction id, retransmitting on the 15·2ⁿ schedule until
        /// `deadline`. Replies with another transaction id are counted and ignored.
        func roundTrip(deadline: Deadline, what: String, _ build: (UInt32) -> [UInt8]) throws(TrackerError) -> UDPTrackerCodec.Reply {
            let transactionID = UInt32.random(in: 0...UInt32.max)
            let packet = build(transactionID)
            var attempt = 0
            var stray = 0
            while true {
                do {
                    try socket.send(packet, to: address)
                } catch {
                    throw TrackerError(net: error, name: name)
                }
                let wait = transport.retransmitBase * Double(1 << min(attempt, 8))
                let attemptDeadline = Deadline(seconds: min(deadline.seconds, monotonicSeconds() + wait))
                while true {
                    let bytes: [UInt8]
                    do {
                        bytes = try socket.receive(deadline: attemptDeadline, max: 65536).bytes
                    } catch {
                        if case .timeout = error { break }
                        if case .refused = error { throw .unreachable(name, "\(address): connection refused (ICMP port unreachable)") }
                        throw TrackerError(net: error, name: name)
                    }
                    guard bytes.count >= 8, UDPTrackerCodec.get32(bytes, 4) == transactionID else {
                        stray += 1
                        continue
                    }
                    let reply: UDPTrackerCodec.Reply
                    do {
                        reply = try UDPTrackerCodec.decodeReply(bytes, family: family)
                    } catch {
                        throw .badResponse(name, "\(error)")
                    }
                    if case .error(_, let message) = reply {
                        link.connectionID = nil
                        throw .failure(name, message)
                    }
                    return reply
                }
                attempt += 1
                if deadline.hasPassed {
                    var why = "no reply to \(what) after \(attempt) attempt\(attempt == 1 ? "" : "s")"
                    if stray > 0 { why += "; ignored \(stray) repl\(stray == 1 ? "y" : "ies") with a wrong transaction id" }
                    throw .timeout(name, why)
                }
            }
        }
    }
}

/// Connects a UDP socket to its one remote, so ICMP "port unreachable" comes back as
/// ECONNREFUSED instead of a silent timeout. To be moved into Net as `UDPSocket.connect(to:)`.
enum UDPConnect {
    static func connect(_ fd: Int32, _ address: SocketAddress) {
        if address.family == .ipv4 {
            var raw = sockaddr_in()
            raw.sin_family = sa_family_t(AF_INET)
            raw.sin_port = address.port.bigEndian
            withUnsafeMutableBytes(of: &raw.sin_addr) { $0.copyBytes(from: address.ipBytes) }
            _ = withUnsafePointer(to: &raw) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        } else {
            var raw = sockaddr_in6()
            raw.sin6_family = sa_family_t(AF_INET6)
            raw.sin6_port = address.port.bigEndian
            withUnsafeMutableBytes(of: &raw.sin6_addr) { $0.copyBytes(from: address.ipBytes) }
            _ = withUnsafePointer(to: &raw) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }
}
