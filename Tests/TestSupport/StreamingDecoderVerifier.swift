import PeerWire
import Testing
import Tracker

/// A decoder that reads a byte stream in whatever pieces the socket hands over.
public protocol StreamingDecoder {
    associatedtype Output: Equatable
    init()
    /// Adds bytes and appends every output they complete (before any error is thrown).
    mutating func feed(_ bytes: ArraySlice<UInt8>, into outputs: inout [Output]) throws
    /// The stream ended: the outputs that completes, and how many bytes are left undecoded.
    mutating func finish() throws -> (outputs: [Output], leftover: Int)
}

/// Checks a streaming decoder the way swift-nio's `ByteToMessageDecoderVerifier` does: each
/// input fed whole, at every split point, byte by byte, and in shuffled chunkings must give the
/// same outputs (or the same error) — and, when it decodes, no leftover bytes.
public enum StreamingDecoderVerifier {
    /// What one feeding produced: the outputs, then the error that ended it, if any.
    public struct Outcome<Output: Equatable>: Equatable {
        public var outputs: [Output]
        public var error: String?
        public var leftover: Int
    }

    /// Verifies every input; `expected`, when given, is what each input must decode to.
    /// Returns the outcome of the whole feeding for further checks.
    @discardableResult
    public static func verify<D: StreamingDecoder>(_ decoder: D.Type, input: [UInt8], expected: [D.Output]? = nil,
                                                   shuffles: Int = 20, seed: UInt64 = 0x5EED,
                                                   sourceLocation: SourceLocation = #_sourceLocation) -> Outcome<D.Output> {
        let whole = run(D.self, input, [input.count])
        if let expected {
            #expect(whole.outputs == expected, "whole input", sourceLocation: sourceLocation)
            #expect(whole.error == nil, "whole input: \(whole.error ?? "")", sourceLocation: sourceLocation)
            #expect(whole.leftover == 0, "whole input left \(whole.leftover) bytes", sourceLocation: sourceLocation)
        }
        var chunkings: [[Int]] = [Array(repeating: 1, count: input.count)]
        // Every split point (a sample of them in long inputs: each costs a pass over the input).
        for split in stride(from: 0, through: input.count, by: max(1, input.count / 512)) {
            chunkings.append([split, input.count - split])
        }
        var random = SplitMix(seed: seed)
        for _ in 0..<shuffles {
            var cuts: [Int] = []
            var left = input.count
            while left > 0 {
                let size = min(left, 1 + Int(random.next() % UInt64(max(1, input.count / 3))))
                cuts.append(size)
                left -= size
            }
            chunkings.append(cuts)
        }
        for chunks in chunkings {
            let outcome = run(D.self, input, chunks)
            #expect(outcome == whole, "chunks \(chunks.count <= 8 ? "\(chunks)" : "\(chunks.count) of them") differ from the whole input",
                    sourceLocation: sourceLocation)
            if outcome != whole { break }
        }
        return whole
    }

    static func run<D: StreamingDecoder>(_: D.Type, _ input: [UInt8], _ chunks: [Int]) -> Outcome<D.Output> {
        var decoder = D()
        var outputs: [D.Output] = []
        var start = 0
        do {
            for size in chunks {
                try decoder.feed(input[start..<(start + size)], into: &outputs)
                start += size
            }
            let end = try decoder.finish()
            return Outcome(outputs: outputs + end.outputs, error: nil, leftover: end.leftover)
        } catch {
            // The case, not the payload: how much an error quotes may depend on the cut.
            return Outcome(outputs: outputs, error: Mirror(reflecting: error).children.first?.label ?? "\(error)", leftover: 0)
        }
    }
}

/// A small seeded generator, so a failing chunking is reproduced by its seed.
public struct SplitMix: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: - The decoders tt reads streams with

/// Peer wire frames after the handshake (`FrameDecoder`).
public struct PeerFrameStream: StreamingDecoder {
    var decoder = FrameDecoder(expectingHandshake: false)
    public init() {}
    public mutating func feed(_ bytes: ArraySlice<UInt8>, into frames: inout [PeerFrame]) throws {
        decoder.append(bytes)
        while let frame = try decoder.next() { frames.append(frame) }
    }
    public mutating func finish() throws -> (outputs: [PeerFrame], leftover: Int) { ([], decoder.bufferedCount) }
}

/// A peer's whole stream: the handshake, then frames.
public struct PeerHandshakeStream: StreamingDecoder {
    var inner = PeerFrameStream()
    public init() { inner.decoder = FrameDecoder(expectingHandshake: true) }
    public mutating func feed(_ bytes: ArraySlice<UInt8>, into frames: inout [PeerFrame]) throws { try inner.feed(bytes, into: &frames) }
    public mutating func finish() throws -> (outputs: [PeerFrame], leftover: Int) { try inner.finish() }
}

/// A tracker's HTTP response, ended by the server closing the connection.
public struct HTTPResponseStream: StreamingDecoder {
    var parser = HTTPResponseParser(maxBody: 1 << 20)
    var done = false
    public init() {}
    public mutating func feed(_ bytes: ArraySlice<UInt8>, into responses: inout [HTTPResponse]) throws {
        // Bytes after the complete response are not part of it.
        if !done, case .complete(let response) = try parser.feed(bytes) { done = true; responses.append(response) }
    }
    public mutating func finish() throws -> (outputs: [HTTPResponse], leftover: Int) {
        if done { return ([], 0) }
        if case .complete(let response) = try parser.feed([UInt8](), endOfStream: true) { return ([response], 0) }
        return ([], 1)
    }
}

/// A client's request head, as `tt tracker` reads it.
public struct HTTPRequestStream: StreamingDecoder {
    var reader = HTTPRequestReader()
    var done = false
    var pending = 0
    public init() {}
    public mutating func feed(_ bytes: ArraySlice<UInt8>, into lines: inout [HTTPRequestLine]) throws {
        // Bytes after the request head are not part of it.
        if done { return }
        if case .request(let line) = try reader.feed(bytes) { done = true; lines.append(line) } else { pending += bytes.count }
    }
    public mutating func finish() throws -> (outputs: [HTTPRequestLine], leftover: Int) { ([], done ? 0 : pending) }
}
