/// The textual forms of durations and sizes in the configuration.
enum Units {
    /// `"250ms"`, `"30s"`, `"10m"`, `"2h"`, `"30d"`, or a plain count of seconds (`"30"`).
    static func duration(_ text: String) -> Duration? {
        guard let (count, unit) = split(text) else { return nil }
        let secondsPerUnit: Int64
        switch unit {
        case "ms": return .milliseconds(count)
        case "", "s": secondsPerUnit = 1
        case "m": secondsPerUnit = 60
        case "h": secondsPerUnit = 3600
        case "d": secondsPerUnit = 86400
        default: return nil
        }
        let (seconds, overflow) = count.multipliedReportingOverflow(by: secondsPerUnit)
        return overflow ? nil : .seconds(seconds)
    }

    /// `"500kB"`, `"10MB"`, `"10GiB"`, … (decimal units are powers of 1000, binary ones of 1024,
    /// letter case is not significant), or a plain count of bytes.
    static func size(_ text: String) -> Int64? {
        guard let (count, unit) = split(text) else { return nil }
        let multipliers: [String: Int64] = [
            "": 1, "b": 1,
            "kb": 1_000, "mb": 1_000_000, "gb": 1_000_000_000, "tb": 1_000_000_000_000,
            "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
        ]
        guard let multiplier = multipliers[unit.lowercased()] else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    /// Leading decimal digits and the rest, which names the unit.
    private static func split(_ text: String) -> (Int64, Substring)? {
        let digits = text.prefix { ("0"..."9").contains($0) }
        guard !digits.isEmpty, let count = Int64(digits) else { return nil }
        return (count, text[digits.endIndex...])
    }
}
