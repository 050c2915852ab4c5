import Bencode
import FoundationEssentials
import Glibc
import Synchronization
import JSON
import Metainfo
import Storage

/// The `tt verify` result as JSON and as text.
struct VerifyView {
    let torrent: Torrent
    let path: String
    /// The file or folder actually read (the save-path convention may have looked inside `path`).
    var dataPath: String? = nil
    let report: VerifyReport
    let hashes: PieceHashes

    var checkedWith: [String] {
        (hashes.checksV1 ? ["sha1"] : []) + (hashes.checksV2 ? ["sha256"] : [])
    }

    var json: JSONValue {
        let files: [JSONValue] = report.files.map { file in
            .object([
                JSONField("path", .string(file.file.displayPath)),
                JSONField("size", .int(file.file.length)),
                JSONField("actual_size", .optional(file.actualSize)),
                JSONField("status", .string(file.status.rawValue)),
                JSONField("bad_pieces", .array(file.badPieces.map { .int($0) })),
                JSONField("missing_pieces", .array(file.missingPieces.map { .int($0) })),
            ])
        }
        let bad = report.badPieces
        let missing = report.missingPieces
        return .object([
            JSONField("torrent", .string(torrent.name)),
            JSONField("info_hash", .optional(torrent.infoHashes.v1Hex)),
            JSONField("info_hash_v2", .optional(torrent.infoHashes.v2Hex)),
            JSONField("path", .string(path)),
            JSONField("data_path", .optional(dataPath)),
            JSONField("checked_with", .array(checkedWith.map { .string($0) })),
            JSONField("piece_length", .int(report.layout.pieceLength)),
            JSONField("pieces", .object([
                JSONField("total", .int(report.verdicts.count)),
                JSONField("good", .int(report.good)),
                JSONField("bad", .int(bad.count)),
                JSONField("missing", .int(missing.count)),
                JSONField("skipped", .int(report.skipped)),
            ])),
            JSONField("bad_pieces", .array(bad.map { .int($0) })),
            JSONField("missing_pieces", .array(missing.map { .int($0) })),
            JSONField("bytes_checked", .int(report.bytesChecked)),
            JSONField("seconds", .double(report.seconds)),
            JSONField("throughput", .int(Int64(report.throughput))),
            JSONField("files", .array(files)),
            JSONField("ok", .bool(report.ok)),
        ])
    }

    var text: String {
        let bad = report.badPieces
        let missing = report.missingPieces
        var lines: [String] = []
        lines.append("\(torrent.name): \(report.verdicts.count) pieces: \(report.good) good, \(bad.count) bad, \(missing.count) missing"
                     + (report.skipped > 0 ? ", \(report.skipped) skipped (files not selected for download)" : ""))
        lines.append("checked \(Format.bytes(report.bytesChecked)) in \(Format.seconds(report.seconds)) (\(Format.rate(report.throughput))) with \(checkedWith.joined(separator: " + ").uppercased())")
        if !bad.isEmpty { lines.append("bad pieces: \(Self.ranges(bad))") }
        if !missing.isEmpty { lines.append("missing pieces: \(Self.ranges(missing))") }
        let problems = report.files.filter { $0.status != .complete }
        if !problems.isEmpty {
            lines.append("files:")
            for file in problems {
                var line = "  " + Format.padded(file.status.rawValue, 10) + " " + file.file.displayPath
                switch file.status {
                case .short, .tooLong: line += " (\(file.actualSize ?? 0) bytes, expected \(file.file.length))"
                case .missing: line += " (\(file.file.length) bytes expected)"
                default: break
                }
                if !file.badPieces.isEmpty { line += "; bad pieces \(Self.ranges(file.badPieces))" }
                lines.append(line)
            }
        }
        lines.append(report.ok ? "OK" : "FAILED")
        return lines.joined(separator: "\n")
    }

    /// `3, 7-9, 12`.
    static func ranges(_ pieces: [Int], limit: Int = 20) -> String {
        var parts: [String] = []
        var index = 0
        while index < pieces.count {
            var end = index
            while end + 1 < pieces.count && pieces[end + 1] == pieces[end] + 1 { end += 1 }
            parts.append(end == index ? "\(pieces[index])" : "\(pieces[index])-\(pieces[end])")
            index = end + 1
        }
        if parts.count > limit { return parts.prefix(limit).joined(separator: ", ") + ", … (\(parts.count - limit) more runs; --json lists all)" }
        return parts.joined(separator: ", ")
    }
}

/// Progress for `tt verify`: a bar on a TTY, JSON Lines events with `--progress --json`, and plain
/// lines on stderr now and then otherwise.
final class VerifyProgressReporter: @unchecked Sendable {
    private let invocation: Invocation
    private let bar: ProgressBar
    private let jsonLines: Bool
    private let plainLines: Bool
    private let interval: Double
    private let lock = Mutex(())
    private var last = Date()

    init(invocation: Invocation, explicit: Bool) {
        self.invocation = invocation
        let talkative = invocation.verbosity >= .normal
        bar = ProgressBar(environment: invocation.environment, enabled: talkative && !(invocation.json && explicit), label: "verifying")
        jsonLines = invocation.json && explicit
        plainLines = !invocation.environment.stderrIsTerminal && !invocation.json && (explicit || talkative)
        interval = explicit ? 1 : 5
    }

    func update(_ progress: VerifyProgress) {
        bar.update(done: progress.bytesChecked, total: progress.bytesToCheck)
        guard jsonLines || plainLines else { return }
        let due: Bool = lock.withLock { _ in
            let now = Date()
            guard now.timeIntervalSince(last) >= (jsonLines ? 0.5 : interval) else { return false }
            last = now
            return true
        }
        guard due else { return }
        if jsonLines {
            invocation.outputJSON(.object([
                JSONField("event", .string("progress")),
                JSONField("pieces_done", .int(progress.piecesDone)),
                JSONField("pieces_total", .int(progress.pieceCount)),
                JSONField("bytes_checked", .int(progress.bytesChecked)),
                JSONField("bytes_total", .int(progress.bytesToCheck)),
                JSONField("bad", .int(progress.bad)),
                JSONField("missing", .int(progress.missing)),
            ]))
        } else {
            let percent = progress.bytesToCheck > 0 ? progress.bytesChecked * 100 / progress.bytesToCheck : 100
            invocation.environment.writeError("verify: \(percent)% \(Format.bytes(progress.bytesChecked))/\(Format.bytes(progress.bytesToCheck)), \(progress.piecesDone)/\(progress.pieceCount) pieces, \(progress.bad) bad, \(progress.missing) missing\n")
        }
    }

    func finish() { bar.finish() }
}
