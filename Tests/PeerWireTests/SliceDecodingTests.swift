import PeerWire
import Testing

/// The decoder reads a socket's bytes where they lie (slices of one reused read buffer) and keeps
/// only a frame cut off at a read's end. Whatever the cuts, it must decode the same frames and
/// blocks as from the whole stream at once, and own nothing of the buffer once drained.
@Suite struct SliceDecodingTests {
    static func stream() -> [UInt8] {
        var bytes = Handshake(reserved: ReservedBits([ReservedBits.fast]), infoHash: sampleHash, peerID: samplePeerID).encoded()
        var block = [UInt8](repeating: 0, count: 16384)
        for i in 0..<24 {
            for j in block.indices { block[j] = UInt8(truncatingIfNeeded: i &* 31 &+ j) }
            bytes += PeerMessage.piece(index: UInt32(i / 4), begin: UInt32(i % 4 * 16384), block: block).encoded()
            if i % 5 == 0 { bytes += PeerMessage.have(piece: UInt32(i)).encoded() + PeerMessage.keepAlive.encoded() }
        }
        return bytes
    }

    /// Everything decoded, blocks as (index, begin, checksum) and other frames by value.
    static func decode(_ chunks: [ArraySlice<UInt8>], throughReusedBuffer: Bool) throws -> [String] {
        var decoder = FrameDecoder(expectingHandshake: true)
        var seen: [String] = []
        var readBuffer = [UInt8](repeating: 0, count: 20_000)
        for chunk in chunks {
            if throughReusedBuffer {
                // As StreamChannel does: the next read overwrites the same storage.
                readBuffer.replaceSubrange(0..<chunk.count, with: chunk)
                decoder.append(readBuffer[0..<chunk.count])
            } else {
                decoder.append(Array(chunk))
            }
            while true {
                if decoder.nextPieceBlock({ index, begin, block in
                    seen.append("block \(index) \(begin) \(block.reduce(0) { ($0 &* 31) &+ Int($1) })")
                }) { continue }
                guard let frame = try decoder.next() else { break }
                seen.append("\(frame)")
            }
            // The next read reuses the buffer: a frame cut off at this read's end must survive it.
            if throughReusedBuffer { for i in 0..<chunk.count { readBuffer[i] = 0xEE } }
        }
        #expect(decoder.bufferedCount == 0)
        return seen
    }

    @Test(arguments: [3, 13, 68, 4096, 16397, 19_999])
    func anyCutsDecodeLikeTheWholeStream(_ seed: Int) throws {
        let bytes = Self.stream()
        let whole = try Self.decode([bytes[...]], throughReusedBuffer: false)
        #expect(whole.count == 1 + 24 + 2 * 5)
        var chunks: [ArraySlice<UInt8>] = []
        var position = 0, state = UInt64(seed)
        while position < bytes.count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let size = seed < 100 ? seed : 1 + Int(state >> 33) % seed
            chunks.append(bytes[position..<min(bytes.count, position + size)])
            position += size
        }
        #expect(try Self.decode(chunks, throughReusedBuffer: true) == whole)
        #expect(try Self.decode(chunks, throughReusedBuffer: false) == whole)
    }

    /// A read that ends where a frame ends leaves nothing to keep: the decoder must then hold no
    /// reference to the read buffer, or the next read into it copies the whole buffer first
    /// (copy-on-write, into fresh pages: it was most of a fast download's page faults).
    @Test func aDrainedDecoderLetsGoOfTheReadBuffer() throws {
        var decoder = FrameDecoder(expectingHandshake: false)
        let bytes = PeerMessage.piece(index: 1, begin: 0, block: [UInt8](repeating: 7, count: 16384)).encoded()
            + PeerMessage.have(piece: 3).encoded()
        var readBuffer = [UInt8](repeating: 0, count: 65536)
        let storage = readBuffer.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        for _ in 0..<3 {
            readBuffer.replaceSubrange(0..<bytes.count, with: bytes)
            decoder.append(readBuffer[0..<bytes.count])
            var blocks = 0, frames = 0
            while true {
                if decoder.nextPieceBlock({ _, _, _ in blocks += 1 }) { continue }
                guard try decoder.next() != nil else { break }
                frames += 1
            }
            #expect(blocks == 1 && frames == 1)
            readBuffer[0] = 0  // the next read: written in place, not copied first
            #expect(readBuffer.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == storage)
        }
    }
}
