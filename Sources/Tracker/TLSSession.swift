import CTLS
import Net

/// A TLS client session over a connected `TCPConnection`, for `https://` trackers.
///
/// TLS comes from the system's OpenSSL, loaded at the first HTTPS request (see `CTLS`), so the
/// `tt` binary starts without any TLS or HTTP library. Certificates are checked against the
/// system's trust store, `SSL_CERT_FILE`/`SSL_CERT_DIR`, or the `caFile` given (`--ca-file`).
final class TLSSession {
    private let session: OpaquePointer
    private let name: String

    init(over connection: TCPConnection, host: String, caFile: String?, deadline: Deadline, name: String) throws(TrackerError) {
        var failure: Int32 = 0
        var message = [CChar](repeating: 0, count: 512)
        let made = tt_tls_connect(connection.fileDescriptor, host, caFile, Self.milliseconds(deadline), &failure, &message, message.count)
        guard let made else { throw Self.error(failure, message, name) }
        session = made
        self.name = name
    }

    deinit { tt_tls_free(session) }

    func send(_ bytes: [UInt8], deadline: Deadline) throws(TrackerError) {
        var message = [CChar](repeating: 0, count: 512)
        let failure = tt_tls_write(session, bytes, bytes.count, Self.milliseconds(deadline), &message, message.count)
        if failure != 0 { throw Self.error(failure, message, name) }
    }

    /// What arrived (up to `max` bytes); `[]` at the end of the stream.
    func receive(max: Int, deadline: Deadline) throws(TrackerError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        var message = [CChar](repeating: 0, count: 512)
        let count = tt_tls_read(session, &buffer, max, Self.milliseconds(deadline), &message, message.count)
        if count < 0 { throw Self.error(Int32(-count), message, name) }
        buffer.removeSubrange(Int(count)...)
        return buffer
    }

    private static func milliseconds(_ deadline: Deadline) -> Int32 {
        Int32(max(1, min(deadline.remaining * 1000, 3_600_000)))
    }

    private static func error(_ failure: Int32, _ message: [CChar], _ name: String) -> TrackerError {
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch failure {
        case Int32(TT_TLS_TIMEOUT.rawValue): return .timeout(name, text)
        case Int32(TT_TLS_PROTOCOL.rawValue): return .badResponse(name, text)
        default: return .unreachable(name, text)  // no libssl, untrusted certificate, closed
        }
    }
}
