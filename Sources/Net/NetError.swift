/// Why a network operation failed, naming the address or host involved.
///
/// `exitCode` maps each case to the sysexits code of CONVENTIONS: the remote being
/// unavailable (refused, unreachable, DNS) is 69, a timeout 75, a peer hanging up 76.
public enum NetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The remote actively refused the connection (RST, ECONNREFUSED).
    case refused(address: String)
    /// No route, network down, host unreachable, or the address family is unsupported.
    case unreachable(address: String, reason: String)
    /// Nothing happened before the deadline; `what` says what we were waiting for.
    case timeout(what: String)
    /// The host name did not resolve.
    case dns(host: String, reason: String)
    /// Text that is not `host:port` / `[v6]:port`, or a port out of range.
    case badAddress(String)
    /// The remote closed the connection (EOF or reset) while we still expected data.
    case closed(address: String)
    /// Any other system error.
    case system(operation: String, reason: String)

    public var description: String {
        switch self {
        case .refused(let address): return "\(address): connection refused"
        case .unreachable(let address, let reason): return "\(address): unreachable (\(reason))"
        case .timeout(let what): return "timed out \(what)"
        case .dns(let host, let reason): return "\(host): cannot resolve host name (\(reason))"
        case .badAddress(let text): return "bad address '\(text)': expected HOST:PORT or [IPv6]:PORT"
        case .closed(let address): return "\(address): the remote closed the connection"
        case .system(let operation, let reason): return "\(operation): \(reason)"
        }
    }

    /// The sysexits code for this failure (69 unavailable, 75 timeout, 76 protocol, 64 usage, 74 local I/O).
    public var exitCode: Int32 {
        switch self {
        case .refused, .unreachable, .dns: return 69
        case .timeout: return 75
        case .closed: return 76
        case .badAddress: return 64
        case .system: return 74
        }
    }

    /// A short machine-readable kind for `--json` errors.
    public var kind: String {
        switch self {
        case .refused: return "refused"
        case .unreachable: return "unreachable"
        case .timeout: return "timeout"
        case .dns: return "dns"
        case .badAddress: return "usage"
        case .closed: return "closed"
        case .system: return "io_error"
        }
    }
}
