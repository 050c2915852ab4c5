import Foundation
import Net
import Synchronization

/// A hostile or scripted HTTP tracker for fault tests: each request's target goes to a closure
/// that says how to answer. Listens on 127.0.0.1 on a free port; `stop()` (or deinit) ends it.
public final class FakeHTTPTracker: @unchecked Sendable {
    public enum Reply: Sendable {
        /// These exact bytes (status line included), then close.
        case raw([UInt8])
        /// Accept, read the request, never answer (until stopped).
        case stall
        /// A 200 without length, then body bytes forever (until the client gives up or 256 MiB).
        case endless
        /// Close without a byte.
        case close
        /// A 200 with a Content-Length of this many bytes, all of them sent (e.g. 100 MB).
        case huge(Int)
        /// A chunked 200 whose chunks never end (until the client gives up or 256 MiB).
        case endlessChunked
    }

    public let port: Int
    private let listener: TCPListener
    private let respond: @Sendable (String) -> Reply
    private let stopped = Atomic<Bool>(false)
    private let seen = Mutex<[String]>([])
    private let group = DispatchGroup()

    public init(_ respond: @escaping @Sendable (String) -> Reply) throws {
        listener = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        port = Int(listener.localAddress.port)
        self.respond = respond
        group.enter()
        Thread.detachNewThread { [self] in
            self.acceptLoop()
            self.group.leave()
        }
    }

    public var url: String { "http://127.0.0.1:\(port)/announce" }
    /// Request targets received so far.
    public var requests: [String] { seen.withLock { $0 } }

    /// An HTTP/1.1 response with a Content-Length.
    public static func response(status: String = "200 OK", headers: [String] = [], body: [UInt8]) -> Reply {
        let head = (["HTTP/1.1 \(status)", "Content-Length: \(body.count)"] + headers).joined(separator: "\r\n") + "\r\n\r\n"
        return .raw(Array(head.utf8) + body)
    }

    public static func response(status: String = "200 OK", headers: [String] = [], body: String) -> Reply {
        response(status: status, headers: headers, body: Array(body.utf8))
    }

    private var isStopped: Bool { stopped.load(ordering: .sequentiallyConsistent) }

    private func acceptLoop() {
        while !isStopped {
            guard let connection = try? listener.accept(deadline: .after(0.1)) else { continue }
            group.enter()
            Thread.detachNewThread { [self] in
                self.serve(connection)
                connection.close()
                self.group.leave()
            }
        }
    }

    private func serve(_ connection: TCPConnection) {
        var request: [UInt8] = []
        let deadline = Deadline.after(10)
        while request.firstRange(of: [13, 10, 13, 10]) == nil {
            guard let chunk = try? connection.receive(max: 4096, deadline: deadline), !chunk.isEmpty, request.count < 65536 else { return }
            request += chunk
        }
        let line = String(decoding: request.prefix { $0 != 13 }, as: UTF8.self)
        let target = line.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        seen.withLock { $0.append(target) }
        switch respond(target) {
        case .raw(let bytes):
            try? connection.send(bytes, deadline: .after(5))
        case .stall:
            while !isStopped { usleep(20_000) }
        case .endless:
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 65536)
            guard (try? connection.send(Array("HTTP/1.1 200 OK\r\n\r\n".utf8), deadline: .after(5))) != nil else { return }
            for _ in 0..<4096 where !isStopped {
                if (try? connection.send(chunk, deadline: .after(5))) == nil { return }
            }
        case .close:
            return
        case .huge(let size):
            let head = "HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n"
            guard (try? connection.send(Array(head.utf8), deadline: .after(5))) != nil else { return }
            let chunk = [UInt8](repeating: UInt8(ascii: "d"), count: 65536)
            var sent = 0
            while sent < size && !isStopped {
                let part = min(chunk.count, size - sent)
                if (try? connection.send(Array(chunk[0..<part]), deadline: .after(5))) == nil { return }
                sent += part
            }
        case .endlessChunked:
            let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            guard (try? connection.send(Array(head.utf8), deadline: .after(5))) != nil else { return }
            let chunk = Array("ffff\r\n".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 0xFFFF) + Array("\r\n".utf8)
            for _ in 0..<4096 where !isStopped {
                if (try? connection.send(chunk, deadline: .after(5))) == nil { return }
            }
        }
    }

    public func stop() {
        guard !stopped.exchange(true, ordering: .sequentiallyConsistent) else { return }
        group.wait()
        listener.close()
    }

    deinit { stop() }
}

/// A scripted UDP tracker: every datagram goes to a closure with its index; the datagrams it
/// returns are sent back to the sender in order (none: the packet is dropped).
public final class FakeUDPTracker: @unchecked Sendable {
    public let port: Int
    public let host: String
    private let socket: UDPSocket
    private let respond: @Sendable ([UInt8], Int) -> [[UInt8]]
    private let stopped = Atomic<Bool>(false)
    private let received = Mutex<[[UInt8]]>([])
    private let group = DispatchGroup()

    public init(host: String = "127.0.0.1", _ respond: @escaping @Sendable (_ packet: [UInt8], _ index: Int) -> [[UInt8]]) throws {
        let local = SocketAddress(ip: host, port: 0)!
        socket = try UDPSocket(family: local.family, bind: local)
        port = Int(socket.localAddress!.port)
        self.host = host
        self.respond = respond
        group.enter()
        Thread.detachNewThread { [self] in
            self.loop()
            self.group.leave()
        }
    }

    public var url: String { host.contains(":") ? "udp://[\(host)]:\(port)" : "udp://\(host):\(port)" }
    /// Every datagram received so far.
    public var packets: [[UInt8]] { received.withLock { $0 } }

    private func loop() {
        while !stopped.load(ordering: .sequentiallyConsistent) {
            guard let (bytes, from) = try? socket.receive(deadline: .after(0.1)) else { continue }
            let index = received.withLock { $0.append(bytes); return $0.count - 1 }
            for reply in respond(bytes, index) { try? socket.send(reply, to: from) }
        }
    }

    public func stop() {
        guard !stopped.exchange(true, ordering: .sequentiallyConsistent) else { return }
        group.wait()
        socket.close()
    }

    deinit { stop() }
}
