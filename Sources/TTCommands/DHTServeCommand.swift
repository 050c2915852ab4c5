import DHT
import JSON
import Net

/// `tt dht serve`: a full node (answers queries, keeps its table) that logs queries as JSON Lines —
/// a bootstrap node for local swarms and tests.
enum DHTServeCommand {
    static func run(_ invocation: Invocation) throws(TTError) -> ExitCode {
        let session = try DHTSession(invocation, readOnly: false, defaultPort: 6881, defaultTimeout: 86_400 * 365)
        let node = session.node
        let environment = invocation.environment
        let json = invocation.json
        node.onQuery = { query, address, message in
            guard json || invocation.verbosity >= .verbose else { return }
            var fields: [JSONField] = [JSONField("event", .string("query")), JSONField("time", DHTViews.seconds(session.elapsed)),
                                       JSONField("q", .string(String(query.method.prefix(64)))),
                                       JSONField("from", .string(address.description))]
            fields += DHTViews.arguments(message)
            if json { environment.writeJSON(.object(fields)) } else { invocation.log("\(query.method) from \(address)") }
        }
        let local = node.localAddress
        if json {
            environment.writeJSON(.object([JSONField("event", .string("listening")), JSONField("id", .string(node.ownID.hex)),
                                           JSONField("addr", .optional(local?.description)),
                                           JSONField("port", .optional(local.map { Int($0.port) }))]))
        }
        invocation.note("DHT node \(node.ownID.hex) listening on UDP \(local?.description ?? "?")")
        if !node.configuration.bootstrap.isEmpty || !node.savedContacts.isEmpty {
            node.bootstrap { lookup in
                node.adoptSecureID()  // BEP 42: an id derived from the address the replies report
                if json {
                    environment.writeJSON(.object([JSONField("event", .string("bootstrapped")), JSONField("time", DHTViews.seconds(session.elapsed)),
                                                   JSONField("nodes", .int(node.state.table.count)),
                                                   JSONField("nodes_replied", .int(lookup.repliesReceived))]))
                }
                node.save()
            }
        }
        node.startMaintenance()
        session.run()
        let state = node.state
        if json {
            environment.writeJSON(.object([JSONField("event", .string("stopped")), JSONField("queries", .int(node.queriesReceived)),
                                           JSONField("nodes", .int(state.table.count)), JSONField("torrents", .int(state.store.torrentCount)),
                                           JSONField("peers", .int(state.store.peerCount))]))
        } else {
            invocation.note("stopped after \(node.queriesReceived) queries; \(state.table.count) nodes known")
        }
        return .success
    }
}
