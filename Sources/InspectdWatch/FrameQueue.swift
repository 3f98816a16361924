import Foundation
import InspectdFiles
import Synchronization

/// Frames on their way from the watcher (and anyone else who finds one) to the daemon's single
/// consumer.
///
/// Bounded on purpose: when the consumer falls behind, `push` suspends, the watcher stops reading
/// inotify, and the kernel queue takes the pressure; if that overflows, the watcher rescans and
/// finds what the dropped events would have named. An unbounded queue would instead grow until
/// the daemon runs out of memory during a burst.
public final class FrameQueue: Sendable {
    /// How many frames may wait in the queue before `push` suspends.
    public let capacity: Int

    private let state: Mutex<State>

    public init(capacity: Int) {
        precondition(capacity >= 1, "FrameQueue capacity must be at least 1, got \(capacity)")
        self.capacity = capacity
        state = Mutex(State(capacity: capacity))
    }

    /// Frames waiting for the consumer now.
    public var depth: Int { state.withLock { $0.count } }

    /// Queues `frame`, suspending while the queue is full. Returns whether the frame was queued:
    /// false when a frame with the same path is already waiting (the consumer will read the file once
    /// anyway), after `finish()`, or when the calling task was cancelled while it waited.
    @discardableResult
    public func push(_ frame: FrameArrival) async -> Bool {
        let id = state.withLock { $0.makeID() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let handOff = state.withLock { s -> CheckedContinuation<FrameArrival?, Never>? in
                    if s.finished || Task.isCancelled || s.waiting.contains(frame.path) {
                        continuation.resume(returning: false)
                        return nil
                    }
                    if let consumer = s.consumer {
                        // The consumer waits only on an empty buffer: give it the frame directly.
                        s.consumer = nil
                        continuation.resume(returning: true)
                        return consumer.continuation
                    }
                    s.waiting.insert(frame.path)
                    if s.count < s.capacity {
                        s.append(frame)
                        continuation.resume(returning: true)
                    } else {
                        s.producers.append(Producer(id: id, frame: frame, continuation: continuation))
                    }
                    return nil
                }
                handOff?.resume(returning: frame)
            }
        } onCancel: {
            let cancelled = state.withLock { s -> CheckedContinuation<Bool, Never>? in
                guard let index = s.producers.firstIndex(where: { $0.id == id }) else { return nil }
                let producer = s.producers.remove(at: index)
                s.waiting.remove(producer.frame.path)
                return producer.continuation
            }
            cancelled?.resume(returning: false)
        }
    }

    /// The next frame, suspending while the queue is empty; nil once the queue is finished and
    /// drained, or when the calling task is cancelled while it waits. One consumer only.
    public func next() async -> FrameArrival? {
        let id = state.withLock { $0.makeID() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<FrameArrival?, Never>) in
                let released = state.withLock { s -> CheckedContinuation<Bool, Never>? in
                    if let (frame, released) = s.take() {
                        continuation.resume(returning: frame)
                        return released
                    }
                    if s.finished || Task.isCancelled {
                        continuation.resume(returning: nil)
                        return nil
                    }
                    precondition(s.consumer == nil, "FrameQueue.next() called by two consumers at once")
                    s.consumer = Consumer(id: id, continuation: continuation)
                    return nil
                }
                released?.resume(returning: true)
            }
        } onCancel: {
            let cancelled = state.withLock { s -> CheckedContinuation<FrameArrival?, Never>? in
                guard let consumer = s.consumer, consumer.id == id else { return nil }
                s.consumer = nil
                return consumer.continuation
            }
            cancelled?.resume(returning: nil)
        }
    }

    /// Up to `limit` of the frames waiting now, oldest first, without suspending (none when the
    /// queue is empty). The consumer takes them with the one `next()` gave it, to handle together
    /// what piled up while it was busy.
    public func takeWaiting(upTo limit: Int) -> [FrameArrival] {
        let (frames, released) = state.withLock { s -> ([FrameArrival], [CheckedContinuation<Bool, Never>]) in
            var frames: [FrameArrival] = [], released: [CheckedContinuation<Bool, Never>] = []
            while frames.count < limit, let (frame, producer) = s.take() {
                frames.append(frame)
                if let producer { released.append(producer) }
            }
            return (frames, released)
        }
        for producer in released { producer.resume(returning: true) }
        return frames
    }

    /// No more frames will be pushed: the consumer drains what is queued, then gets nil. Producers
    /// still waiting for room get false.
    public func finish() {
        let (consumer, producers) = state.withLock { s -> (CheckedContinuation<FrameArrival?, Never>?, [Producer]) in
            s.finished = true
            let consumer = s.consumer
            s.consumer = nil
            let producers = s.producers
            s.producers = []
            for producer in producers { s.waiting.remove(producer.frame.path) }
            return (consumer?.continuation, producers)
        }
        consumer?.resume(returning: nil)
        for producer in producers { producer.continuation.resume(returning: false) }
    }

    private struct Producer {
        let id: UInt64
        let frame: FrameArrival
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct Consumer {
        let id: UInt64
        let continuation: CheckedContinuation<FrameArrival?, Never>
    }

    private struct State {
        let capacity: Int
        /// Ring buffer of `capacity` slots.
        var slots: [FrameArrival?]
        var head = 0
        var count = 0
        /// Paths in the buffer or held by a suspended producer: the duplicates `push` refuses.
        var waiting: Set<RawPath> = []
        var producers: [Producer] = []
        var consumer: Consumer?
        var finished = false
        var lastID: UInt64 = 0

        init(capacity: Int) {
            self.capacity = capacity
            slots = Array(repeating: nil, count: capacity)
        }

        mutating func makeID() -> UInt64 {
            lastID += 1
            return lastID
        }

        mutating func append(_ frame: FrameArrival) {
            slots[(head + count) % capacity] = frame
            count += 1
        }

        /// The oldest frame, no longer counted as waiting. The slot it frees goes to the
        /// longest-waiting producer (whose path stays in `waiting`); that producer's continuation is
        /// returned, to be resumed outside the lock.
        mutating func take() -> (FrameArrival, CheckedContinuation<Bool, Never>?)? {
            guard let frame = removeFirst() else { return nil }
            waiting.remove(frame.path)
            guard !producers.isEmpty else { return (frame, nil) }
            let producer = producers.removeFirst()
            append(producer.frame)
            return (frame, producer.continuation)
        }

        mutating func removeFirst() -> FrameArrival? {
            guard count > 0 else { return nil }
            let frame = slots[head]
            slots[head] = nil
            head = (head + 1) % capacity
            count -= 1
            return frame
        }
    }
}
