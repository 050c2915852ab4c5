import TestSupport
import Testing
import Tracker

/// The tracker's stream readers, fed at every split point, byte by byte and in shuffled
/// chunkings (TestSupport's StreamingDecoderVerifier): same answer, nothing left over.
@Suite struct TrackerStreamingVerifierTests {
    static let responses: [(String, String)] = [
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhello", "hello"),
        ("HTTP/1.0 200 OK\r\n\r\nuntil close", "until close"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n", "abcde"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n", "0123456789abcdef"),
        ("HTTP/1.1 204 No Content\r\n\r\n", ""),
        ("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop", "nop"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\nd8:intervali60ee", "d8:intervali60ee"),
    ]

    @Test(arguments: 0..<responses.count)
    func responsesDecodeTheSameHoweverTheyArrive(index: Int) throws {
        let (text, body) = Self.responses[index]
        let outcome = StreamingDecoderVerifier.verify(HTTPResponseStream.self, input: Array(text.utf8))
        #expect(outcome.error == nil && outcome.leftover == 0)
        #expect(outcome.outputs.map(\.body) == [Array(body.utf8)])
    }

    static let badResponses: [(String, String)] = [
        ("garbage that is not http\r\n\r\n", "notHTTP"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", "truncated"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", "badChunk"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", "truncated"),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "notHTTP"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", "bodyTooLarge"),
        ("HTTP/1.1 2000 OK\r\n\r\n", "notHTTP"),
    ]

    @Test(arguments: 0..<badResponses.count)
    func badResponsesFailTheSameHoweverTheyArrive(index: Int) {
        let (text, kind) = Self.badResponses[index]
        let outcome = StreamingDecoderVerifier.verify(HTTPResponseStream.self, input: Array(text.utf8))
        #expect(outcome.error == kind, "\(text.debugDescription)")
    }

    @Test func requestHeadsReadTheSameHoweverTheyArrive() {
        let text = "GET /announce?info_hash=%01%02&port=6881 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: x\r\n\r\n"
        let expected = HTTPRequestLine(method: "GET", target: Array("/announce?info_hash=%01%02&port=6881".utf8))
        StreamingDecoderVerifier.verify(HTTPRequestStream.self, input: Array(text.utf8), expected: [expected])
        #expect(Array(expected.path) == Array("/announce".utf8))
        #expect(Array(expected.query) == Array("info_hash=%01%02&port=6881".utf8))
    }

    @Test func badRequestHeadsFailTheSameHoweverTheyArrive() {
        let tooLong = "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n\r\n"
        #expect(StreamingDecoderVerifier.verify(HTTPRequestStream.self, input: Array(tooLong.utf8), shuffles: 3).error == "headTooLarge")
        let noVersion = "GET /announce\r\n\r\n"
        #expect(StreamingDecoderVerifier.verify(HTTPRequestStream.self, input: Array(noVersion.utf8)).error == "badRequestLine")
    }
}
