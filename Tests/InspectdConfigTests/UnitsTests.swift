import Foundation
@testable import InspectdConfig
import Testing

@Suite struct DurationAndSizeTests {
    @Test func durations() {
        #expect(Units.duration("250ms") == .milliseconds(250))
        #expect(Units.duration("30s") == .seconds(30))
        #expect(Units.duration("30") == .seconds(30))
        #expect(Units.duration("10m") == .seconds(600))
        #expect(Units.duration("2h") == .seconds(7200))
        #expect(Units.duration("30d") == .seconds(30 * 86400))
        #expect(Units.duration("0") == .zero)
        #expect(Units.duration("0ms") == .zero)
    }

    @Test func malformedDurations() {
        for text in ["", "s", "fast", "5 s", "5S", "1.5h", "-5s", "+5s", "5sec", "5s5", "1h30m", "5w", " 5s",
                     "99999999999999999999s", "9223372036854775807d"] {
            #expect(Units.duration(text) == nil, "\(text)")
        }
    }

    @Test func sizes() {
        #expect(Units.size("0") == 0)
        #expect(Units.size("123") == 123)
        #expect(Units.size("123B") == 123)
        #expect(Units.size("500kB") == 500_000)
        #expect(Units.size("500KB") == 500_000)
        #expect(Units.size("10MB") == 10_000_000)
        #expect(Units.size("2GB") == 2_000_000_000)
        #expect(Units.size("1TB") == 1_000_000_000_000)
        #expect(Units.size("512KiB") == 524_288)
        #expect(Units.size("10MiB") == 10_485_760)
        #expect(Units.size("10GiB") == 10_737_418_240)
        #expect(Units.size("10gib") == 10_737_418_240)
        #expect(Units.size("1TiB") == 1 << 40)
    }

    @Test func malformedSizes() {
        for text in ["", "GiB", "10 GiB", "1.5GB", "-1", "10XB", "10Gi", "10GiBs", "9000000TiB", "99999999999999999999"] {
            #expect(Units.size(text) == nil, "\(text)")
        }
    }
}

@Suite struct DailyWindowTests {
    let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    func at(_ hour: Int, _ minute: Int) -> Date {
        calendar.date(from: DateComponents(year: 2025, month: 3, day: 14, hour: hour, minute: minute, second: 30))!
    }

    @Test func parsing() {
        #expect(DailyWindow(parsing: "22:00-06:00") == .between(start: 1320, end: 360))
        #expect(DailyWindow(parsing: "6:30-18:45") == .between(start: 390, end: 1125))
        #expect(DailyWindow(parsing: "22:00-24:00") == .between(start: 1320, end: 1440))
        #expect(DailyWindow(parsing: "00:00-00:01") == .between(start: 0, end: 1))
        #expect(DailyWindow(parsing: "always") == .always)
        #expect(DailyWindow(parsing: "never") == .never)
        for text in ["", "22:00", "22:00-", "-06:00", "22:00-06:00-07:00", "24:00-06:00", "25:00-06:00", "22:60-06:00",
                     "22:00-22:00", "00:00-24:00", "22-06", "22:0-06:00", "123:00-06:00", "22:00 - 06:00", "Always", "+1:00-02:00"] {
            #expect(DailyWindow(parsing: text) == nil, "\(text)")
        }
    }

    @Test func acrossMidnight() {
        let window = DailyWindow.between(start: 22 * 60, end: 6 * 60)
        #expect(window.contains(at(22, 0), calendar: calendar))
        #expect(window.contains(at(23, 59), calendar: calendar))
        #expect(window.contains(at(0, 0), calendar: calendar))
        #expect(window.contains(at(5, 59), calendar: calendar))
        #expect(!window.contains(at(6, 0), calendar: calendar))
        #expect(!window.contains(at(12, 0), calendar: calendar))
        #expect(!window.contains(at(21, 59), calendar: calendar))
    }

    @Test func withinOneDay() {
        let window = DailyWindow.between(start: 9 * 60, end: 17 * 60 + 30)
        #expect(!window.contains(at(8, 59), calendar: calendar))
        #expect(window.contains(at(9, 0), calendar: calendar))
        #expect(window.contains(at(17, 29), calendar: calendar))
        #expect(!window.contains(at(17, 30), calendar: calendar))
        #expect(!window.contains(at(0, 0), calendar: calendar))
        let toMidnight = DailyWindow.between(start: 22 * 60, end: 1440)
        #expect(toMidnight.contains(at(23, 59), calendar: calendar))
        #expect(!toMidnight.contains(at(0, 0), calendar: calendar))
    }

    @Test func alwaysAndNever() {
        for hour in [0, 6, 12, 23] {
            #expect(DailyWindow.always.contains(at(hour, 0), calendar: calendar))
            #expect(!DailyWindow.never.contains(at(hour, 0), calendar: calendar))
        }
    }

    /// The window is wall-clock time in the calendar's zone: 23:00 UTC is 08:00 in Tokyo.
    @Test func usesTheCalendarsTimeZone() {
        var tokyo = calendar
        tokyo.timeZone = TimeZone(identifier: "Asia/Tokyo")!
        let night = DailyWindow.between(start: 22 * 60, end: 6 * 60)
        #expect(night.contains(at(23, 0), calendar: calendar))
        #expect(!night.contains(at(23, 0), calendar: tokyo))
    }

    @Test func description() {
        #expect(DailyWindow.between(start: 1320, end: 360).description == "22:00-06:00")
        #expect(DailyWindow.between(start: 5, end: 1440).description == "00:05-24:00")
        #expect(DailyWindow.always.description == "always")
        #expect(DailyWindow.never.description == "never")
    }
}
