import Net

/// Announces and scrapes over HTTP(S) and UDP: the entry point the commands and the download engine use.
///
/// Every call is bounded by `Options.timeout` (UDP retransmissions included) and, for HTTP,
/// by the body cap and redirect limit. Errors name the tracker URL.
public final class TrackerClient: Sendable {
    public struct Options: Sendable {
        /// Seconds for one whole announce or scrape.
        public var timeout: Double = 15
        public var maxBodySize: Int = 2 << 20
        public var maxRedirects: Int = 5
        /// BEP 15's 15 s before the first UDP retransmission (doubling after each).
        public var udpRetransmitBase: Double = 15
        /// Send requests from this local IP (trackers record the source address as the peer's);
        /// nil or an unspecified address lets the system choose.
        public var localIP: String?
        /// PEM certificates to trust for `https://` trackers instead of the system's store.
        public var caFile: String?
        public init() {}
    }

    public let options: Options
    private let udp: UDPTransport

    public init(options: Options = Options()) {
        self.options = options
        self.udp = UDPTransport(retransmitBase: options.udpRetransmitBase, localIP: options.localIP)
    }

    public func announce(_ url: String, _ request: AnnounceRequest) throws(TrackerError) -> AnnounceResponse {
        let tracker = try TrackerURL(url)
        let deadline = Deadline.after(options.timeout)
        switch tracker.scheme {
        case .udp:
            return try udp.announce(tracker, request, deadline: deadline, name: url)
        case .http, .https:
            let target = HTTPTrackerCodec.announceTarget(tracker, request)
            let response = try HTTPTransport.get(tracker, target: target, deadline: deadline, limits: limits, name: url)
            return try HTTPTrackerCodec.parseAnnounce(try checkedBody(response, name: url), tracker: url)
        }
    }

    /// Scrapes several info hashes in one request (UDP splits batches of 74).
    public func scrape(_ url: String, infoHashes: [[UInt8]]) throws(TrackerError) -> [ScrapeEntry] {
        let tracker = try TrackerURL(url)
        let deadline = Deadline.after(options.timeout)
        guard let scrapeURL = tracker.scrapeURL else {
            throw .badURL(url, "no scrape URL: the path's last part does not start with 'announce' (BEP 48)")
        }
        switch tracker.scheme {
        case .udp:
            return try udp.scrape(tracker, infoHashes: infoHashes, deadline: deadline, name: url)
        case .http, .https:
            let target = HTTPTrackerCodec.scrapeTarget(scrapeURL, infoHashes)
            let response = try HTTPTransport.get(scrapeURL, target: target, deadline: deadline, limits: limits, name: url)
            return try HTTPTrackerCodec.parseScrape(try checkedBody(response, name: url), tracker: url)
        }
    }

    private var limits: HTTPTransport.Limits {
        HTTPTransport.Limits(maxBody: options.maxBodySize, maxRedirects: options.maxRedirects, localIP: options.localIP, caFile: options.caFile)
    }

    /// A non-200 answer is still parsed when it is bencode (trackers send failure reasons with 4xx);
    /// otherwise it is an error quoting the status and body.
    private func checkedBody(_ response: HTTPResponse, name: String) throws(TrackerError) -> [UInt8] {
        if response.status == 200 || response.body.first == UInt8(ascii: "d") { return response.body }
        throw .badResponse(name, "HTTP \(response.status) \(response.reason): \(TrackerError.excerpt(response.body))")
    }
}

/// BEP 12 tiers: trackers of a tier are shuffled once, tiers are tried in order, trackers in a
/// tier in order, and one that answers moves to the front of its tier.
public struct TrackerTiers: Sendable {
    public private(set) var tiers: [[String]]

    public init(_ tiers: [[String]], shuffle: Bool = true) {
        self.tiers = tiers.map { shuffle ? $0.shuffled() : $0 }.filter { !$0.isEmpty }
    }

    public var all: [String] { tiers.flatMap { $0 } }

    /// Tries trackers in BEP 12 order until one succeeds; returns it and its answer, or every error.
    public mutating func first<T>(_ attempt: (String) throws(TrackerError) -> T) -> Result<(tracker: String, value: T), TrackerErrors> {
        var errors: [TrackerError] = []
        for tierIndex in tiers.indices {
            for (index, url) in tiers[tierIndex].enumerated() {
                do {
                    let value = try attempt(url)
                    tiers[tierIndex].remove(at: index)
                    tiers[tierIndex].insert(url, at: 0)
                    return .success((url, value))
                } catch {
                    errors.append(error)
                }
            }
        }
        return .failure(TrackerErrors(errors: errors))
    }
}

/// Every tracker failed; the errors in the order tried.
public struct TrackerErrors: Error, Sendable {
    public var errors: [TrackerError]
}
