import Metainfo
import Storage

extension FuzzTarget {
    /// Resume state files (`OUT/.tt/<hash>.resume`): whatever a crash, a full disk or another
    /// program left there.
    public static let resume = FuzzTarget(
        name: "resume", summary: "resume state files",
        exercise: { bytes in try exerciseResume(bytes) },
        seeds: {
            var verified = Bitfield(pieceCount: 10)
            verified.set(0)
            verified.set(9)
            let state = ResumeState(infoHashHex: String(repeating: "ab", count: 20), name: "x",
                                    torrentBytes: Array("d4:infod6:lengthi1eee".utf8), verified: verified)
            return [state.encoded(), ResumeState(infoHashHex: "", name: "", torrentBytes: [], verified: Bitfield(pieceCount: 0)).encoded()]
        })
}

func exerciseResume(_ bytes: [UInt8]) throws {
    guard let state = try? ResumeState(decoding: bytes) else { return }
    if state.verified.setCount > state.verified.pieceCount { throw FuzzViolation("resume state claims more pieces than it has") }
    guard let again = try? ResumeState(decoding: state.encoded()) else { throw FuzzViolation("a resume state we wrote does not load") }
    if again != state { throw FuzzViolation("resume state decode → encode → decode changed it") }
}
