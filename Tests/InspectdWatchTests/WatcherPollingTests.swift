import Foundation
import InspectdFiles
import InspectdTesting
import InspectdWatch
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Cameras on network shares: listed at an interval instead of watched.
@Suite struct WatcherPollingTests {
    @Test func aFileIsTakenOnceItsSizeAndTimeHeldForTwoPolls() async throws {
        let folder = try TemporaryFolder()
        try folder.write("existing.png")
        let clock = ManualWatchClock()
        let interval = Duration.milliseconds(100)
        let run = WatchRun(cameras: [camera(folder.url, pollInterval: interval)], clock: clock)
        #expect(await run.started())
        // The start's listing only notes the file; the next one, with the same stamp, takes it.
        #expect(run.arrivals.isEmpty)
        await clock.advance(by: interval)
        #expect(await eventually { run.arrivals(named: "existing.png") == 1 })
        try folder.write("day/new.png")
        try folder.write("day/.staging.png")
        try folder.write("day/new.png.part")
        await clock.advance(by: interval)
        await clock.advance(by: interval)
        #expect(await eventually { run.arrivals(named: "new.png") == 1 })
        let arrival = try #require(run.arrivals.first { $0.path.lastComponent.description == "new.png" })
        #expect(arrival.subfolder == "day")
        // Unchanged files are not taken again at later polls; a rewritten one is.
        try folder.write("existing.png", bytes: 999)
        await clock.advance(by: interval)
        await clock.advance(by: interval)
        #expect(await eventually { run.arrivals(named: "existing.png") == 2 })
        await clock.advance(by: interval)
        await run.stop()
        #expect(run.arrivedNames == ["existing.png", "new.png"])
        #expect(run.arrivals(named: "new.png") == 1)
    }

    @Test func aGrowingFileIsTakenOnlyWhenItStopsGrowing() async throws {
        let folder = try TemporaryFolder()
        let clock = ManualWatchClock()
        let interval = Duration.milliseconds(300)
        let run = WatchRun(cameras: [camera(folder.url, pollInterval: interval)], clock: clock)
        #expect(await run.started())
        let path = folder.path("growing.png").path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try #require(descriptor >= 0)
        let chunk = [UInt8](repeating: 9, count: 100)
        // It grows between every two polls, for many polls.
        for _ in 0..<40 {
            _ = chunk.withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) }
            await clock.advance(by: interval)
        }
        close(descriptor)
        #expect(run.arrivals(named: "growing.png") == 0)
        await clock.advance(by: interval)
        #expect(await eventually { run.arrivals(named: "growing.png") == 1 })
        #expect(run.sizes(named: "growing.png") == [4000])
        await clock.advance(by: interval)
        await clock.advance(by: interval)
        await run.stop()
        #expect(run.arrivals(named: "growing.png") == 1)
    }

    @Test func aMissingPolledFolderIsReportedAndPickedUpWhenItAppears() async throws {
        let folder = try TemporaryFolder()
        let share = folder.path("share")
        let run = WatchRun(cameras: [camera(share, pollInterval: .milliseconds(100))])
        #expect(await eventually { run.events.contains(.folderMissing(share.path)) })
        try folder.write("share/f.jpg")
        #expect(await eventually { run.arrivals(named: "f.jpg") == 1 })
        #expect(run.events.contains(.folderAppeared(share.path)))
        await run.stop()
    }
}
