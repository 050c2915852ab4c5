import Net

/// The project's one HTTP/1.1 client (the tracker transports), for other stages that GET over HTTP:
/// web seeds (BEP 19) fetch byte ranges with it.
public enum HTTPClient {
    /// GETs `url` with extra request headers, following up to `maxRedirects` redirects, the whole
    /// exchange before `deadline`; bodies over `maxBody` bytes are refused. Errors name `url`.
    /// `https://` goes through `TLSSession` (the system's trust store, or `caFile`).
    public static func get(_ url: String, headers: [(String, String)] = [], deadline: Deadline, maxBody: Int,
                           maxRedirects: Int = 5, caFile: String? = nil) throws(TrackerError) -> HTTPResponse {
        let parsed = try TrackerURL(url)
        guard parsed.scheme != .udp else { throw .badURL(url, "not an http:// or https:// URL") }
        var limits = HTTPTransport.Limits(maxBody: maxBody, maxRedirects: maxRedirects)
        limits.extraHeaders = headers
        limits.caFile = caFile
        return try HTTPTransport.get(parsed, target: parsed.target, deadline: deadline, limits: limits, name: url)
    }
}
