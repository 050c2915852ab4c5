import Net

/// Which peers to dial and when: every address learned (with where from), who is being dialled,
/// who is banned, who turned out to be us, and the back-off after failures. No I/O, no clock:
/// the engine passes `now`.
struct PeerRoster {
    struct Candidate {
        var source: PeerSource
        var attempts = 0
        var nextTry: Double = 0
        var lastError: String?
    }

    /// Dial attempts in a row that fail before an address is given up.
    static let maxAttempts = 3
    /// Wait before redialling a peer that hung up on an established connection.
    static let reconnectDelay = 5.0

    private(set) var candidates: [SocketAddress: Candidate] = [:]
    private(set) var connecting: Set<SocketAddress> = []
    private(set) var banned: Set<SocketAddress> = []
    /// Addresses that reached ourselves (as trackers echo us back): never dialled again.
    private(set) var ownAddresses: Set<SocketAddress> = []
    /// Our listen port: any loopback or local address with it is us.
    var listenPort: UInt16?
    /// The IPs our listener answers on: the bound one, or (bound to any) every local one.
    var localIPs: Set<String> = []
    /// Bound to the unspecified address: every loopback address reaches us too.
    var loopbackIsOurs = false

    /// Records an address; false when it is known already, banned or ours.
    @discardableResult
    mutating func add(_ address: SocketAddress, source: PeerSource) -> Bool {
        guard candidates[address] == nil, !banned.contains(address), !isOurs(address) else { return false }
        candidates[address] = Candidate(source: source)
        return true
    }

    func source(of address: SocketAddress) -> PeerSource? { candidates[address]?.source }

    func isOurs(_ address: SocketAddress) -> Bool {
        if ownAddresses.contains(address) { return true }
        guard let listenPort, address.port == listenPort else { return false }
        return (loopbackIsOurs && address.isLoopback) || localIPs.contains(address.ip) || address.isUnspecified
    }

    /// Addresses to dial now, in a stable order, leaving out those connected or being dialled.
    func ready(now: Double, connected: Set<SocketAddress>) -> [SocketAddress] {
        candidates.filter { address, candidate in
            candidate.attempts < Self.maxAttempts && candidate.nextTry <= now && !connecting.contains(address)
                && !connected.contains(address) && !banned.contains(address) && !isOurs(address)
        }.keys.sorted { $0.description < $1.description }
    }

    mutating func dialling(_ address: SocketAddress) {
        connecting.insert(address)
        candidates[address, default: Candidate(source: .peerOption)].attempts += 1
    }

    mutating func dialled(_ address: SocketAddress) { connecting.remove(address) }

    /// A connect failed: back off exponentially (2, 4, 8 … 64 s).
    mutating func failed(_ address: SocketAddress, error: String, now: Double) {
        connecting.remove(address)
        guard var candidate = candidates[address] else { return }
        candidate.nextTry = now + Double(1 << min(candidate.attempts, 6))
        candidate.lastError = error
        candidates[address] = candidate
    }

    /// A peer finished its handshake: its failures are forgiven.
    mutating func handshaken(_ address: SocketAddress) { candidates[address]?.attempts = 0 }

    /// A connection ended: redial after a pause (a peer that never got through its handshake
    /// keeps its attempt count, so one that always hangs up is given up).
    mutating func disconnected(_ address: SocketAddress, now: Double, reason: String, redial: Bool = true) {
        guard candidates[address] != nil else { return }
        if !redial { candidates[address]!.attempts = Self.maxAttempts }
        candidates[address]!.nextTry = now + Self.reconnectDelay
        candidates[address]!.lastError = reason
    }

    mutating func ban(_ address: SocketAddress) { banned.insert(address) }

    /// We dialled `address` and met our own peer id.
    mutating func markOurs(_ address: SocketAddress) { ownAddresses.insert(address) }

    /// True while some address may still be dialled (now or after its back-off).
    var hasRetryable: Bool {
        candidates.contains { !banned.contains($0.key) && !isOurs($0.key) && $0.value.attempts < Self.maxAttempts }
    }

    var isEmpty: Bool { candidates.isEmpty }
    var isConnecting: Bool { !connecting.isEmpty }

    /// The last error of each address, for the message when nobody could be reached.
    /// "ADDRESS: why" per candidate that failed (errors that already name their address are not prefixed again).
    var lastErrors: [String] {
        candidates.compactMap { entry in
            entry.value.lastError.map { error in
                let text = "\(error)", address = "\(entry.key)"
                return text.hasPrefix(address) ? text : "\(address): \(text)"
            }
        }.sorted()
    }
}
