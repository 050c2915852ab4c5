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
}
