import Foundation
import Net
import PeerWire

/// A hostile or scripted peer for fault tests: accepts one connection on 127.0.0.1 and runs
/// `script` with it on a background thread. Scripts use blocking calls with deadlines.
public final class FakePeer: @unchecked Sendable {
    public let listener: TCPListener
    public var port: Int { Int(listener.localAddress.port) }
    public var address: String { listener.localAddress.description }
    private let finished = DispatchSemaphore(value: 0)

    public init(script: @escaping @Sendable (TCPConnection) throws -> Void) throws {
        listener = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        let listener = self.listener
        let finished = self.finished
        Thread.detachNewThread {
            defer { finished.signal() }
            guard let connection = try? listener.accept(deadline: .after(30)) else { return }
            try? script(connection)
            connection.close()
        }
    }

    /// Waits for the script to end (bounded), then closes the listener.
    public func stop() {
        _ = finished.wait(timeout: .now() + 10)
        listener.close()
    }

    /// Reads the client's 68-byte handshake.
    public static func readHandshake(_ connection: TCPConnection) throws -> Handshake {
        try Handshake(decoding: connection.receive(exactly: 68, deadline: .after(10)))
    }

    /// A handshake from a fake client (`-FK0001-…`, extension and fast bits as asked).
    public static func handshake(infoHash: [UInt8], extensions: Bool = false, fast: Bool = false,
                                 peerID: [UInt8] = Array("-LT2080-fakefakefake".utf8)) -> [UInt8] {
        var flags: [ReservedBits.Flag] = []
        if extensions { flags.append(ReservedBits.extensionProtocol) }
        if fast { flags.append(ReservedBits.fast) }
        return Handshake(reserved: ReservedBits(flags), infoHash: infoHash, peerID: PeerID(bytes: peerID)).encoded()
    }

    /// Reads messages until `predicate` matches one (or the deadline passes).
    public static func waitFor(_ connection: TCPConnection, _ predicate: (PeerMessage) -> Bool) throws -> PeerMessage? {
        var decoder = FrameDecoder(expectingHandshake: false)
        let deadline = Deadline.after(10)
        while true {
            while case .message(let message, _)? = try decoder.next() {
                if predicate(message) { return message }
            }
            let bytes = try connection.receive(max: 65536, deadline: deadline)
            if bytes.isEmpty { return nil }
            decoder.append(bytes)
        }
    }

    /// Reads messages until the client closes or goes quiet; returns the requests it sent.
    public static func collectRequests(_ connection: TCPConnection, count: Int) throws -> [BlockRequest] {
        var decoder = FrameDecoder(expectingHandshake: false)
        var requests: [BlockRequest] = []
        let deadline = Deadline.after(10)
        while requests.count < count {
            while case .message(let message, _)? = try decoder.next() {
                if case .request(let request) = message { requests.append(request) }
            }
            if requests.count >= count { break }
            let bytes = try connection.receive(max: 65536, deadline: deadline)
            if bytes.isEmpty { break }
            decoder.append(bytes)
        }
        return requests
    }
}

/// A minimal HTTP tracker that answers every announce with a fixed compact peer list
/// (for aria2, which finds peers only through trackers).
public final class FakePeerTracker: @unchecked Sendable {
    public let listener: TCPListener
    private let stopped = NSLock()
    private var isStopped = false
    /// Signalled when the accept thread has left its loop.
    private let acceptEnded = DispatchSemaphore(value: 0)
    public var url: String { "http://\(listener.localAddress)/announce" }

    public init(peers: [(ip: [UInt8], port: UInt16)]) throws {
        listener = try TCPListener(bind: SocketAddress(ip: "127.0.0.1", port: 0)!)
        var compact: [UInt8] = []
        for peer in peers { compact += peer.ip + [UInt8(peer.port >> 8), UInt8(peer.port & 0xFF)] }
        var body = Array("d8:intervali30e5:peers\(compact.count):".utf8) + compact + Array("e".utf8)
        let response = Array("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        body = []
        let listener = self.listener
        let acceptEnded = self.acceptEnded
        Thread.detachNewThread { [weak self] in
            defer { acceptEnded.signal() }
            while let self, !self.stopped.withLock({ self.isStopped }) {
                guard let connection = try? listener.accept(deadline: .after(0.2)) else { continue }
                var request: [UInt8] = []
                let deadline = Deadline.after(5)
                while !request.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) && request.count < 8192 {
                    guard let chunk = try? connection.receive(max: 4096, deadline: deadline), !chunk.isEmpty else { break }
                    request += chunk
                }
                try? connection.send(response, deadline: .after(5))
                connection.close()
            }
        }
    }

    /// Ends the accept loop and waits for it (bounded) before closing the listener under it.
    public func stop() {
        stopped.withLock { isStopped = true }
        _ = acceptEnded.wait(timeout: .now() + 10)
        listener.close()
    }
}
