/// Which compression code a hasher calls; tests pin each path to compare them.
enum HashBackend: Sendable {
    /// SHA-NI when available, unless `tt_sha_force_portable` is on — what `init()` uses.
    case automatic
    /// The portable C code, whatever the CPU.
    case portable
    /// SHA-NI whenever the CPU has it, ignoring `tt_sha_force_portable`.
    case hardware
}

/// The chaining state and compression function of a Merkle–Damgård hash with 64-byte blocks.
protocol BlockCompressor: Sendable {
    /// Hashes `count` whole 64-byte blocks starting at `blocks` into the state.
    mutating func compress(_ blocks: UnsafePointer<UInt8>, count: Int)
    /// Writes the state out big-endian; this is the digest once the padding has been hashed.
    func digest() -> [UInt8]
}

/// Buffering and padding shared by SHA-1 and SHA-256 (FIPS 180-4 §5.1.1).
///
/// Everything is stored inline so a hasher costs no allocation until `finalize`. Input
/// that spans whole blocks goes straight from the caller's memory to the compressor;
/// only a partial head or tail is copied into `buffer`.
struct BlockHasher<Compressor: BlockCompressor>: Sendable {
    static var blockSize: Int { 64 }

    var compressor: Compressor
    /// A partial block; `UInt64`s only to get 64 contiguous, 8-aligned bytes without a heap box.
    private var buffer: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    /// Bytes of `buffer` in use, always less than a block between calls.
    private var buffered = 0
    /// Total message length in bytes; the padding needs it in bits, modulo 2^64.
    private var length: UInt64 = 0

    init(_ compressor: Compressor) {
        self.compressor = compressor
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var input = bytes.baseAddress, bytes.count > 0 else { return }
        var remaining = bytes.count
        length &+= UInt64(remaining)

        if buffered > 0 {
            let take = min(Self.blockSize - buffered, remaining)
            fillBuffer(from: input, count: take)
            input += take
            remaining -= take
            guard buffered == Self.blockSize else { return }
            compressBuffer()
        }

        let blocks = remaining / Self.blockSize
        if blocks > 0 {
            compressor.compress(input.assumingMemoryBound(to: UInt8.self), count: blocks)
            input += blocks * Self.blockSize
            remaining -= blocks * Self.blockSize
        }

        if remaining > 0 {
            fillBuffer(from: input, count: remaining)
        }
    }

    /// True when no partial block is buffered, so whole blocks may go straight to `compressor`.
    var isBlockAligned: Bool { buffered == 0 }

    /// Accounts for `count` bytes (whole blocks) that a caller compressed straight into `compressor`.
    mutating func countCompressed(_ count: Int) {
        length &+= UInt64(count)
    }

    /// Hashes a collection without contiguous storage by gathering it into a stack buffer.
    mutating func updateByCopying<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        // Chunks of several blocks so the compressor still sees many blocks per call.
        let chunkSize = 4096
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: chunkSize) { chunk in
            var filled = 0
            for byte in bytes {
                chunk[filled] = byte
                filled += 1
                if filled == chunkSize {
                    update(UnsafeRawBufferPointer(chunk))
                    filled = 0
                }
            }
            update(UnsafeRawBufferPointer(start: chunk.baseAddress, count: filled))
        }
    }

    /// Appends the padding and length, and returns the digest.
    mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        // 0x80, then zeros up to 8 bytes short of a block boundary, then the length.
        var padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0)
        let zeros = (2 * Self.blockSize - 8 - (buffered + 1)) % Self.blockSize
        withUnsafeMutableBytes(of: &padding) { pad in
            pad[0] = 0x80
            pad.storeBytes(of: bitLength.bigEndian, toByteOffset: 1 + zeros, as: UInt64.self)
            update(UnsafeRawBufferPointer(rebasing: pad[..<(1 + zeros + 8)]))
        }
        precondition(buffered == 0)
        return compressor.digest()
    }

    private mutating func fillBuffer(from source: UnsafeRawPointer, count: Int) {
        let offset = buffered
        withUnsafeMutableBytes(of: &buffer) { buf in
            (buf.baseAddress! + offset).copyMemory(from: source, byteCount: count)
        }
        buffered += count
    }

    private mutating func compressBuffer() {
        // Copied out because the compressor and the buffer are both parts of `self`.
        var block = buffer
        withUnsafeBytes(of: &block) { compressor.compress($0.baseAddress!.assumingMemoryBound(to: UInt8.self), count: 1) }
        buffered = 0
    }
}
