import Bencode
import Foundation
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
    public func fetch(from peers: [SocketAddress]) -> Result<[UInt8], MetadataError> {
        var failures: [String] = []
        for peer in peers {
            do throws(MetadataError) {
                return .success(try fetch(from: peer))
            } catch {
                failures.append("\(peer): \(error)")
            }
        }
        return .failure(.noPeerHadIt(failures))
    }

    /// Our extension id for ut_metadata messages the peer sends us.
    static let localMetadataID = 3

    func fetch(from address: SocketAddress) throws(MetadataError) -> [UInt8] {
        let deadline = Deadline.after(timeout)
        let connection: TCPConnection
        do { connection = try TCPConnection.connect(to: address, timeout: min(timeout, 10)) } catch { throw .peer("\(error)") }
        defer { connection.close() }
        var decoder = FrameDecoder(expectingHandshake: true)
        func send(_ bytes: [UInt8]) throws(MetadataError) {
            do { try connection.send(bytes, deadline: deadline) } catch { throw .peer("\(error)") }
        }
        func next() throws(MetadataError) -> PeerFrame {
            while true {
                do {
                    if let frame = try decoder.next() { return frame }
                } catch {
                    throw .peer(error.description)
                }
                let bytes: [UInt8]
                do { bytes = try connection.receive(max: 65536, deadline: deadline) } catch { throw .peer("\(error)") }
                if bytes.isEmpty { throw .peer("closed the connection") }
                decoder.append(bytes)
            }
        }
        let reserved = ReservedBits([ReservedBits.extensionProtocol, ReservedBits.fast])
        try send(Handshake(reserved: reserved, infoHash: infoHashes.wire, peerID: peerID).encoded()
                 + ExtensionHandshake(messages: ["ut_metadata": Self.localMetadataID], version: clientVersion).message.encoded())
        guard case .handshake(let theirs) = try next() else { throw .peer("no handshake") }
        guard theirs.infoHash == infoHashes.wire else { throw .peer("answered for another torrent") }
        guard theirs.reserved.supportsExtensions else { throw .peer("does not support the extension protocol (BEP 10)") }
        var remoteID: Int?
        var size = 0
        var pieces: [[UInt8]?] = []
        var received = 0
        while true {
            guard case .message(let message, _) = try next() else { continue }
            guard case .extended(let id, let payload) = message else { continue }
            if id == 0 {
                let handshake: ExtensionHandshake
                do { handshake = try ExtensionHandshake(decoding: payload) } catch { throw .peer(error.description) }
                guard let metadataID = handshake.messages["ut_metadata"], metadataID > 0 else {
                    throw .peer("does not offer ut_metadata (BEP 9)")
                }
                guard let total = handshake.metadataSize, total > 0, total <= MetadataMessage.maxMetadataSize else {
                    throw .peer("announced no usable metadata_size")
                }
                remoteID = metadataID
                size = total
                pieces = Array(repeating: nil, count: (total + MetadataMessage.pieceSize - 1) / MetadataMessage.pieceSize)
                var out: [UInt8] = []
                for piece in pieces.indices {
                    PeerMessage.extended(id: UInt8(metadataID), payload: MetadataMessage.request(piece: piece).encoded()).encode(into: &out)
                }
                try send(out)
                continue
            }
            guard id == UInt8(Self.localMetadataID), remoteID != nil else { continue }
            let metadata: MetadataMessage
            do { metadata = try MetadataMessage(decoding: payload) } catch { throw .peer(error.description) }
            switch metadata {
            case .reject(let piece): throw .peer("rejected metadata piece \(piece)")
            case .request: continue  // we have nothing to give yet
            case .data(let piece, let total, let bytes):
                guard total == size, piece < pieces.count, pieces[piece] == nil else { throw .peer("sent metadata that does not fit") }
                let expected = piece == pieces.count - 1 ? size - piece * MetadataMessage.pieceSize : MetadataMessage.pieceSize
                guard bytes.count == expected else { throw .peer("sent metadata piece \(piece) of \(bytes.count) bytes, expected \(expected)") }
                pieces[piece] = bytes
                received += 1
                if received == pieces.count {
                    let info = pieces.flatMap { $0! }
                    let matches = infoHashes.v1.map { SHA1.hash(info) == $0 } ?? infoHashes.v2.map { SHA256.hash(info) == $0 } ?? false
                    guard matches else { throw .peer("sent metadata whose hash is not the magnet's info hash") }
                    return info
                }
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

public enum MetadataError: Error, Sendable, CustomStringConvertible {
    case peer(String)
    case noPeerHadIt([String])

    public var description: String {
        switch self {
        case .peer(let why): return why
        case .noPeerHadIt(let failures):
            return failures.isEmpty ? "no peer to ask for the metadata" : "no peer gave the metadata: " + failures.prefix(3).joined(separator: "; ")
        }
    }
}
