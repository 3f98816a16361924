import Foundation
import InspectdFiles
import InspectdTesting
import InspectdWatch
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What the start-up listing takes, restarts against the index, and camera folders that come and go.
@Suite struct WatcherStartupTests {
    @Test func settledFilesAreTakenAtOnceAndYoungOnesAfterTheSettleTime() async throws {
        let folder = try TemporaryFolder()
        try folder.writeOld("old.png")
        try folder.writeOld("sub/old-nested.png")
        let clock = ManualWatchClock()
        try folder.write("young.png")
        let settle = Duration.seconds(2)
        let run = WatchRun(cameras: [camera(folder.url)], settle: settle, clock: clock)
        #expect(await eventually { run.arrivals(named: "old.png") == 1 && run.arrivals(named: "old-nested.png") == 1 })
        // A frame closed after start arrives at once; the young one, closed before the watch
        // existed, gets no event and waits for its settle time.
        try folder.write("sentinel.png")
        #expect(await eventually { run.arrivals(named: "sentinel.png") == 1 })
        await clock.advance(by: settle - .milliseconds(200))
        #expect(run.arrivals(named: "young.png") == 0)
        await clock.advance(by: .milliseconds(200))
        #expect(await eventually { run.arrivals(named: "young.png") == 1 })
        let arrival = try #require(run.arrivals.first { $0.path.lastComponent.description == "young.png" })
        #expect(arrival.seenAt == clock.now)
        await run.stop()
        #expect(run.arrivals.count == 4)
    }

    @Test func aFileStillOpenAtStartIsTakenOnceWhenItIsClosed() async throws {
        let folder = try TemporaryFolder()
        try folder.writeOld("marker.png")
        let path = folder.path("open.png").path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try #require(descriptor >= 0)
        let chunk = [UInt8](repeating: 3, count: 2000)
        _ = chunk.withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) }

        let clock = ManualWatchClock()
        let settle = Duration.seconds(2)
        let run = WatchRun(cameras: [camera(folder.url)], settle: settle, clock: clock)
        // The listing is done once the old marker arrived; the open file is settling now, and the
        // clock stands still: however slow this test runs, its settle time does not run out.
        #expect(await eventually { run.arrivals(named: "marker.png") == 1 })
        _ = chunk.withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) }
        close(descriptor)
        #expect(await eventually { run.arrivals(named: "open.png") == 1 })
        // Past the settle time the pending re-check must not take it a second time.
        await clock.advance(by: settle * 2)
        try folder.write("sentinel.png")
        #expect(await eventually { run.arrivals(named: "sentinel.png") == 1 })
        await run.stop()
        #expect(run.arrivals(named: "open.png") == 1)
        #expect(run.sizes(named: "open.png") == [4000])
    }

    @Test func aRestartSkipsRecordedFramesAndFindsNewAndRewrittenOnes() async throws {
        let folder = try TemporaryFolder()
        let cameraFolder = folder.path("cam")
        let indexFile = folder.path("frames.index")
        let cams = [camera(cameraFolder)]
        do {
            let run = WatchRun(cameras: cams, index: try FrameIndex(file: indexFile))
            #expect(await run.started())
            for name in ["a.png", "b.png", "c.png"] { try folder.write("cam/\(name)", fill: 1) }
            #expect(await eventually { run.processed.count == 3 })
            await run.stop()
        }
        // While the daemon is down: one new frame, one old name with new content.
        try folder.write("cam/d.png", fill: 2)
        try folder.write("cam/b.png", bytes: 300, fill: 3)

        let index = try FrameIndex(file: indexFile)
        let run = WatchRun(cameras: cams, index: index)
        #expect(await eventually { run.processed.count == 2 })
        // The listing offers every file again; wait until all four were looked at.
        #expect(await eventually { Set(run.arrivedNames).isSuperset(of: ["a.png", "b.png", "c.png", "d.png"]) })
        try folder.write("cam/sentinel.png")
        #expect(await eventually { run.processed.contains { $0.path.lastComponent == "sentinel.png" } })
        await run.stop()
        #expect(run.failure == nil)
        #expect(Set(run.processed.map { $0.path.lastComponent.description }) == ["b.png", "d.png", "sentinel.png"])
        // Unchanged files are recognised by size and time, without reading them.
        #expect(run.hashed == 3)
        #expect(index.lastRecord(path: RawPath(cameraFolder.appendingPathComponent("b.png").path))?.size == 300)
    }

    @Test func aCameraFolderCreatedAfterStartIsWaitedFor() async throws {
        let folder = try TemporaryFolder()
        let late = folder.path("late-cam")
        let run = WatchRun(cameras: [camera(late)], folderRecheck: .milliseconds(100))
        #expect(await eventually { run.events.contains(.folderMissing(late.path)) })
        try folder.write("late-cam/first.png")
        #expect(await eventually { run.events.contains(.folderAppeared(late.path)) })
        #expect(await eventually { run.arrivals(named: "first.png") == 1 })
        try folder.write("late-cam/second.png")
        #expect(await eventually { run.arrivals(named: "second.png") == 1 })
        await run.stop()
        #expect(run.arrivedNames == ["first.png", "second.png"])
    }

    @Test func aCameraFolderRemovedAndRecreatedIsWatchedAgain() async throws {
        let folder = try TemporaryFolder()
        let cam = folder.path("cam")
        try folder.write("cam/before.png")
        let run = WatchRun(cameras: [camera(cam)], folderRecheck: .milliseconds(100))
        #expect(await eventually { run.arrivals(named: "before.png") == 1 })
        try FileManager.default.removeItem(at: cam)
        #expect(await eventually { run.events.contains(.folderRemoved(cam.path)) })
        try folder.write("cam/day/after.png")
        #expect(await eventually { run.events.contains(.folderAppeared(cam.path)) })
        #expect(await eventually { run.arrivals(named: "after.png") == 1 })
        try folder.write("cam/day/later.png")
        #expect(await eventually { run.arrivals(named: "later.png") == 1 })
        await run.stop()
    }

    @Test func aRequestedRescanOffersEveryFrameAgain() async throws {
        let folder = try TemporaryFolder()
        try folder.writeOld("a.png")
        try folder.writeOld("sub/b.png")
        let run = WatchRun(cameras: [camera(folder.url)])
        #expect(await eventually { run.arrivals.count == 2 })
        run.watcher.rescan()
        #expect(await eventually { run.arrivals(named: "a.png") == 2 && run.arrivals(named: "b.png") == 2 })
        #expect(run.events.contains(.rescan(reason: "requested")))
        await run.stop()
    }

    @Test func runningTwiceAtOnceIsRefused() async throws {
        let folder = try TemporaryFolder()
        let run = WatchRun(cameras: [camera(folder.url)])
        #expect(await run.started())
        await #expect(throws: WatchFailure.self) { try await run.watcher.run() }
        await run.stop()
    }
}
