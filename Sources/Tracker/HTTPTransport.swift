import Metainfo
import Net

/// A small HTTP/1.1 GET client over `Net`'s TCP connection, for `http://` and `https://` (through
/// `TLSSession`) trackers: bounded redirects, a body cap and one deadline for the whole exchange.
enum HTTPTransport {
    struct Limits: Sendable {
        var maxBody: Int
        var maxRedirects: Int
        /// Send from this local IP (so a tracker records the address a client listens on).
        var localIP: String? = nil
        /// PEM certificates to trust for `https://` instead of the system's store.
        var caFile: String? = nil
    }

    /// GETs `target` from `url`'s host, following redirects (between `http` and `https` too).
    static func get(_ url: TrackerURL, target: String, deadline: Deadline, limits: Limits, name: String) throws(TrackerError) -> HTTPResponse {
        var current = url
        var currentTarget = target
        var redirects = 0
        while true {
            if current.scheme == .udp { throw .badURL(name, "an HTTP redirect to a udp:// URL") }
            let response = try fetch(current, target: currentTarget, deadline: deadline, limits: limits, name: name)
            guard [301, 302, 303, 307, 308].contains(response.status), let location = response.header("location") else {
                return response
            }
            redirects += 1
            guard redirects <= limits.maxRedirects else {
                throw .badResponse(name, "more than \(limits.maxRedirects) redirects (last to \(location))")
            }
            current = try current.resolving(location)
            currentTarget = current.target
        }
    }

    static func fetch(_ url: TrackerURL, target: String, deadline: Deadline, limits: Limits, name: String) throws(TrackerError) -> HTTPResponse {
        let request = "GET \(target) HTTP/1.1\r\nHost: \(url.hostHeader)\r\nUser-Agent: \(ClientIdentity.userAgent)\r\n"
            + "Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
        let connection: TCPConnection
        do {
            connection = try TCPConnection.connect(host: url.host, port: url.port, timeout: max(0.001, deadline.remaining),
                                                   fromIP: limits.localIP)
        } catch {
            throw TrackerError(net: error, name: name)
        }
        defer { connection.close() }
        let tls = url.scheme == .https
            ? try TLSSession(over: connection, host: url.host, caFile: limits.caFile, deadline: deadline, name: name) : nil
        var parser = HTTPResponseParser(maxBody: limits.maxBody)
        do {
            if let tls { try tls.send(Array(request.utf8), deadline: deadline) } else { try connection.send(Array(request.utf8), deadline: deadline) }
            while true {
                let chunk = try tls?.receive(max: 65536, deadline: deadline) ?? connection.receive(max: 65536, deadline: deadline)
                if case .complete(let response) = try parser.feed(chunk, endOfStream: chunk.isEmpty) { return response }
            }
        } catch let error as TrackerError {
            throw error
        } catch let error as NetError {
            throw TrackerError(net: error, name: name)
        } catch let error as HTTPResponseParser.ParseError {
            throw TrackerError(http: error, name: name)
        } catch {
            throw .badResponse(name, "\(error)")
        }
    }
}

extension TrackerError {
    init(net error: NetError, name: String) {
        switch error {
        case .refused, .unreachable, .dns, .badAddress, .system: self = .unreachable(name, error.description)
        case .timeout: self = .timeout(name, error.description)
        case .closed: self = .badResponse(name, "the connection closed before a complete response")
        }
    }

    init(http error: HTTPResponseParser.ParseError, name: String) {
        switch error {
        case .notHTTP(let excerpt): self = .badResponse(name, "not an HTTP response: \(TrackerError.excerpt(excerpt))")
        case .headersTooLarge: self = .badResponse(name, "HTTP headers larger than 16 KiB")
        case .bodyTooLarge(let cap): self = .tooLarge(name, cap)
        case .badChunk: self = .badResponse(name, "malformed chunked encoding")
        case .truncated: self = .badResponse(name, "the connection closed before a complete response")
        }
    }
}
