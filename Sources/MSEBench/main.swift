import Foundation
import MSE

// RC4 and DH-768 throughput in CPU time, printed as JSON for scripts/bench-mse.
//   MSEBench [megabytes of RC4, default 512] [DH exchanges, default 200]

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let megabytes = arguments.first ?? 512
let exchanges = arguments.dropFirst().first ?? 200

// 16 KiB chunks, the size of a piece block, like `openssl speed`'s largest default block.
let cipher = RC4(key: Array(0..<20), discard: 1024)
var buffer = [UInt8](repeating: 0x5a, count: 16 * 1024)
let rounds = megabytes * 64
var start = cpuSeconds()
buffer.withUnsafeMutableBytes { raw in
    for _ in 0..<rounds { cipher.apply(raw) }
}
let rc4Seconds = cpuSeconds() - start
let rc4Rate = Double(rounds * buffer.count) / rc4Seconds / 1e6

start = cpuSeconds()
var sink: UInt8 = 0
for _ in 0..<exchanges {
    let mine = DHKeyPair.generate()
    sink ^= mine.publicKey[0]
}
let dhSeconds = (cpuSeconds() - start) / Double(exchanges)

print("{\"rc4_mb_per_s\":\(Int(rc4Rate.rounded())),\"rc4_bytes\":\(rounds * buffer.count),\"rc4_cpu_s\":\((rc4Seconds * 1000).rounded() / 1000),"
    + "\"dh768_modexp_ms\":\((dhSeconds * 1e6).rounded() / 1e3),\"check\":\(sink ^ buffer[0])}")
