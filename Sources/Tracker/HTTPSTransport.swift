import Foundation
import Metainfo
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Net

/// `https://` trackers through FoundationNetworking's URLSession (libcurl does TLS); plain
/// `http://` never comes here. Same contract as `HTTPTransport`: deadline, body cap, bounded redirects.
enum HTTPSTransport {
    static func get(_ url: TrackerURL, target: String, deadline: Deadline, limits: HTTPTransport.Limits, name: String) throws(TrackerError) -> HTTPResponse {
        // Build from the exact percent-encoded target so raw info-hash bytes survive.
        var components = URLComponents()
        components.scheme = "https"
        components.host = url.host
        if url.port != 443 { components.port = Int(url.port) }
        let queryStart = target.firstIndex(of: "?")
        components.percentEncodedPath = String(target[..<(queryStart ?? target.endIndex)])
        if let queryStart { components.percentEncodedQuery = String(target[target.index(after: queryStart)...]) }
        guard let requestURL = components.url else { throw .badURL(name, "cannot build an https URL") }
        var request = URLRequest(url: requestURL)
        request.timeoutInterval = max(0.5, deadline.remaining)
        request.setValue(ClientIdentity.userAgent, forHTTPHeaderField: "User-Agent")
        for (name, value) in limits.extraHeaders { request.setValue(value, forHTTPHeaderField: name) }
        let delegate = Delegate(limits: limits)
        let session = URLSession(configuration: .ephemeral, delegate: delegate, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        let task = session.dataTask(with: request)
        task.resume()
        let finished = delegate.done.wait(timeout: .now() + max(0.001, deadline.remaining))
        guard finished == .success else {
            task.cancel()
            throw .timeout(name, "no complete HTTPS response in time")
        }
        let (response, body, error, overflow) = delegate.result()
        if overflow { throw .tooLarge(name, limits.maxBody) }
        if let error {
            let nsError = error as NSError
            if nsError.code == NSURLErrorTimedOut { throw .timeout(name, nsError.localizedDescription) }
            if nsError.code == NSURLErrorHTTPTooManyRedirects { throw .badResponse(name, "more than \(limits.maxRedirects) redirects") }
            throw .unreachable(name, nsError.localizedDescription)
        }
        guard let http = response as? HTTPURLResponse else { throw .badResponse(name, "no HTTP response") }
        let headers = http.allHeaderFields.compactMap { key, value -> (String, String)? in
            guard let key = key as? String else { return nil }
            return (key.lowercased(), "\(value)")
        }
        return HTTPResponse(status: http.statusCode, reason: HTTPURLResponse.localizedString(forStatusCode: http.statusCode),
                            headers: headers, body: body)
    }

    final class Delegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        let limits: HTTPTransport.Limits
        let done = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var body: [UInt8] = []
        private var response: URLResponse?
        private var error: Error?
        private var overflow = false
        private var redirects = 0

        init(limits: HTTPTransport.Limits) { self.limits = limits }

        func result() -> (URLResponse?, [UInt8], Error?, Bool) {
            lock.withLock { (response, body, error, overflow) }
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            lock.withLock { self.response = response }
            completionHandler(.allow)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            let over: Bool = lock.withLock {
                body.append(contentsOf: data)
                if body.count > limits.maxBody { overflow = true; body = [] }
                return overflow
            }
            if over { dataTask.cancel() }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
            let allowed: Bool = lock.withLock {
                redirects += 1
                return redirects <= limits.maxRedirects
            }
            completionHandler(allowed ? request : nil)
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            lock.withLock { if !overflow { self.error = error } }
            done.signal()
        }
    }
}
