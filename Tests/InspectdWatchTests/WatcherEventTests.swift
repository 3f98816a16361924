import Foundation
import InspectdFiles
import InspectdTesting
import InspectdWatch
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Frames arriving while the watcher runs, through real inotify events.
@Suite struct WatcherEventTests {
    @Test func frameWrittenInPlaceArrivesOnce() async throws {
        let folder = try TemporaryFolder()
        let run = WatchRun(cameras: [camera(folder.url)])
        #expect(await run.started())
        let file = try folder.write("frame-001.png", bytes: 5000)
        #expect(await eventually { run.arrivals(named: "frame-001.png") == 1 })
        try folder.write("sentinel.png")
        #expect(await eventually { run.arrivals(named: "sentinel.png") == 1 })
        await run.stop()
        let arrival = try #require(run.arrivals.first)
        #expect(arrival.path == RawPath(file.path) && arrival.camera == "cam" && arrival.subfolder == nil)
        #expect(run.arrivals(named: "frame-001.png") == 1)
        #expect(run.failure == nil)
    }

    @Test func frameRenamedInFromATemporaryNameArrivesUnderItsFinalName() async throws {
        let folder = try TemporaryFolder()
        let run = WatchRun(cameras: [camera(folder.url)])
        #expect(await run.started())
        let staged = try folder.write(".frame-002.png.tmp", bytes: 3000)
        try FileManager.default.moveItem(at: staged, to: folder.path("frame-002.png"))
        #expect(await eventually { run.arrivals(named: "frame-002.png") == 1 })
        try folder.write("sentinel.png")
        #expect(await eventually { run.arrivals(named: "sentinel.png") == 1 })
        await run.stop()
        #expect(run.arrivedNames == ["frame-002.png", "sentinel.png"])
    }

    @Test func temporaryAndForeignNamesAreIgnored() async throws {
        let folder = try TemporaryFolder()
        let run = WatchRun(cameras: [camera(folder.url)])
        #expect(await run.started())
        for name in [".hidden.png", "a.png.tmp", "b.png.part", "c.png.partial", "d.png.crdownload", "e.png.swp",
                     "f.png~", "g.txt", "noextension", "h.PNG.TMP"] {
            try folder.write(name)
        }
        try folder.write("UPPER.PNG")
        try folder.write("z-sentinel.jpg")
        #expect(await eventually { run.arrivals(named: "z-sentinel.jpg") == 1 })
        await run.stop()
        #expect(run.arrivedNames == ["UPPER.PNG", "z-sentinel.jpg"])
    }

    @Test func fileNameRules() {
        let cam = WatchedCamera(name: "c", folder: URL(fileURLWithPath: "/c"), extensions: [".PNG", "jpeg"])
        #expect(cam.acceptsFileName("a.png") && cam.acceptsFileName("A.Png") && cam.acceptsFileName("b.JPEG"))
        #expect(!cam.acceptsFileName("a.jpg"))          // not one of this camera's extensions
        #expect(!cam.acceptsFileName(".a.png") && !cam.acceptsFileName("a.png~") && !cam.acceptsFileName("a.png.part"))
        #expect(!cam.acceptsFileName("png") && !cam.acceptsFileName("a.") && !cam.acceptsFileName("a.png.swp"))
    }

    @Test func framesInANewSubfolderAndANewNestedSubfolderArrive() async throws {
        let folder = try TemporaryFolder()
        let run = WatchRun(cameras: [camera(folder.url)])
        #expect(await run.started())
        try folder.write("day1/f1.png")
        // mkdir -p and write at once: the file may land before either folder is watched.
        try folder.write("day2/line-a/f2.png")
        try folder.write("day2/line-a/deeper/f3.png")
        #expect(await eventually { Set(run.arrivedNames) == ["f1.png", "f2.png", "f3.png"] })
        // Folders found this way are watched from now on.
        try folder.write("day2/line-a/deeper/f4.png")
        #expect(await eventually { run.arrivals(named: "f4.png") == 1 })
        await run.stop()
        let bySubfolder = Dictionary(run.arrivals.map { ($0.path.lastComponent.description, $0.subfolder) }, uniquingKeysWith: { a, _ in a })
        #expect(bySubfolder["f1.png"] == "day1")
        #expect(bySubfolder["f3.png"] == "day2")
        #expect(run.arrivals(named: "f4.png") == 1)
    }

    @Test func aFolderMovedInBringsItsFrames() async throws {
        let folder = try TemporaryFolder()
        let outside = try TemporaryFolder()
        try outside.write("batch/one.png")
        try outside.write("batch/inner/two.png")
        let run = WatchRun(cameras: [camera(folder.url)])
        #expect(await run.started())
        try FileManager.default.moveItem(at: outside.path("batch"), to: folder.path("batch"))
        #expect(await eventually { Set(run.arrivedNames) == ["one.png", "two.png"] })
        try folder.write("batch/inner/three.png")
        #expect(await eventually { run.arrivals(named: "three.png") == 1 })
        // Moved away, the folder's frames are no longer this camera's business.
        try FileManager.default.moveItem(at: folder.path("batch"), to: outside.path("gone"))
        try outside.write("gone/inner/four.png")
        try folder.write("sentinel.png")
        #expect(await eventually { run.arrivals(named: "sentinel.png") == 1 })
        await run.stop()
        #expect(run.arrivals(named: "four.png") == 0)
        #expect(run.arrivals.allSatisfy { $0.path.relative(to: RawPath(folder.url.path)) != nil })
    }

    @Test func aNonRecursiveCameraIgnoresSubfolders() async throws {
        let folder = try TemporaryFolder()
        let run = WatchRun(cameras: [camera(folder.url, recursive: false)])
        #expect(await run.started())
        try folder.write("sub/inside.png")
        try folder.write("top.png")
        #expect(await eventually { run.arrivals(named: "top.png") == 1 })
        await run.stop()
        #expect(run.arrivedNames == ["top.png"])
    }

    @Test func aFramePausedHalfWrittenIsTakenOnceAfterItIsComplete() async throws {
        let folder = try TemporaryFolder()
        let clock = ManualWatchClock()
        let run = WatchRun(cameras: [camera(folder.url)], settle: .milliseconds(200), clock: clock)
        #expect(await run.started())
        let path = folder.path("slow.png").path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try #require(descriptor >= 0)
        let half = [UInt8](repeating: 1, count: 4000)
        #expect(half.withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) } == 4000)
        // The writer stalls for longer than the settle time: nothing may be taken meanwhile. A
        // frame closed after it arrives, so its creation event has been seen by then.
        await clock.advance(by: .seconds(1))
        try folder.write("first-sentinel.png")
        #expect(await eventually { run.arrivals(named: "first-sentinel.png") == 1 })
        #expect(run.arrivals(named: "slow.png") == 0)
        #expect(half.withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) } == 4000)
        close(descriptor)
        #expect(await eventually { run.arrivals(named: "slow.png") == 1 })
        #expect(run.sizes(named: "slow.png") == [8000])
        try folder.write("sentinel.png")
        #expect(await eventually { run.arrivals(named: "sentinel.png") == 1 })
        await run.stop()
        #expect(run.arrivals(named: "slow.png") == 1)
    }

    @Test func framesOfSeveralCamerasAreTaggedWithTheirCamera() async throws {
        let left = try TemporaryFolder()
        let right = try TemporaryFolder()
        let run = WatchRun(cameras: [camera(left.url, name: "left"), camera(right.url, name: "right")])
        #expect(await run.started())
        try left.write("l.png")
        try right.write("r.png")
        #expect(await eventually { run.arrivals.count == 2 })
        await run.stop()
        let cameras = Dictionary(run.arrivals.map { ($0.path.lastComponent.description, $0.camera) }, uniquingKeysWith: { a, _ in a })
        #expect(cameras == ["l.png": "left", "r.png": "right"])
    }

    @Test func aFolderClaimedByTwoCamerasIsReportedNotStolen() async throws {
        let folder = try TemporaryFolder()
        let run = WatchRun(cameras: [camera(folder.url, name: "first"), camera(folder.url, name: "second")])
        #expect(await run.started())
        #expect(run.events.contains(.watchFailed(folder: folder.url.path, reason: "already watched for camera first")))
        try folder.write("f.png")
        #expect(await eventually { run.arrivals(named: "f.png") == 1 })
        await run.stop()
        #expect(run.arrivals.map(\.camera) == ["first"])
    }
}

/// Writers that close a frame and open it again to write the rest: with the camera's `settle`,
/// the frame is taken once, whole, when it stopped changing.
@Suite struct WatcherSettleTests {
    func writeInTwoOpens(_ url: URL, pause: Duration) async throws {
        let half = Data(repeating: 5, count: 2000)
        try half.write(to: url)
        try await Task.sleep(for: pause)
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: half)
        try handle.close()
    }

    @Test func aFrameWrittenInTwoOpensIsTakenOnceWhole() async throws {
        let folder = try TemporaryFolder()
        let clock = ManualWatchClock()
        let settle = Duration.milliseconds(700)
        let run = WatchRun(cameras: [camera(folder.url, settle: settle)], clock: clock)
        #expect(await run.started())
        // However long the writer pauses between its two opens, the camera's settle time only runs
        // when the test moves the clock.
        try await writeInTwoOpens(folder.path("two-opens.png"), pause: .milliseconds(200))
        try folder.write("sentinel.png")
        // A move of no time: once handled, the watcher has read the close events, and their settle
        // times count from this moment.
        await clock.advance(by: .zero)
        await clock.advance(by: settle - .milliseconds(1))
        #expect(run.arrivals(named: "two-opens.png") == 0)
        await clock.advance(by: .milliseconds(1))
        #expect(await eventually { run.arrivals(named: "two-opens.png") == 1 && run.arrivals(named: "sentinel.png") == 1 })
        // Later settle checks do not take it again.
        await clock.advance(by: .seconds(5))
        try folder.write("late.png")
        await clock.advance(by: .zero)
        await clock.advance(by: settle)
        #expect(await eventually { run.arrivals(named: "late.png") == 1 })
        await run.stop()
        #expect(run.sizes(named: "two-opens.png") == [4000])
    }
}
