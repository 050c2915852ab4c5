import Dispatch
import FoundationEssentials
import Glibc
import Net
import Synchronization

/// `tt tracker`'s engine: HTTP and UDP announce and scrape over one `TrackerState`.
///
/// One thread accepts HTTP connections and answers those whose request came whole with the
/// connection; a connection still sending is served on a thread of its own (at most 64 at once,
/// 5 s from the accept to send its request, 8 KiB at most; when all 64 are taken, the one that
/// has been sending its request longest is dropped). One thread serves UDP in batches.
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
    let state: Mutex<TrackerState>
    let stopped = Atomic<Bool>(false)
    let log: @Sendable (LogEntry) -> Void
    let secret = UInt64.random(in: 0...UInt64.max)
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
            // Accept a connection once its first bytes are in (up to 5 s), so it can be answered at once.
            var deferSeconds: Int32 = 5
            _ = setsockopt(listener.fileDescriptor, Int32(IPPROTO_TCP), TCP_DEFER_ACCEPT, &deferSeconds,
                           socklen_t(MemoryLayout<Int32>.size))
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
            // The accept thread sleeps in accept itself (up to 0.25 s, then checks the stop flag).
            listener.blockAccepts(timeout: 0.25)
            threads.enter()
            if !startDetachedThread(name: "tt-tracker-tcp", { [self] in self.acceptLoop(listener); self.threads.leave() }) {
                threads.leave()
            }
        }
        if let udpSocket {
            // One thread, sleeping in a blocking recvmmsg (one system call per wait, not a poll and
            // a receive). Measured on 2 cores: a second thread on the socket answered fewer.
            udpSocket.blockReceives(timeout: 0.25)
            threads.enter()
            if !startDetachedThread(name: "tt-tracker-udp", { [self] in self.udpLoop(udpSocket); self.threads.leave() }) {
                threads.leave()
            }
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

    var isStopped: Bool { stopped.load(ordering: .sequentiallyConsistent) }

    func now() -> Double { monotonicSeconds() }

    // MARK: - HTTP

    private let lastExpiry = Mutex<Double>(monotonicSeconds())

    /// Expires silent peers every few seconds, from whichever loop gets there first.
    func expireIfDue() {
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
            // Clients send their request as soon as they connect, and TCP_DEFER_ACCEPT holds the
            // accept until those bytes arrive: most requests are whole here and are answered on
            // this thread, without one of their own (a thread start costs more than the answer).
            var reader = HTTPRequestReader(maxHead: 8192)
            if let chunk = try? connection.receive(max: 8192, deadline: .now) {
                switch chunk.isEmpty ? .finished : feed(chunk, to: &reader, connection) {
                case .request(let line):
                    answer(line, on: connection)
                    connection.close()
                    continue
                case .finished:
                    connection.close()
                    continue
                case .needMore:
                    break
                }
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
            // A thread per slow connection (at most 64): blocked readers must not starve a shared
            // pool, and the request deadline counts from the accept.
            let deadline = Deadline.after(5)
            let started = reader
            let finish: @Sendable () -> Void = { [self] in
                self.readers.withLock { _ = $0.reading.removeValue(forKey: token) }
                connection.close()
                self.connectionSlots.signal()
            }
            if !startDetachedThread(name: "tt-tracker-http", { [self] in
                self.serve(connection, token: token, deadline: deadline, reader: started)
                finish()
            }) { finish() }
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

    /// Where a connection's request stands after a chunk of it.
    private enum ReadOutcome {
        case request(HTTPRequestLine)
        case needMore
        /// Malformed, and already answered so.
        case finished
    }

    private func feed(_ chunk: [UInt8], to reader: inout HTTPRequestReader, _ connection: TCPConnection) -> ReadOutcome {
        do {
            switch try reader.feed(chunk) {
            case .needMore: return .needMore
            case .request(let request): return .request(request)
            }
        } catch .headTooLarge {
            respond(connection, status: "431 Request Header Fields Too Large", body: HTTPTrackerCodec.encodeFailure("request too large"))
        } catch {
            respond(connection, status: "400 Bad Request", body: HTTPTrackerCodec.encodeFailure("malformed request line"))
        }
        return .finished
    }

    /// Reads the rest of a request that did not arrive whole with the connection, then answers it.
    private func serve(_ connection: TCPConnection, token: Int, deadline: Deadline, reader: HTTPRequestReader) {
        var reader = reader
        var line: HTTPRequestLine
        readLoop: while true {
            guard let chunk = try? connection.receive(max: 8192, deadline: deadline), !chunk.isEmpty else { return }
            switch feed(chunk, to: &reader, connection) {
            case .needMore: continue
            case .request(let request): line = request; break readLoop
            case .finished: return
            }
        }
        readers.withLock { _ = $0.reading.removeValue(forKey: token) }
        answer(line, on: connection)
    }

    private func answer(_ line: HTTPRequestLine, on connection: TCPConnection) {
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
        let announcement = TrackerState.Announcement(request)
        let peer = PeerAddress(ipBytes: client.ipBytes, port: request.port)
        let (counts, picked) = state.withLock { $0.answer(announcement, from: peer, now: time) }
        counters.withLock { $0.announces += 1 }
        if options.logsRequests {
            log(entry("http", announcement, client: PeerAddress(ipBytes: client.ipBytes, port: client.port), counts,
                      returned: picked.count))
        }
        let body: [UInt8]
        if request.compact {
            var v4: [UInt8] = [], v6: [UInt8] = []
            for entry in picked where !entry.address.isV6 { entry.address.appendCompact(to: &v4) }
            for entry in picked where entry.address.isV6 { entry.address.appendCompact(to: &v6) }
            body = HTTPTrackerCodec.encodeCompactAnnounce(counts, v4: v4, v6: v6)
        } else {
            var full = counts
            full.peers = picked.map(\.peer)
            body = HTTPTrackerCodec.encodeAnnounce(full, compact: false)
        }
        respond(connection, status: "200 OK", body: body)
    }

    func entry(_ transport: String, _ announcement: TrackerState.Announcement, client: PeerAddress?,
                       _ response: AnnounceResponse, returned: Int) -> LogEntry {
        LogEntry(transport: transport, action: "announce", client: client?.description ?? "?",
                 infoHashes: [announcement.infoHash.bytes], event: announcement.event == .none ? nil : announcement.event.rawValue,
                 port: announcement.port, left: announcement.left, peersReturned: returned, complete: response.complete,
                 incomplete: response.incomplete)
    }

    private func fail(_ connection: TCPConnection, client: SocketAddress, _ reason: String) {
        counters.withLock { $0.errors += 1 }
        log(LogEntry(transport: "http", action: "error", client: client.description, infoHashes: [], error: reason))
        respond(connection, status: "200 OK", body: HTTPTrackerCodec.encodeFailure(reason))
    }

    private func respond(_ connection: TCPConnection, status: String, body: [UInt8]) {
        var message: [UInt8] = []
        message.reserveCapacity(96 + body.count)
        message.append(contentsOf: "HTTP/1.1 ".utf8)
        message.append(contentsOf: status.utf8)
        message.append(contentsOf: "\r\nContent-Type: text/plain\r\nContent-Length: ".utf8)
        HTTPTrackerCodec.append(decimal: body.count, to: &message)
        message.append(contentsOf: "\r\nConnection: close\r\n\r\n".utf8)
        message.append(contentsOf: body)
        // Every answer is followed by the connection's close: the reply goes out with its FIN.
        try? connection.send(message, deadline: .after(5), more: true)
    }
}

extension PeerAddress: CustomStringConvertible {
    /// `1.2.3.4:6881` or `[::1]:6881`, as `SocketAddress` writes it.
    var description: String { isV6 ? "[\(ipText)]:\(port)" : "\(ipText):\(port)" }
}

private extension ArraySlice where Element == UInt8 {
    func hasSuffix(_ text: String) -> Bool {
        let tail = Array(text.utf8)
        return count >= tail.count && suffix(tail.count).elementsEqual(tail)
    }
}
