import CTTCrypto

/// Streaming SHA-1 (FIPS 180-4), the hash of BitTorrent v1 pieces and info hashes.
///
/// Uses the CPU's SHA extensions when present (see `HashAcceleration`). A value type with
/// no heap storage: copy it to fork a hash of a common prefix.
///
/// ```swift
/// var h = SHA1()
/// h.update(header)
/// h.update(body)
/// let digest = h.finalize()     // 20 bytes
/// ```
public struct SHA1: Sendable {
    /// Length of a SHA-1 digest in bytes.
    public static let digestSize = 20

    var core: BlockHasher<SHA1Compressor>

    /// Starts a new hash.
    public init() {
        self.init(backend: .automatic)
    }

    /// Starts a new hash pinned to one implementation, so tests can compare them.
    init(backend: HashBackend) {
        core = BlockHasher(SHA1Compressor(backend: backend))
    }

    /// Adds bytes to the message; whole blocks are hashed in place, only a partial block is copied.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        core.update(bytes)
    }

    /// Adds bytes to the message; arrays, slices and other contiguous collections are not copied.
    @inlinable
    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        // Inlinable so it is specialised in the caller: per-call generic dispatch and metadata
        // lookups otherwise cost more than hashing a short message.
        if bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) == nil {
            updateByCopying(bytes)
        }
    }

    /// The slow path of `update` for collections without contiguous storage.
    @usableFromInline
    mutating func updateByCopying<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        core.updateByCopying(bytes)
    }

    /// Pads the message and returns its 20-byte digest.
    public consuming func finalize() -> [UInt8] {
        core.finalize()
    }

    /// Returns the 20-byte digest of `bytes`.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = SHA1()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// Returns the 20-byte digest of `bytes`.
    @inlinable
    public static func hash<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var hasher = SHA1()
        hasher.update(bytes)
        return hasher.finalize()
    }
}

/// SHA-1 chaining state (H0…H4) and the C compression function that advances it.
struct SHA1Compressor: BlockCompressor {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
    let backend: HashBackend

    init(backend: HashBackend) {
        self.backend = backend
    }

    /// The state words as the C code takes them, for the interleaved kernels.
    mutating func withWords<R>(_ body: (UnsafeMutablePointer<UInt32>) -> R) -> R {
        withUnsafeMutableBytes(of: &state) { body($0.baseAddress!.assumingMemoryBound(to: UInt32.self)) }
    }

    mutating func compress(_ blocks: UnsafePointer<UInt8>, count: Int) {
        let backend = self.backend
        // A homogeneous tuple is laid out like a C array, which is what the C side expects.
        withUnsafeMutableBytes(of: &state) { raw in
            let words = raw.baseAddress!.assumingMemoryBound(to: UInt32.self)
            switch backend {
            case .automatic: tt_sha1_blocks(words, blocks, count)
            case .portable: tt_sha1_blocks_portable(words, blocks, count)
            case .hardware: tt_sha1_blocks_hardware(words, blocks, count)
            }
        }
    }

    func digest() -> [UInt8] {
        let s = state
        let bigEndian = (s.0.bigEndian, s.1.bigEndian, s.2.bigEndian, s.3.bigEndian, s.4.bigEndian)
        // Array(_: UnsafeRawBufferPointer) measured ~2x faster here than
        // Array(unsafeUninitializedCapacity:), which looks up generic metadata on every call.
        return withUnsafeBytes(of: bigEndian) { Array($0) }
    }
}
