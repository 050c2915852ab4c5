import FuzzChecks

// libFuzzer entry point (scripts/fuzz builds it with -DFUZZING); built normally, a corpus replayer.
#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 { FuzzHarness.run(.krpc, data, size) }
#else
@main
struct Replay {
    static func main() { FuzzHarness.replay(.krpc) }
}
#endif
