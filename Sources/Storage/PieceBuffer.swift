/// One piece's bytes while it is assembled, checked and written, in page-aligned memory: `O_DIRECT`
/// writes it from where it lies (no copy through an aligned bounce buffer), and a large one is its
/// own mapping, returned to the system when freed. Holds garbage until every block is copied in.
/// Sendable because one owner at a time touches it: the loop while blocks arrive, then the check job.
public final class PieceBuffer: @unchecked Sendable {
    public let bytes: UnsafeMutableRawBufferPointer

    public init(count: Int) {
        bytes = UnsafeMutableRawBufferPointer(
            start: UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: PieceStore.directAlignment),
            count: count)
    }

    deinit { bytes.baseAddress?.deallocate() }

    public var count: Int { bytes.count }

    public var readOnly: UnsafeRawBufferPointer { UnsafeRawBufferPointer(bytes) }
}
