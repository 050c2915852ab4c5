import Metainfo

extension PeerSession {
    /// Takes bytes from the stream; decode them with `next(onBlock:)`.
    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        decoder.append(bytes)
    }

    /// A read buffer's bytes, decoded where they lie (see `FrameDecoder.append`): call `next`
    /// until nil before the buffer is reused.
    public mutating func append(_ bytes: ArraySlice<UInt8>) {
        decoder.append(bytes)
    }

    /// Bytes received and not yet decoded.
    public var bufferedCount: Int { decoder.bufferedCount }

    /// The next event, or nil when more bytes are needed. A well-formed `piece` message goes to
    /// `onBlock` straight from the receive buffer (no copy) and decoding goes on; `onBlock` must not
    /// touch this session. Malformed or out-of-range input throws: drop the peer.
    public mutating func next(onBlock: (UInt32, UInt32, UnsafeRawBufferPointer) -> Void) throws(PeerWireError) -> Event? {
        while true {
            if !recordsFrames && decoder.nextPieceBlock(onBlock) { continue }
            guard let frame = try decoder.next() else { return nil }
            if recordsFrames { frames.append(TracedFrame(outgoing: false, frame: frame)) }
            switch frame {
            case .handshake(let handshake):
                try accept(handshake)
                return .handshake(handshake)
            case .message(let message, _):
                if let event = try apply(message) { return event }
            }
        }
    }

    private mutating func accept(_ handshake: Handshake) throws(PeerWireError) {
        guard handshake.infoHash == configuration.infoHash else {
            throw .wrongInfoHash(expected: configuration.infoHash, received: handshake.infoHash)
        }
        theirHandshake = handshake
        if !initiator { queueHandshake() }
        if extensionsEnabled { queueExtensionHandshake() }
    }

    /// Applies a message to the state; returns the event to report (nil: handled here).
    private mutating func apply(_ message: PeerMessage) throws(PeerWireError) -> Event? {
        switch message {
        case .choke: peerChoking = true
        case .unchoke: peerChoking = false
        case .interested: peerInterested = true
        case .notInterested: peerInterested = false
        case .have(let index):
            try checkPiece(index, "have")
            peerHas?.set(Int(index))
        case .bitfield(let bytes):
            if let lengths = configuration.lengths { peerHas = try Bitfield.decoding(bytes, pieceCount: lengths.pieceCount) }
        case .haveAll:
            try requireFast("have_all")
            if let lengths = configuration.lengths { peerHas = Bitfield(pieceCount: lengths.pieceCount, all: true) }
        case .haveNone:
            try requireFast("have_none")
            if let lengths = configuration.lengths { peerHas = Bitfield(pieceCount: lengths.pieceCount) }
        case .suggest(let index):
            try checkPiece(index, "suggest")
        case .allowedFast(let index):
            try checkPiece(index, "allowed_fast")
            allowedFast.insert(index)
        case .reject:
            try requireFast("reject_request")
        case .request(let request), .cancel(let request):
            if let lengths = configuration.lengths { _ = try lengths.validate(request) }
        case .extended(let id, let payload):
            return try extended(id: id, payload: payload)
        case .keepAlive, .piece, .port:
            break
        }
        return .message(message)
    }

    private func checkPiece(_ index: UInt32, _ name: String) throws(PeerWireError) {
        guard let lengths = configuration.lengths else { return }
        guard lengths.piece(index) != nil else { throw .pieceOutOfRange(message: name, index: index, pieceCount: lengths.pieceCount) }
    }

    private func requireFast(_ name: String) throws(PeerWireError) {
        guard fast else { throw .unexpected("\(name) without the fast extension (BEP 6) negotiated") }
    }

    private mutating func extended(id: UInt8, payload: [UInt8]) throws(PeerWireError) -> Event? {
        if id == 0 {
            let handshake = try ExtensionHandshake(decoding: payload)
            theirExtensions = handshake
            return .extensionHandshake(handshake)
        }
        guard let name = localNames[Int(id)] else { return nil }  // an id we never gave out: ignore, as BEP 10 allows
        guard name == Self.metadataExtension else { return .extensionMessage(name: name, payload: payload) }
        let message = try MetadataMessage(decoding: payload)
        if case .request(let piece) = message, let info = configuration.metadata {
            let start = piece * MetadataMessage.pieceSize
            let reply: MetadataMessage = start < info.count
                ? .data(piece: piece, totalSize: info.count, bytes: Array(info[start..<min(info.count, start + MetadataMessage.pieceSize)]))
                : .reject(piece: piece)
            sendExtension(Self.metadataExtension, payload: reply.encoded())
            return nil
        }
        if case .request(let piece) = message {
            // We have nothing to give yet (fetching it ourselves).
            sendExtension(Self.metadataExtension, payload: MetadataMessage.reject(piece: piece).encoded())
            return nil
        }
        return .metadata(message)
    }
}
