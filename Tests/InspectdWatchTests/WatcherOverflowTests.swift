import Foundation
import InspectdFiles
import InspectdWatch
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A burst against a stalled consumer: backpressure, a real inotify queue overflow, the rescan.
@Suite struct WatcherOverflowTests {
    /// The kernel's per-instance event limit.
    func maxQueuedEvents() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Opens and closes two temporary files for writing, alternately (identical consecutive events
    /// are merged by the kernel): one close-after-write event each, for names the watcher ignores.
    func flood(_ folder: TemporaryFolder, events: Int) throws {
        let paths = [try folder.write("cam/.flood-a.tmp").path, try folder.write("cam/.flood-b.tmp").path]
        for i in 0..<events {
            let descriptor = open(paths[i % 2], O_WRONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw WatchFailure(path: paths[i % 2], reason: "cannot open") }
            close(descriptor)
        }
    }

    @Test func everyFrameOfABurstIsProcessedExactlyOnceAcrossTheOverflowRescan() async throws {
        let folder = try TemporaryFolder()
        let index = try FrameIndex(file: folder.path("frames.index"))
        let cam = folder.path("cam")
        try FileManager.default.createDirectory(at: cam, withIntermediateDirectories: true)
        let run = WatchRun(cameras: [camera(cam)], capacity: 2, settle: .milliseconds(150), index: index, consume: false)
        #expect(await run.started())

        for i in 0..<30 { try folder.write(String(format: "cam/burst-%03d.png", i), fill: UInt8(i)) }
        // The watcher fills the queue, then waits in push and stops reading events.
        #expect(await eventually { run.queue.depth == 2 })

        let limit = try #require(maxQueuedEvents())
        let overflowed = limit <= 200_000
        if overflowed {
            try flood(folder, events: limit + 1000)
        } else {
            // Too large a limit to overflow in a test's time: the same rescan path, on request.
            run.watcher.rescan()
        }
        // Written after the overflow: these events are lost, only the rescan can find them.
        for i in 0..<20 { try folder.write(String(format: "cam/late-%03d.png", i), fill: UInt8(100 + i)) }

        run.startConsumer()
        #expect(await eventually(timeout: .seconds(20)) { run.processed.count == 50 })
        let expectedReason = overflowed ? "inotify queue overflowed" : "requested"
        #expect(run.events.contains(.rescan(reason: expectedReason)))
        try folder.write("cam/sentinel.png")
        #expect(await eventually { run.processed.count == 51 })
        await run.stop()
        #expect(run.failure == nil)
        let paths = run.processed.map(\.path)
        #expect(Set(paths).count == paths.count)
        #expect(Set(paths.map { $0.lastComponent.description })
                == Set((0..<30).map { String(format: "burst-%03d.png", $0) } + (0..<20).map { String(format: "late-%03d.png", $0) } + ["sentinel.png"]))
        #expect(run.processed.allSatisfy { $0.size == 256 })
        // The rescan offered frames that were already processed; the index turned them away.
        #expect(run.arrivals.count > 51)
    }
}
