import CTTCrypto

/// Streaming SHA-256 (FIPS 180-4), the hash of BitTorrent v2 piece layers and info hashes.
///
/// Uses the CPU's SHA extensions when present (see `HashAcceleration`). A value type with
/// no heap storage: copy it to fork a hash of a common prefix.
public struct SHA256: Sendable {
    /// Length of a SHA-256 digest in bytes.
    public static let digestSize = 32

    var core: BlockHasher<SHA256Compressor>

    /// Starts a new hash.
    public init() {
        self.init(backend: .automatic)
    }

    /// Starts a new hash pinned to one implementation, so tests can compare them.
    init(backend: HashBackend) {
        core = BlockHasher(SHA256Compressor(backend: backend))
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

    /// Pads the message and returns its 32-byte digest.
    public consuming func finalize() -> [UInt8] {
        core.finalize()
    }

    /// Returns the 32-byte digest of `bytes`.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// Returns the 32-byte digest of `bytes`.
    @inlinable
    public static func hash<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }
}

/// SHA-256 chaining state (H0…H7) and the C compression function that advances it.
struct SHA256Compressor: BlockCompressor {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A, 0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19)
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
            case .automatic: tt_sha256_blocks(words, blocks, count)
            case .portable: tt_sha256_blocks_portable(words, blocks, count)
            case .hardware: tt_sha256_blocks_hardware(words, blocks, count)
            }
        }
    }

    func digest() -> [UInt8] {
        let s = state
        let bigEndian = (s.0.bigEndian, s.1.bigEndian, s.2.bigEndian, s.3.bigEndian,
                         s.4.bigEndian, s.5.bigEndian, s.6.bigEndian, s.7.bigEndian)
        // See SHA1Compressor.digest for why not Array(unsafeUninitializedCapacity:).
        return withUnsafeBytes(of: bigEndian) { Array($0) }
    }
}
