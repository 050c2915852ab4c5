import Bencode
import FoundationEssentials
import Glibc
import Hashing
import Metainfo
import Net
import PeerWire
import Tracker

/// Fetches a torrent's info dictionary from peers (BEP 9) for a magnet link, trying peers one at a
/// time, and accepts it only when its SHA-1 (v1) or SHA-256 (v2) is the magnet's info hash.
public struct MetadataFetcher: Sendable {
    public var infoHashes: InfoHashes
    public var peerID: PeerID
    public var clientVersion: String
    public var timeout: Double

    public init(infoHashes: InfoHashes, peerID: PeerID, clientVersion: String, timeout: Double = 15) {
        self.infoHashes = infoHashes
        self.peerID = peerID
        self.clientVersion = clientVersion
        self.timeout = timeout
    }

    /// The first verified info dictionary from `peers`; the errors of every peer tried otherwise.
    public func fetch(from peers: [SocketAddress]) -> Result<[UInt8], SwarmError> {
        var failures: [String] = []
        for peer in peers {
            do throws(SwarmError) {
                return .success(try fetch(from: peer))
            } catch {
                failures.append(error.description.hasPrefix("peer ") ? error.description : "\(peer): \(error)")
            }
        }
        return .failure(.noMetadata(failures))
    }

    func fetch(from address: SocketAddress) throws(SwarmError) -> [UInt8] {
        let deadline = monotonicSeconds() + timeout
        var configuration = PeerSession.Configuration(infoHash: infoHashes.wire, peerID: peerID)
        configuration.clientVersion = clientVersion
        configuration.wantsMetadata = true
        let link = try PeerLink(connecting: address, configuration: configuration, timeout: min(timeout, 10))
        defer { link.close() }
        link.open()
        func fail(_ why: String) -> SwarmError { .metadata(peer: address.description, why) }
        var assembler: MetadataAssembler?
        while true {
            switch try link.next(deadline: deadline, waitingFor: "the metadata") {
            case .session(.handshake(let theirs)):
                guard theirs.reserved.supportsExtensions else { throw fail("does not support the extension protocol (BEP 10)") }
            case .session(.extensionHandshake(let handshake)):
                guard link.session.peerSupports(PeerSession.metadataExtension) else { throw fail("does not offer ut_metadata (BEP 9)") }
                guard let started = MetadataAssembler(metadataSize: handshake.metadataSize) else {
                    throw fail("announced no usable metadata_size")
                }
                assembler = started
                link.update { session in
                    for request in started.requests { session.sendExtension(PeerSession.metadataExtension, payload: request.encoded()) }
                }
            case .session(.metadata(.reject(let piece))):
                throw fail("rejected metadata piece \(piece)")
            case .session(.metadata(.data(let piece, let total, let bytes))):
                guard assembler != nil else { continue }
                do { try assembler!.receive(piece: piece, totalSize: total, bytes: bytes) } catch { throw fail(error.description) }
                if let info = assembler!.bytes {
                    let matches = infoHashes.v1.map { SHA1.hash(info) == $0 } ?? infoHashes.v2.map { SHA256.hash(info) == $0 } ?? false
                    guard matches else { throw fail("sent metadata whose hash is not the magnet's info hash") }
                    return info
                }
            default:
                continue
            }
        }
    }
}

extension MetadataFetcher {
    /// Peers for a magnet link: those given, the link's `x.pe`, and what each tracker returns
    /// (tracker failures go to `log`; the others may still have peers).
    public static func candidatePeers(for magnet: MagnetLink, given: [SocketAddress], trackers: [String],
                                      log: (String) -> Void) -> [SocketAddress] {
        var peers = given
        for address in magnet.peers.compactMap({ try? SocketAddress.resolve($0) }) where !peers.contains(address) { peers.append(address) }
        var options = TrackerClient.Options()
        options.timeout = 10
        let client = TrackerClient(options: options)
        let request = AnnounceRequest(infoHash: magnet.infoHashes.wire, port: 6881, left: 1, event: .none, numWant: 50)
        for url in trackers {
            do {
                for peer in try client.announce(url, request).peers {
                    if let address = SocketAddress(ip: peer.ip, port: peer.port), !peers.contains(address) { peers.append(address) }
                }
            } catch {
                log("tracker \(url): \(error)")
            }
        }
        return peers
    }

    /// A .torrent around a fetched info dictionary, whose bytes are kept as they came (they are the info hash).
    public static func torrentBytes(info: [UInt8], trackers: [String]) -> [UInt8] {
        var out = Array("d".utf8)
        if let first = trackers.first {
            BencodeValue.string("announce").encode(into: &out)
            BencodeValue.string(first).encode(into: &out)
        }
        if trackers.count > 1 {
            BencodeValue.string("announce-list").encode(into: &out)
            BencodeValue.list(trackers.map { .list([.string($0)]) }).encode(into: &out)
        }
        BencodeValue.string("info").encode(into: &out)
        out += info
        out += Array("e".utf8)
        return out
    }
}
