import JSON
import MSE
import Swarm

/// `--encryption off|prefer|require` (MSE/PE) for the peer commands; see tt-handshake(1).
enum EncryptionOption {
    static func spec(default value: EncryptionPolicy) -> OptionSpec {
        OptionSpec(["--encryption"], value: "off|prefer|require",
                   help: "MSE/PE: off = plain BitTorrent; prefer = plain first, encrypted when the peer hangs up; require = RC4 only (default \(value.rawValue))")
    }

    static func parse(_ invocation: Invocation, default value: EncryptionPolicy) throws(TTError) -> EncryptionPolicy {
        guard let text = invocation.arguments.value("--encryption") else { return value }
        guard let policy = EncryptionPolicy(rawValue: text) else {
            throw .usage("--encryption must be off, prefer or require, got '\(text)'")
        }
        return policy
    }
}

/// What MSE did on one connection, for `--json` and `--trace`.
struct MSEReport {
    var policy: EncryptionPolicy
    /// Our `crypto_provide`; nil when no MSE exchange took place (a plain attempt was accepted).
    var provide: CryptoMethods?
    /// The method the peer selected; nil without an MSE exchange.
    var selected: CryptoMethods?
    /// True when the peer hung up on the plain handshake and we dialed again with MSE (`prefer`).
    var retried: Bool
    var failure: String?

    /// "rc4" or "plaintext": what is on the wire after the handshake.
    static func encryption(_ report: MSEReport?) -> String { report?.selected == .rc4 ? "rc4" : "plaintext" }

    /// The `"mse"` object of `tt handshake --json`.
    static func json(_ report: MSEReport?) -> JSONValue {
        guard let report else { return .null }
        return .object([
            JSONField("policy", .string(report.policy.rawValue)),
            JSONField("provide", report.provide.map { .array($0.names.map { .string($0) }) } ?? .null),
            JSONField("selected", .optional(report.selected?.description)),
            JSONField("retried", .bool(report.retried)),
            JSONField("failure", .optional(report.failure)),
        ])
    }

    static func fields(_ step: MSEStep) -> [JSONField] {
        step.fields.map { field in
            switch field.value {
            case .int(let number): JSONField(field.key, .int(number))
            case .string(let text): JSONField(field.key, .string(text))
            }
        }
    }
}

extension TTError {
    /// An MSE failure: timeouts exit 75, the rest 76 (the peer's doing), naming the peer.
    init(mse error: MSEConnectionError) {
        switch error {
        case .net(let net): self.init(net: net)
        case .timeout: self.init(.timeout, kind: "timeout", error.description)
        case .closed: self.init(.protocolError, kind: "closed", error.description)
        case .plaintextRefused: self.init(.protocolError, kind: "plaintext_refused", error.description)
        case .encryptionRefused: self.init(.protocolError, kind: "encryption_refused", error.description)
        case .handshake: self.init(.protocolError, kind: "mse", error.description)
        }
    }
}

extension EncryptionOption {
    /// Puts MSE/PE under the engine: outgoing peers through `MSEDialer` around the configured
    /// dialer (TCP, or uTP when that is set first), incoming ones through `MSEAcceptor`. A peer
    /// refused for its encryption is logged, and with --json reported as a `peer_refused` event.
    static func apply(_ policy: EncryptionPolicy, to configuration: inout SwarmConfiguration, invocation: Invocation) {
        let hashes = configuration.torrent.infoHashes
        configuration.dialer = MSEDialer(policy: policy, infoHash: hashes.wire, inner: configuration.dialer,
                                         handshakeTimeout: configuration.connectTimeout + 10)
        // A hybrid torrent's peers may name it by either hash (v2 truncated to 20 bytes).
        var served = [hashes.wire]
        if let v2 = hashes.v2, Array(v2.prefix(20)) != hashes.wire { served.append(Array(v2.prefix(20))) }
        configuration.acceptor = MSEAcceptor(policy: policy, infoHashes: served) { address, error in
            invocation.log("peer \(address) refused: \(error)")
            if invocation.json {
                invocation.outputJSON(.object([JSONField("event", .string("peer_refused"))] + PeerView.fields(address)
                                              + [JSONField("reason", .string(error.description)),
                                                 JSONField("encryption", .string(policy.rawValue))]))
            }
        }
    }
}
