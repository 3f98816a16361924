import Foundation
import InspectdFiles
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Waits for the inotify descriptor to become readable, a deadline, or a poke, on a thread of its
/// own: poll(2) blocks, and a blocked thread of the cooperative pool (two of them on the target
/// machine) would stall every other task of the daemon.
///
/// Pokes go through a pipe the thread polls beside inotify; they wake a waiting `wait` early, for
/// cancellation and rescan requests. Posting a wait only signals a semaphore: a poke for it could
/// still sit in the pipe when the thread polls for that very wait, and end it at once, again and
/// again.
final class Readiness: Sendable {
    private let watched: Int32
    private let clock: WatchClock
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let mailbox = Mutex(Mailbox())
    /// Signalled once per posted wait, and once by `stop`.
    private let posted = DispatchSemaphore(value: 0)

    private struct Mailbox {
        var request: Request?
        var rescanRequested = false
        var stopping = false
        var stopped: CheckedContinuation<Void, Never>?
    }

    private struct Request {
        let deadline: ContinuousClock.Instant?
        let continuation: CheckedContinuation<Void, Never>
    }

    /// Starts the thread; it polls `descriptor` (which stays the caller's to close, after `stop`).
    init(watching descriptor: Int32, clock: WatchClock) throws {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw WatchFailure(path: "pipe", reason: "cannot create the wake-up pipe: \(systemError())")
        }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        watched = descriptor
        wakeRead = ends[0]
        wakeWrite = ends[1]
        self.clock = clock
        // A clock moved by hand ends the wait the way a deadline that passed would.
        clock.onAdvance { [weak self] in self?.poke() }
        let thread = Thread { [self] in loop() }
        thread.name = "inspectd-inotify"
        thread.start()
    }

    /// Returns once the descriptor is readable, `deadline` has passed, the task is cancelled, a
    /// rescan was requested, or spuriously; the caller checks what is due.
    func wait(until deadline: ContinuousClock.Instant?) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let posted = mailbox.withLock { m in
                    guard !m.rescanRequested, !m.stopping, !Task.isCancelled else { return false }
                    m.request = Request(deadline: deadline, continuation: continuation)
                    return true
                }
                if posted { self.posted.signal() } else { continuation.resume() }
            }
        } onCancel: {
            poke()
        }
    }

    /// Asks the waiting loop to rescan; `takeRescanRequest` tells it.
    func requestRescan() {
        mailbox.withLock { $0.rescanRequested = true }
        poke()
    }

    func takeRescanRequest() -> Bool {
        mailbox.withLock { m in
            defer { m.rescanRequested = false }
            return m.rescanRequested
        }
    }

    /// Ends the thread and closes the pipe; returns when the thread no longer uses the descriptor.
    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            mailbox.withLock { m in
                m.stopping = true
                m.stopped = continuation
            }
            posted.signal()
            poke()
        }
    }

    private func poke() {
        var byte: UInt8 = 1
        // A full pipe already holds a wake-up; nothing is lost when this write fails.
        _ = write(wakeWrite, &byte, 1)
    }

    private func loop() {
        var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: watched, events: Int16(POLLIN), revents: 0)]
        var drain = [UInt8](repeating: 0, count: 64)
        while true {
            posted.wait()
            let (request, stopping) = mailbox.withLock { ($0.request, $0.stopping) }
            if stopping { break }
            guard let request else { continue }
            while poll(&fds, 2, request.deadline.map(clock.pollTimeout(until:)) ?? -1) < 0 && errno == EINTR {}
            while read(wakeRead, &drain, drain.count) > 0 {}
            let taken = mailbox.withLock { m in
                defer { m.request = nil }
                return m.request
            }
            taken?.continuation.resume()
        }
        close(wakeRead)
        close(wakeWrite)
        let (request, stopped) = mailbox.withLock { m in
            defer { m.request = nil; m.stopped = nil }
            return (m.request, m.stopped)
        }
        request?.continuation.resume()
        stopped?.resume()
    }


}
