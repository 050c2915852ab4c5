import Dispatch
import Foundation
import Net
import Synchronization

/// `tt tracker`'s engine: HTTP and UDP announce and scrape over one `TrackerState`.
///
/// One thread accepts HTTP connections (each served on a thread of its own, at most 64 at once,
/// one request per connection, 5 s from the accept to send it, 8 KiB at most; when all 64 are
/// taken, the one that has been sending its request longest is dropped); one thread serves UDP.
/// Both poll a stop flag.
public final class TrackerServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var bind: String = "127.0.0.1"
        /// nil: no HTTP; 0: any free port.
        public var httpPort: UInt16? = 6969
        public var udpPort: UInt16? = 6969
        public var state = TrackerState.Config()
        /// Build a `LogEntry` per request (costly at tens of thousands of announces a second).
        public var logsRequests = true
        public init() {}
    }

    /// One request, for the log.
    public struct LogEntry: Sendable {
        public var transport: String  // "http" or "udp"
        public var action: String     // "announce", "scrape", "connect", "error"
        public var client: String     // addr of the sender
        public var infoHashes: [[UInt8]]
        public var event: String?
        public var port: UInt16?
        public var left: Int64?
        public var peersReturned: Int?
        public var complete: Int?
        public var incomplete: Int?
        public var error: String?
    }

    public let options: Options
    public let httpAddress: SocketAddress?
    public let udpAddress: SocketAddress?
    private let listener: TCPListener?
    private let udpSocket: UDPSocket?
    private let state: Mutex<TrackerState>
    private let stopped = Atomic<Bool>(false)
    private let log: @Sendable (LogEntry) -> Void
    private let secret = UInt64.random(in: 0...UInt64.max)
    private let threads = DispatchGroup()
    private let connectionSlots = DispatchSemaphore(value: 64)
    public let counters = Mutex<(announces: Int, scrapes: Int, errors: Int)>((0, 0, 0))

    public init(options: Options, log: @escaping @Sendable (LogEntry) -> Void = { _ in }) throws(NetError) {
        self.options = options
        self.log = log
        state = Mutex(TrackerState(config: options.state))
        let bindIP = options.bind
        func address(_ port: UInt16) throws(NetError) -> SocketAddress {
            guard let address = SocketAddress(ip: bindIP, port: port) else { throw .badAddress(bindIP) }
            return address
        }
        if let port = options.httpPort {
            let listener = try TCPListener(bind: try address(port))
            self.listener = listener
            httpAddress = listener.localAddress
        } else {
            listener = nil
            httpAddress = nil
        }
        if let port = options.udpPort {
            let local = try address(port)
            let socket = try UDPSocket(family: local.family, bind: local)
            udpSocket = socket
            udpAddress = socket.localAddress
        } else {
            udpSocket = nil
            udpAddress = nil
        }
    }

    public var torrentCount: Int { state.withLock { $0.torrentCount } }
    public var peerCount: Int { state.withLock { $0.peerCount } }

    /// Starts serving on background threads.
    public func start() {
        if let listener {
            threads.enter()
            Thread.detachNewThread { [self] in self.acceptLoop(listener); self.threads.leave() }
        }
        if let udpSocket {
            threads.enter()
            Thread.detachNewThread { [self] in self.udpLoop(udpSocket); self.threads.leave() }
        }
    }

    /// Stops both loops and waits for them (in-flight HTTP connections finish on their own).
    public func stop() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        threads.wait()
        listener?.close()
        udpSocket?.close()
    }

    /// Serves until `stop()`.
    public func run() {
        start()
        threads.wait()
    }

    private var isStopped: Bool { stopped.load(ordering: .sequentiallyConsistent) }

    private func now() -> Double { monotonicSeconds() }

    // MARK: - HTTP

    private let lastExpiry = Mutex<Double>(monotonicSeconds())

    /// Expires silent peers every few seconds, from whichever loop gets there first.
    private func expireIfDue() {
        let time = now()
        let due = lastExpiry.withLock { last in
            guard time - last > 5 else { return false }
            last = time
            return true
        }
        if due { state.withLock { $0.expire(now: time) } }
    }

    private func acceptLoop(_ listener: TCPListener) {
        while !isStopped {
            expireIfDue()
            let connection: TCPConnection
            do {
                connection = try listener.accept(deadline: .after(0.25))
            } catch {
                if case .timeout = error { continue }
                usleep(10_000)
                continue
            }
            // Every slot taken: the client that has been sending its request the longest gives
            // up its slot, so slow clients cannot stop the tracker answering others.
            if connectionSlots.wait(timeout: .now()) == .timedOut {
                _ = evictSlowestReader()
                connectionSlots.wait()
            }
            let token = readers.withLock { readers in
                readers.next += 1
                readers.reading[readers.next] = connection
                return readers.next
            }
            // A thread per connection (at most 64): blocked readers must not starve a shared pool,
            // and the request deadline counts from the accept.
            let deadline = Deadline.after(5)
            Thread.detachNewThread { [self] in
                self.serve(connection, token: token, deadline: deadline)
                self.readers.withLock { _ = $0.reading.removeValue(forKey: token) }
                connection.close()
                self.connectionSlots.signal()
            }
        }
    }

    /// Connections still sending their request, oldest first by token.
    private let readers = Mutex<(next: Int, reading: [Int: TCPConnection])>((0, [:]))

    /// Wakes the oldest connection still reading its request (it sees end of stream and
    /// gives up its slot); false when every slot is busy answering.
    private func evictSlowestReader() -> Bool {
        let oldest = readers.withLock { readers -> TCPConnection? in
            guard let key = readers.reading.keys.min() else { return nil }
            return readers.reading.removeValue(forKey: key)
        }
        oldest?.shutdownRead()
        return oldest != nil
    }

    private func serve(_ connection: TCPConnection, token: Int, deadline: Deadline) {
        var reader = HTTPRequestReader(maxHead: 8192)
        var line: HTTPRequestLine
        readLoop: while true {
            guard let chunk = try? connection.receive(max: 8192, deadline: deadline), !chunk.isEmpty else { return }
            do {
                switch try reader.feed(chunk) {
                case .needMore: continue
                case .request(let request): line = request; break readLoop
                }
            } catch .headTooLarge {
                respond(connection, status: "431 Request Header Fields Too Large", body: HTTPTrackerCodec.encodeFailure("request too large"))
                return
            } catch {
                respond(connection, status: "400 Bad Request", body: HTTPTrackerCodec.encodeFailure("malformed request line"))
                return
            }
        }
        readers.withLock { _ = $0.reading.removeValue(forKey: token) }
        guard line.method == "GET" else {
            respond(connection, status: "400 Bad Request", body: HTTPTrackerCodec.encodeFailure("only GET requests"))
            return
        }
        let path = line.path
        let client = connection.remote
        guard let params = HTTPTrackerCodec.parseQuery(line.query) else {
            fail(connection, client: client, "malformed percent-encoding in the query")
            return
        }
        if path.hasSuffix("/announce") {
            handleHTTPAnnounce(connection, client: client, params: params)
        } else if path.hasSuffix("/scrape") {
            let hashes: [[UInt8]]
            do { hashes = try HTTPTrackerCodec.scrapeHashes(fromQuery: params) } catch {
                fail(connection, client: client, error.reason)
                return
            }
            let time = now()
            let entries = state.withLock { $0.scrape(hashes, now: time) }
            counters.withLock { $0.scrapes += 1 }
            if options.logsRequests { log(LogEntry(transport: "http", action: "scrape", client: client.description, infoHashes: hashes)) }
            respond(connection, status: "200 OK", body: HTTPTrackerCodec.encodeScrape(entries))
        } else {
            respond(connection, status: "404 Not Found", body: HTTPTrackerCodec.encodeFailure("no such path; use /announce or /scrape"))
        }
    }

    private func handleHTTPAnnounce(_ connection: TCPConnection, client: SocketAddress, params: [(String, [UInt8])]) {
        let request: AnnounceRequest
        do { request = try HTTPTrackerCodec.announceRequest(fromQuery: params) } catch {
            fail(connection, client: client, error.reason)
            return
        }
        let time = now()
        let (counts, picked) = state.withLock { $0.answer(request, ip: client.ip, ipBytes: client.ipBytes, now: time) }
        counters.withLock { $0.announces += 1 }
        if options.logsRequests { log(entry("http", request, client: client, counts, returned: picked.count)) }
        let body: [UInt8]
        if request.compact {
            body = HTTPTrackerCodec.encodeCompactAnnounce(counts, v4: picked.filter { $0.compact.count == 6 }.flatMap(\.compact),
                                                         v6: picked.filter { $0.compact.count == 18 }.flatMap(\.compact))
        } else {
            var full = counts
            full.peers = picked.map(\.peer)
            body = HTTPTrackerCodec.encodeAnnounce(full, compact: false)
        }
        respond(connection, status: "200 OK", body: body)
    }

    private func entry(_ transport: String, _ request: AnnounceRequest, client: SocketAddress, _ response: AnnounceResponse,
                       returned: Int) -> LogEntry {
        LogEntry(transport: transport, action: "announce", client: client.description, infoHashes: [request.infoHash],
                 event: request.event == .none ? nil : request.event.rawValue, port: request.port, left: request.left,
                 peersReturned: returned, complete: response.complete, incomplete: response.incomplete)
    }

    private func fail(_ connection: TCPConnection, client: SocketAddress, _ reason: String) {
        counters.withLock { $0.errors += 1 }
        log(LogEntry(transport: "http", action: "error", client: client.description, infoHashes: [], error: reason))
        respond(connection, status: "200 OK", body: HTTPTrackerCodec.encodeFailure(reason))
    }

    private func respond(_ connection: TCPConnection, status: String, body: [UInt8]) {
        let head = "HTTP/1.1 \(status)\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        try? connection.send(Array(head.utf8) + body, deadline: .after(5))
    }

    // MARK: - UDP

    /// Connection ids are a keyed hash of the client address and the current minute: no
    /// per-client memory, and an id stays valid for one to two minutes.
    private func connectionID(for client: SocketAddress, minute: Int) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(secret)
        hasher.combine(client)
        hasher.combine(minute)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    private func validConnection(_ id: UInt64, client: SocketAddress) -> Bool {
        let minute = Int(now() / 60)
        return id == connectionID(for: client, minute: minute) || id == connectionID(for: client, minute: minute - 1)
    }

    private func udpLoop(_ socket: UDPSocket) {
        let family: CompactPeers.Family = socket.family == .ipv4 ? .v4 : .v6
        while !isStopped {
            expireIfDue()
            let packet: (bytes: [UInt8], from: SocketAddress)
            do {
                packet = try socket.receive(deadline: .after(0.25), max: 2048)
            } catch {
                continue
            }
            if let reply = handleUDP(packet.bytes, from: packet.from, family: family) {
                try? socket.send(reply, to: packet.from)
            }
        }
    }

    private func handleUDP(_ bytes: [UInt8], from client: SocketAddress, family: CompactPeers.Family) -> [UInt8]? {
        guard let request = UDPTrackerCodec.decodeRequest(bytes) else { return nil }
        switch request {
        case .connect(let transactionID):
            return UDPTrackerCodec.connectReply(transactionID: transactionID, connectionID: connectionID(for: client, minute: Int(now() / 60)))
        case .announce(let connectionID, let transactionID, let announce):
            guard validConnection(connectionID, client: client) else {
                counters.withLock { $0.errors += 1 }
                log(LogEntry(transport: "udp", action: "error", client: client.description, infoHashes: [announce.infoHash],
                             error: "unknown connection id"))
                return UDPTrackerCodec.errorReply(transactionID: transactionID, message: "unknown or expired connection id")
            }
            let time = now()
            // The counts go in the header, so the peers are collected first, then put after it.
            var peers: [UInt8] = []
            let (counts, returned) = state.withLock {
                // Only peers of the socket's family fit in a BEP 15 reply.
                $0.answerCompact(announce, ip: client.ip, ipBytes: client.ipBytes, now: time, entrySize: family.entrySize, into: &peers)
            }
            counters.withLock { $0.announces += 1 }
            if options.logsRequests { log(entry("udp", announce, client: client, counts, returned: returned)) }
            var reply = UDPTrackerCodec.announceReply(transactionID: transactionID, counts, family: family)
            reply += peers
            return reply
        case .scrape(let connectionID, let transactionID, let hashes):
            guard validConnection(connectionID, client: client) else {
                return UDPTrackerCodec.errorReply(transactionID: transactionID, message: "unknown or expired connection id")
            }
            let time = now()
            let entries = state.withLock { $0.scrape(hashes, now: time) }
            counters.withLock { $0.scrapes += 1 }
            if options.logsRequests { log(LogEntry(transport: "udp", action: "scrape", client: client.description, infoHashes: hashes)) }
            return UDPTrackerCodec.scrapeReply(transactionID: transactionID, entries)
        }
    }
}

private extension ArraySlice where Element == UInt8 {
    func hasSuffix(_ text: String) -> Bool {
        let tail = Array(text.utf8)
        return count >= tail.count && suffix(tail.count).elementsEqual(tail)
    }
}
