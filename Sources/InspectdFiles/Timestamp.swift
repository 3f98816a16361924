import Foundation

/// The one way records written to disk say when: ISO 8601 in UTC to the second ("2026-12-07T20:30:31Z").
public enum Timestamp {
    public static func iso8601(_ date: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
