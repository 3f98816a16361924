import Foundation
import InspectdFiles
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Finds every new camera frame and pushes it into a `FrameQueue`.
///
/// inotify cameras: every folder (every subfolder too when recursive) is watched; a frame is taken
/// when a file is closed after writing or renamed into place, never when it is created, since it is
/// empty then. New subfolders are watched and listed at once (a camera may write into a folder
/// before its watch exists). At start, and on every rescan, all folders are listed: files older than
/// the settle time are taken, younger ones are looked at again once it has passed (an unchanged
/// file is taken then; a changed one waits again), since their close event may or may not still come.
/// Polling cameras are listed every poll interval; a file is taken once two listings in a row saw
/// the same size and modification time.
///
/// The watcher delivers each frame at least once, not exactly once: a rescan repeats files already
/// taken, and a file that is written while its folder is being listed can come twice. Exactly once
/// is the consumer's part, through `FrameIndex`.
public final class FrameWatcher: Sendable {
    public let cameras: [WatchedCamera]
    private let queue: FrameQueue
    private let settle: Duration
    private let folderRecheck: Duration
    private let clock: WatchClock
    private let onEvent: @Sendable (WatchEvent) -> Void
    private let running = Mutex<Running>(.idle)

    private enum Running {
        case idle
        case starting
        case running(Readiness)
    }

    /// - Parameters:
    ///   - settle: how long a file found by a listing must stay unchanged before it is taken.
    ///   - folderRecheck: how often a missing camera folder is looked for.
    ///   - clock: what deadlines and file ages are measured with.
    ///   - onEvent: rescans, folders that cannot be watched, missing and returning folders; called
    ///     on the task running `run()`, so it should return quickly.
    public init(cameras: [WatchedCamera], queue: FrameQueue, settle: Duration = .seconds(2),
                folderRecheck: Duration = .seconds(1), clock: WatchClock = SystemWatchClock(),
                onEvent: @escaping @Sendable (WatchEvent) -> Void) {
        self.cameras = cameras
        self.clock = clock
        self.queue = queue
        self.settle = settle
        self.folderRecheck = folderRecheck
        self.onEvent = onEvent
    }

    /// Watches until the task is cancelled, then closes the inotify descriptor and returns. Throws
    /// when inotify cannot be set up, or when `run()` is already running.
    public func run() async throws {
        let claimed = running.withLock { state in
            guard case .idle = state else { return false }
            state = .starting
            return true
        }
        guard claimed else { throw WatchFailure(path: "inotify", reason: "this FrameWatcher is already running") }

        let descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else {
            let reason = systemError()
            running.withLock { $0 = .idle }
            throw WatchFailure(path: "inotify", reason: "inotify_init1 failed: \(reason)")
        }
        let readiness: Readiness
        do {
            readiness = try Readiness(watching: descriptor, clock: clock)
        } catch {
            close(descriptor)
            running.withLock { $0 = .idle }
            throw error
        }
        running.withLock { $0 = .running(readiness) }

        let session = WatchSession(cameras: cameras, inotify: descriptor, settle: settle, folderRecheck: folderRecheck,
                                   clock: clock, report: onEvent)
        var frames = session.start()
        onEvent(.started(watchedFolders: session.watchedFolders))
        while !Task.isCancelled {
            for frame in frames {
                // push refuses duplicates too; only cancellation ends the loop.
                if await !queue.push(frame), Task.isCancelled { break }
            }
            if Task.isCancelled { break }
            clock.watcherWillWait()
            await readiness.wait(until: session.nextDeadline)
            clock.watcherWoke()
            frames = readiness.takeRescanRequest() ? session.rescan(reason: "requested") : []
            frames += session.readEvents()
            frames += session.handleDue()
        }

        running.withLock { $0 = .idle }
        await readiness.stop()
        close(descriptor)
    }

    /// Lists every camera folder again (for example after SIGHUP); nothing happens unless `run()`
    /// is running.
    public func rescan() {
        let readiness: Readiness? = running.withLock { state in
            guard case .running(let readiness) = state else { return nil }
            return readiness
        }
        readiness?.requestRescan()
    }
}
