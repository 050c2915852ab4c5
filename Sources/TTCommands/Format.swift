import Glibc

/// Human-readable numbers for the non-JSON views.
public enum Format {
    public static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        if unit == 0 { return "\(count) B" }
        return (value >= 100 ? String(Int(value.rounded())) : String(format1(value))) + " " + units[unit]
    }

    public static func rate(_ bytesPerSecond: Double) -> String {
        bytes(Int64(bytesPerSecond)) + "/s"
    }

    static func format1(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    public static func seconds(_ value: Double) -> String {
        if value < 1 { return "\(Int((value * 1000).rounded())) ms" }
        if value < 60 { return format1(value) + " s" }
        let total = Int(value.rounded())
        if total < 3600 { return "\(total / 60)m\(String(format2(total % 60)))s" }
        return "\(total / 3600)h\(format2(total / 60 % 60))m"
    }

    static func format2(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// `text` followed by spaces up to `width` characters (cut to `width` when longer), for columns.
    static func padded(_ text: String, _ width: Int) -> String {
        let count = text.count
        return count >= width ? String(text.prefix(width)) : text + String(repeating: " ", count: width - count)
    }

    /// `text` without leading and trailing whitespace (or only newlines, keeping indentation).
    static func trimmed(_ text: String, newlinesOnly: Bool = false) -> String {
        let trim: (Character) -> Bool = newlinesOnly ? { $0.isNewline } : { $0.isWhitespace }
        let kept = text.drop(while: trim)
        return String(kept.reversed().drop(while: trim).reversed())
    }

    /// An instant as ISO 8601 in UTC ("2026-12-02T09:41:30Z").
    static func iso8601(secondsSince1970 seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        guard gmtime_r(&time, &parts) != nil else { return "\(seconds)" }
        func two(_ value: Int32) -> String { format2(Int(value)) }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
