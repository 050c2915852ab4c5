import CTTNet
import Dispatch
import FoundationEssentials
import Glibc
import Metainfo
import PeerWire
import Storage
import Synchronization

// MARK: - Start-up: storage, resume state, recheck

extension SwarmEngine {
    /// Opens storage, reads the resume state and re-checks whatever else is on disk.
    func prepare() throws(SwarmError) {
        let torrent = configuration.torrent
        if torrent.version == .v2 {
            // BEP 52 pieces stop at file ends, so request lengths differ from the v1 arithmetic.
            throw .badTorrent("\(torrent.name): v2-only torrents cannot be downloaded yet (v1 and hybrid can)")
        }
        if let unsafe = torrent.unsafePaths.first {
            throw .badTorrent("refusing \(torrent.name): unsafe path \"\(unsafe.path)\" (\(unsafe.reason.rawValue))")
        }
        do {
            layout = try FileLayout(torrent: torrent)
            hashes = try PieceHashes(torrent: torrent, layout: layout)
            if let path = configuration.contentPath {
                contentPath = path
            } else {
                contentPath = try PieceStore.contentPath(output: configuration.output, layout: layout)
            }
        } catch {
            throw Self.map(error)
        }
        lengths = Lengths(layout: layout.pieces)
        uploadCache = UploadCache(spanLength: min(Self.uploadSpanLength, layout.pieces.pieceLength))
        maxChecksInFlight = max(maxChecksInFlight, Self.checkBytesInFlight / layout.pieces.pieceLength)
        spareBufferLimit = max(2, Self.spareBytes / layout.pieces.pieceLength)
        Self.returnLargeBuffersToTheSystem()
        let pieceCount = layout.pieceCount
        resumePath = ResumeState.path(output: configuration.output, infoHashes: torrent.infoHashes)
        var trusted = Bitfield(pieceCount: pieceCount)
        if configuration.serveOnly {
            try prepareToServe()
            return
        }
        var previousSelection: FileSelection? = nil
        var resumeProblem: String?
        if configuration.resume {
            let loaded = ResumeState.loadForResume(path: resumePath, key: ResumeState.key(torrent.infoHashes), pieceCount: pieceCount)
            if let state = loaded.state {
                trusted = state.verified
                previousSelection = state.selectedFiles.map { FileSelection(Set($0)) }
            }
            resumeProblem = loaded.problem
        }
        let selection = configuration.selection.flatMap { $0.isEverything(layout) ? nil : $0 }
        // Files that already hold data before we create anything: their pieces get re-checked.
        let existing: [Bool] = layout.files.indices.map { index in
            guard !layout.files[index].isPadding else { return true }
            if let selection, !selection.isSelected(index, in: layout) {
                return FileManager.default.fileExists(atPath: ResumeState.partsPath(output: configuration.output, infoHashes: torrent.infoHashes))
            }
            let path = layout.isMultiFile ? contentPath + "/" + layout.files[index].displayPath : contentPath
            var info = stat()
            return stat(path, &info) == 0 && info.st_size > 0
        }
        do {
            try FileManager.default.createDirectory(atPath: configuration.output, withIntermediateDirectories: true)
        } catch {
            throw .storage("\(configuration.output): cannot create the folder: \(fileErrorReason(error))")
        }
        let partsPath = ResumeState.partsPath(output: configuration.output, infoHashes: torrent.infoHashes)
        var adopted: [Int] = []
        do {
            if selection != nil {
                try FileManager.default.createDirectory(atPath: configuration.output + "/" + ResumeState.directoryName,
                                                        withIntermediateDirectories: true)
            }
            store = try PieceStore(layout: layout, contentPath: contentPath, access: .readWrite(.sparse), selection: selection,
                                   partsPath: selection == nil ? nil : partsPath)
            // A different selection than last time: verified bytes move between the files and the parts file.
            if previousSelection != selection {
                let old = try PieceStore(layout: layout, contentPath: contentPath, access: .read, selection: previousSelection,
                                         partsPath: previousSelection == nil ? nil : partsPath)
                let hashes = self.hashes!
                let result = try store.adopt(from: old, trusting: trusted) { hashes.matches($0, $1) }
                for piece in result.lost { trusted[piece] = false }
                adopted = result.moved
            }
        } catch let error as StorageError {
            throw Self.map(error)
        } catch {
            throw .storage("\(configuration.output): \(fileErrorReason(error))")
        }
        selectedFiles = selection.map { $0.selected.sorted() }
        let wanted = selection?.wantedPieces(layout)
        var have = [Bool](repeating: false, count: pieceCount)
        var toCheck: [Int] = []
        for piece in 0..<pieceCount {
            if trusted[piece] { have[piece] = true; continue }
            let spans = layout.spans(of: lengths.piece(piece)!)
            if !spans.isEmpty && spans.allSatisfy({ existing[$0.file] }) && wanted.map({ $0[piece] }) ?? true { toCheck.append(piece) }
        }
        let rechecked = recheck(toCheck.filter { !adopted.contains($0) }) + adopted.filter { !trusted[$0] }
        for piece in rechecked { have[piece] = true }
        durable = trusted
        for piece in rechecked { durable[piece] = true }
        picker = PiecePicker(layout: layout.pieces, have: have, wanted: wanted.map { bits in (0..<pieceCount).map { bits[$0] } },
                             generator: random)
        wantedBytes = wanted.map { bits in bytesOf((0..<pieceCount).map { bits[$0] }) } ?? layout.dataLength
        let bytesHave = bytesOf(have)
        report(.started(.init(name: torrent.name, contentPath: contentPath, pieceCount: pieceCount,
                              piecesHave: picker.haveCount, piecesTrusted: trusted.setCount, piecesRechecked: rechecked.count,
                              totalBytes: wantedBytes, bytesLeft: max(0, wantedBytes - bytesHave), resumeProblem: resumeProblem)))
        if !rechecked.isEmpty { saveState(force: true, synchronously: true) }
    }

    /// Serve-only: the data is opened read-only and checked (or trusted); nothing is created or recorded.
    func prepareToServe() throws(SwarmError) {
        let torrent = configuration.torrent
        do {
            store = try PieceStore(layout: layout, contentPath: contentPath, access: .read)
        } catch {
            throw Self.map(error)
        }
        let pieceCount = layout.pieceCount
        var have = [Bool](repeating: configuration.trustData, count: pieceCount)
        if !configuration.trustData {
            for piece in recheck(Array(0..<pieceCount)) { have[piece] = true }
        }
        picker = PiecePicker(layout: layout.pieces, have: have, generator: random)
        report(.started(.init(name: torrent.name, contentPath: contentPath, pieceCount: pieceCount,
                              piecesHave: picker.haveCount, piecesTrusted: configuration.trustData ? pieceCount : 0,
                              piecesRechecked: configuration.trustData ? 0 : picker.haveCount,
                              totalBytes: layout.dataLength, bytesLeft: layout.dataLength - bytesOf(have))))
        if picker.haveCount == 0 && pieceCount > 0 {
            throw .nothingToServe("\(contentPath): no piece matches \(torrent.name); nothing to serve")
        }
    }

    /// Hashes pieces found on disk on all cores; returns the good ones.
    func recheck(_ pieces: [Int]) -> [Int] {
        guard !pieces.isEmpty else { return [] }
        // Storage's Verifier checks whole torrents; this checks only the pieces not trusted already.
        let good = Mutex([Bool](repeating: false, count: pieces.count))
        let store = self.store!, hashes = self.hashes!, lengths = self.lengths!
        DispatchQueue.concurrentPerform(iterations: pieces.count) { index in
            guard let piece = lengths.piece(pieces[index]), let bytes = try? store.readPiece(piece), hashes.matches(piece, bytes) else { return }
            good.withLock { $0[index] = true }
        }
        let verdicts = good.withLock { $0 }
        return pieces.indices.filter { verdicts[$0] }.map { pieces[$0] }
    }

    func bytesOf(_ have: [Bool]) -> Int64 {
        var total: Int64 = 0
        for piece in have.indices where have[piece] { if let index = lengths.piece(piece) { total += Int64(lengths.length(of: index)) } }
        return total
    }

    static func map(_ error: StorageError) -> SwarmError {
        switch error {
        case .unsafePath, .badTorrent: return .badTorrent(error.description)
        default: return .storage(error.description)
        }
    }

}

extension SwarmEngine {
    /// Piece buffers (up to 16 MiB each) come and go all the time. glibc raises its mmap threshold
    /// to the size of the first large block freed, after which 1 MiB pieces are carved from the heap
    /// and their memory stays with the process when freed (a download held 19 MiB of heap for ~12 MiB
    /// of live pieces). A fixed threshold keeps every block of 256 KiB or more in its own mapping,
    /// unmapped when freed.
    static func returnLargeBuffersToTheSystem() {
        _ = tt_set_mmap_threshold(256 << 10)
    }
}
