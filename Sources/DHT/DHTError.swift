/// Why a datagram is not a KRPC message we can act on; the message names the field.
public enum DHTError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not bencode, or not a dictionary.
    case notBencode(String)
    /// A KRPC field is missing or has the wrong type or size (answered with error 203).
    case malformed(transactionID: [UInt8]?, field: String, reason: String)
    /// A state file that cannot be read or written.
    case stateFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .notBencode(let reason): return "not a KRPC message: \(reason)"
        case .malformed(_, let field, let reason): return "malformed KRPC message: '\(field)' \(reason)"
        case .stateFile(let path, let reason): return "\(path): \(reason)"
        }
    }
}
