import Foundation
import InspectdFiles
import InspectdWatch
import Synchronization
import Testing

@Suite struct FrameQueueTests {
    func frame(_ name: String) -> FrameArrival {
        FrameArrival(camera: "cam", path: RawPath("/frames/\(name)"), subfolder: nil, seenAt: .now)
    }

    @Test func deliversInOrderAndRefusesAQueuedDuplicate() async {
        let queue = FrameQueue(capacity: 4)
        #expect(await queue.push(frame("a.png")))
        #expect(await queue.push(frame("b.png")))
        #expect(await !queue.push(frame("a.png")))
        #expect(queue.depth == 2 && queue.capacity == 4)
        #expect(await queue.next()?.path.lastComponent.description == "a.png")
        // Taken by the consumer, so the same file may be queued again (it may have new content).
        #expect(await queue.push(frame("a.png")))
        #expect(await queue.next()?.path.lastComponent.description == "b.png")
        #expect(await queue.next()?.path.lastComponent.description == "a.png")
        #expect(queue.depth == 0)
    }

    @Test func pushWaitsWhileFullAndResumesWhenTheConsumerTakesOne() async {
        let queue = FrameQueue(capacity: 2)
        await queue.push(frame("1.png"))
        await queue.push(frame("2.png"))
        let pushed = Mutex(false)
        let producer = Task {
            await queue.push(frame("3.png"))
            pushed.withLock { $0 = true }
        }
        // Room for a mistaken early return to show.
        try? await Task.sleep(for: .milliseconds(100))
        #expect(!pushed.withLock { $0 })
        #expect(queue.depth == 2)
        // A duplicate of the waiting producer's frame is refused without waiting.
        #expect(await !queue.push(frame("3.png")))
        #expect(await queue.next()?.path.lastComponent.description == "1.png")
        await producer.value
        #expect(pushed.withLock { $0 })
        #expect(await queue.next()?.path.lastComponent.description == "2.png")
        #expect(await queue.next()?.path.lastComponent.description == "3.png")
    }

    /// What piled up is taken at once, up to the limit, oldest first, and the room it makes goes
    /// to a waiting producer; an empty queue gives nothing, at once.
    @Test func takeWaitingTakesUpToTheLimitAndAdmitsAWaitingProducer() async {
        let queue = FrameQueue(capacity: 3)
        #expect(queue.takeWaiting(upTo: 8).isEmpty)
        for name in ["1.png", "2.png", "3.png"] { await queue.push(frame(name)) }
        let producer = Task { await queue.push(frame("4.png")) }
        try? await Task.sleep(for: .milliseconds(100))  // the producer waits for room
        #expect(queue.takeWaiting(upTo: 2).map(\.path.lastComponent.description) == ["1.png", "2.png"])
        #expect(await producer.value)
        #expect(queue.takeWaiting(upTo: 8).map(\.path.lastComponent.description) == ["3.png", "4.png"])
        #expect(queue.depth == 0)
        // Taken, so the same file may be queued again.
        #expect(await queue.push(frame("1.png")))
    }

    @Test func nextWaitsForAProducer() async {
        let queue = FrameQueue(capacity: 1)
        let consumer = Task { await queue.next() }
        try? await Task.sleep(for: .milliseconds(50))
        #expect(await queue.push(frame("x.png")))
        #expect(await consumer.value?.path.lastComponent.description == "x.png")
        #expect(queue.depth == 0)
    }

    @Test func finishDrainsThenEnds() async {
        let queue = FrameQueue(capacity: 3)
        await queue.push(frame("a.png"))
        queue.finish()
        #expect(await !queue.push(frame("b.png")))
        #expect(await queue.next()?.path.lastComponent.description == "a.png")
        #expect(await queue.next() == nil)
        let waiting = Task { await queue.next() }
        #expect(await waiting.value == nil)
    }

    @Test func finishReleasesAWaitingConsumerAndWaitingProducers() async {
        let consumerQueue = FrameQueue(capacity: 1)
        let consumer = Task { await consumerQueue.next() }
        try? await Task.sleep(for: .milliseconds(50))
        consumerQueue.finish()
        #expect(await consumer.value == nil)

        let producerQueue = FrameQueue(capacity: 1)
        await producerQueue.push(frame("a.png"))
        let producer = Task { await producerQueue.push(frame("b.png")) }
        try? await Task.sleep(for: .milliseconds(50))
        producerQueue.finish()
        #expect(await producer.value == false)
        #expect(await producerQueue.next()?.path.lastComponent.description == "a.png")
        #expect(await producerQueue.next() == nil)
    }

    @Test func cancelledPushAndNextReturnAndLeaveTheQueueUsable() async {
        let queue = FrameQueue(capacity: 1)
        await queue.push(frame("a.png"))
        let producer = Task { await queue.push(frame("b.png")) }
        try? await Task.sleep(for: .milliseconds(50))
        producer.cancel()
        #expect(await producer.value == false)
        // The cancelled frame holds no place: it can be pushed again, and is not delivered twice.
        #expect(await queue.next()?.path.lastComponent.description == "a.png")
        #expect(await queue.push(frame("b.png")))
        #expect(await queue.next()?.path.lastComponent.description == "b.png")

        let consumer = Task { await queue.next() }
        try? await Task.sleep(for: .milliseconds(50))
        consumer.cancel()
        #expect(await consumer.value == nil)
        // A frame pushed after the cancelled next goes to the next consumer call, not to the void.
        #expect(await queue.push(frame("c.png")))
        #expect(await queue.next()?.path.lastComponent.description == "c.png")

        let alreadyCancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await queue.next()
        }
        #expect(await alreadyCancelled.value == nil)
    }

    @Test func manyProducersOneConsumerLoseNothing() async {
        let queue = FrameQueue(capacity: 3)
        let producers = (0..<4).map { p in
            Task {
                for i in 0..<200 { await queue.push(frame("p\(p)-\(i).png")) }
            }
        }
        let consumer = Task {
            var names: [String] = []
            while let frame = await queue.next() { names.append(frame.path.lastComponent.description) }
            return names
        }
        for producer in producers { await producer.value }
        queue.finish()
        let names = await consumer.value
        #expect(names.count == 800 && Set(names).count == 800)
        // Each producer's frames stay in its order.
        for p in 0..<4 {
            #expect(names.filter { $0.hasPrefix("p\(p)-") } == (0..<200).map { "p\(p)-\($0).png" })
        }
    }
}
