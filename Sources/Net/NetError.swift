/// Why a network operation failed, naming the address or host involved. The command layer maps
/// each case to an exit code (TTError); this module holds none.
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
}
