import Testing
@testable import TTCommands

/// The text helpers that replaced Foundation's (String(format:), padding, trimming, ISO 8601).
@Suite struct FormatTests {
    @Test func paddedFillsAndCuts() {
        #expect(Format.padded("name", 8) == "name    ")
        #expect(Format.padded("announce-list", 8) == "announce")
        #expect(Format.padded("", 2) == "  ")
    }

    @Test func trimmedKeepsIndentationWhenAskedTo() {
        #expect(Format.trimmed("  a b \n\n") == "a b")
        #expect(Format.trimmed("\n  indented\n", newlinesOnly: true) == "  indented")
        #expect(Format.trimmed(" \t ") == "")
    }

    @Test(arguments: [(0, "1970-01-01T00:00:00Z"), (1_700_000_000, "2023-11-14T22:13:20Z"), (951_782_400, "2000-02-29T00:00:00Z")])
    func iso8601(_ seconds: Int64, _ expected: String) {
        #expect(Format.iso8601(secondsSince1970: seconds) == expected)
    }

    @Test func oneDecimalLikePrintf() {
        #expect(Format.format1(12.34) == "12.3")
        #expect(Format.format1(0.05) == "0.1")
        #expect(Format.format1(99.96) == "100.0")
    }
}
