import Hashing
import Metainfo
import Net
import Storage
import Tracker

/// Fetches pieces from one BEP 19 web seed with HTTP range requests over the project's HTTP client,
/// one request per file a piece touches, and checks each piece against its SHA-1.
public struct WebSeedClient: Sendable {
    public let plan: WebSeedPlan
    public let pieceHashes: [UInt8]
    /// PEM certificates to trust for an `https://` web seed instead of the system's.
    public let caFile: String?

    /// A ranged GET as it went, for traces.
    public struct Request: Sendable, Equatable {
        public var url: String
        public var range: String
        public var status: Int
        public var bytes: Int
        public var seconds: Double
    }

    /// A fetched piece: its bytes whether or not they hash right, and what was asked for.
    public struct Piece: Sendable {
        public var bytes: [UInt8]
        public var hashMatches: Bool
        public var sha1: [UInt8]
        public var requests: [Request]
    }

    public init(url: String, torrent: Torrent, layout: FileLayout, caFile: String? = nil) throws(WebSeedError) {
        plan = try WebSeedPlan(base: url, layout: layout)
        pieceHashes = torrent.pieceHashes
        self.caFile = caFile
    }

    /// Above this a server that ignores `Range` and sends the whole file is an error, not a slice.
    static let wholeFileCap = 8 << 20

    /// The bytes of `piece`, every request finished before `deadline`; `onRequest` sees each as it completes.
    public func fetch(_ piece: PieceIndex, deadline: Deadline, onRequest: (Request) -> Void = { _ in }) throws(WebSeedError) -> Piece {
        var bytes = [UInt8](repeating: 0, count: plan.layout.length(of: piece))
        var requests: [Request] = []
        for part in plan.parts(of: piece) {
            guard let url = part.url else { continue }  // pad file: zeros
            let started = Deadline.now.seconds
            let response: HTTPResponse
            do {
                response = try HTTPClient.get(url, headers: [("Range", part.rangeHeader)], deadline: deadline,
                                              maxBody: max(part.length, Int(min(part.fileLength, Int64(Self.wholeFileCap)))),
                                              caFile: caFile)
            } catch {
                throw Self.mapped(error, url: url)
            }
            let body = try Self.slice(response, part: part, url: url)
            bytes.replaceSubrange(part.pieceOffset..<part.pieceOffset + part.length, with: body)
            let request = Request(url: url, range: part.rangeHeader, status: response.status, bytes: response.body.count,
                                  seconds: Deadline.now.seconds - started)
            requests.append(request)
            onRequest(request)
        }
        let digest = SHA1.hash(bytes)
        let start = piece.value * 20
        let expected = pieceHashes.count >= start + 20 ? Array(pieceHashes[start..<start + 20]) : []
        return Piece(bytes: bytes, hashMatches: digest == expected, sha1: digest, requests: requests)
    }

    /// The part's bytes from a 206 answer (Content-Range checked), or cut from a 200 carrying the whole file.
    static func slice(_ response: HTTPResponse, part: WebSeedPlan.Part, url: String) throws(WebSeedError) -> ArraySlice<UInt8> {
        switch response.status {
        case 206:
            let wanted = "bytes \(part.fileOffset)-\(part.fileOffset + Int64(part.length) - 1)/"
            if let range = response.header("content-range"), !range.hasPrefix(wanted) {
                throw .badResponse(url, "asked for \(part.rangeHeader), got Content-Range '\(range)'")
            }
            guard response.body.count == part.length else {
                throw .badResponse(url, "\(response.body.count) bytes for a range of \(part.length)")
            }
            return response.body[...]
        case 200:
            // A server without range support sends the whole file; fine for small files.
            guard Int64(response.body.count) == part.fileLength else {
                throw .badResponse(url, "ignored the Range header and sent \(response.body.count) bytes of a \(part.fileLength)-byte file")
            }
            let from = Int(part.fileOffset)
            return response.body[from..<from + part.length]
        case 416:
            throw .badResponse(url, "416 Range Not Satisfiable for \(part.rangeHeader): the file there is shorter than the torrent says")
        default:
            throw .status(url, response.status, response.reason)
        }
    }

    static func mapped(_ error: TrackerError, url: String) -> WebSeedError {
        switch error {
        case .badURL(_, let why): return .badURL(url, why)
        case .unreachable(_, let why): return .unreachable(url, why)
        case .timeout(_, let why): return .timeout(url, why)
        case .failure(_, let why), .badResponse(_, let why): return .badResponse(url, why)
        case .tooLarge(_, let cap): return .badResponse(url, "ignored the Range header: a body over \(cap) bytes")
        }
    }
}
