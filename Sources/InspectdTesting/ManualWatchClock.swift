import Foundation
import InspectdFiles
import InspectdWatch
import Synchronization

/// A watcher clock that stands still until the test moves it, as swift-nio's embedded event loop
/// does for its timers: settle times, polls and folder checks fall due exactly when the test says,
/// however busy the machine is. Its wall clock moves with it, from the real time it was made at.
/// One watcher per clock.
public final class ManualWatchClock: WatchClock {
    private struct State {
        var offset: Duration = .zero
        var wakes: [@Sendable () -> Void] = []
        /// Moves of time so far; the move the watcher's current pass began after; the move its
        /// last finished pass began after.
        var moves = 0
        var passBeganAfter = 0
        var handled = 0
        var waiting: [(move: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }
    private let start = ContinuousClock.now
    private let startDate = Date()
    private let state = Mutex(State())

    public init() {}

    public var now: ContinuousClock.Instant { start + state.withLock { $0.offset } }
    public var wallNow: Date { startDate.addingTimeInterval(state.withLock { $0.offset }.inSeconds) }

    /// Due now: no wait. Later: until the test advances the clock.
    public func pollTimeout(until deadline: ContinuousClock.Instant) -> Int32 { deadline <= now ? 0 : -1 }

    public func onAdvance(_ wake: @escaping @Sendable () -> Void) { state.withLock { $0.wakes.append(wake) } }

    public func watcherWoke() { state.withLock { $0.passBeganAfter = $0.moves } }

    public func watcherWillWait() {
        let ready = state.withLock { s in
            s.handled = s.passBeganAfter
            let ready = s.waiting.filter { $0.move <= s.handled }
            s.waiting.removeAll { $0.move <= s.handled }
            return ready
        }
        for waiter in ready { waiter.continuation.resume() }
    }

    /// Moves time on, wakes the watcher, and returns once it has handled what fell due: frames
    /// that settled or were polled are in its queue by then.
    public func advance(by duration: Duration) async {
        let (move, wakes) = state.withLock { s in
            s.offset += duration
            s.moves += 1
            return (s.moves, s.wakes)
        }
        for wake in wakes { wake() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s in
                if s.handled >= move { return true }
                s.waiting.append((move, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }
}
