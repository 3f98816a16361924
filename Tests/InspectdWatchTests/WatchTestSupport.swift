import Foundation
import InspectdFiles
import InspectdTesting
import InspectdWatch
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A temporary folder, removed when the test lets go of it.
final class TemporaryFolder: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("inspectd-watch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ relative: String) -> URL { url.appendingPathComponent(relative) }

    /// Writes a frame the way a camera does: open, write, close (one close-after-write event).
    @discardableResult
    func write(_ relative: String, bytes: Int = 256, fill: UInt8 = 7) throws -> URL {
        let file = path(relative)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        // Not FileManager.createFile: it writes a temporary file and renames it.
        let descriptor = open(file.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw WatchFailure(path: file.path, reason: "cannot create test file") }
        defer { close(descriptor) }
        let data = [UInt8](repeating: fill, count: bytes)
        guard data.withUnsafeBytes({ Glibc.write(descriptor, $0.baseAddress!, $0.count) }) == bytes else {
            throw WatchFailure(path: file.path, reason: "cannot write test file")
        }
        return file
    }

    /// Writes a frame whose name is any bytes (`relative` need not be UTF-8), in one go.
    @discardableResult
    func writeRaw(_ relative: [UInt8], bytes: Int = 256) throws -> RawPath {
        let file = RawPath(url).appending(RawPath(bytes: relative))
        let descriptor = file.withCString { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        guard descriptor >= 0 else { throw WatchFailure(path: file.description, reason: "cannot create test file") }
        defer { close(descriptor) }
        let data = [UInt8](repeating: 7, count: bytes)
        guard data.withUnsafeBytes({ Glibc.write(descriptor, $0.baseAddress!, $0.count) }) == bytes else {
            throw WatchFailure(path: file.description, reason: "cannot write test file")
        }
        return file
    }

    /// A file written an hour ago as far as its modification time says: older than any settle time.
    @discardableResult
    func writeOld(_ relative: String, bytes: Int = 256) throws -> URL {
        let file = try write(relative, bytes: bytes)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: file.path)
        return file
    }
}

/// Checks `condition` every 10 ms until it holds or `timeout` passes; whether it held.
func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A frame the test consumer processed, as the daemon would: hashed and recorded in the index.
struct Processed: Sendable, Hashable {
    let path: RawPath
    let sha256: String
    let size: Int64
}

/// A running watcher and a consumer that logs every arrival; given an index, the consumer also
/// deduplicates as the daemon does (unchanged stamp -> stored hash; processed hash -> skip; else
/// process and record).
final class WatchRun: Sendable {
    let queue: FrameQueue
    let watcher: FrameWatcher
    let index: FrameIndex?
    private let log = Box(Log())
    private let tasks = Box<[Task<Void, Never>]>([])

    /// Lets closures share one lock (a Mutex itself cannot be captured: it is not copyable).
    private final class Box<Value: Sendable>: Sendable {
        let mutex: Mutex<Value>
        init(_ value: Value) { mutex = Mutex(value) }
        func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    }

    private struct Log {
        var arrivals: [FrameArrival] = []
        /// The file's size when the consumer took each arrival (nil: gone by then).
        var sizes: [Int64?] = []
        var events: [WatchEvent] = []
        var processed: [Processed] = []
        var hashed = 0
        var failure: String?
    }

    init(cameras: [WatchedCamera], capacity: Int = 64, settle: Duration = .milliseconds(200),
         folderRecheck: Duration = .milliseconds(100), clock: WatchClock = SystemWatchClock(), index: FrameIndex? = nil,
         consume: Bool = true) {
        let queue = FrameQueue(capacity: capacity)
        let log = self.log
        self.queue = queue
        self.index = index
        watcher = FrameWatcher(cameras: cameras, queue: queue, settle: settle, folderRecheck: folderRecheck, clock: clock) { event in
            log.withLock { $0.events.append(event) }
        }
        let watcher = self.watcher
        let run = Task {
            do {
                try await watcher.run()
            } catch {
                log.withLock { $0.failure = "\(error)" }
            }
        }
        tasks.withLock { $0.append(run) }
        if consume { startConsumer() }
    }

    func startConsumer() {
        let consumer = Task { [queue, index, log] in
            while let frame = await queue.next() {
                let size = FileStamp(path: frame.path)?.size
                log.withLock { $0.arrivals.append(frame); $0.sizes.append(size) }
                guard let index else { continue }
                do {
                    try Self.process(frame, index: index, log: log)
                } catch {
                    log.withLock { $0.failure = "\(error)" }
                }
            }
        }
        tasks.withLock { $0.append(consumer) }
    }

    private static func process(_ frame: FrameArrival, index: FrameIndex, log: Box<Log>) throws {
        let path = frame.path
        guard let stamp = FileStamp(path: path) else { return }
        if index.knownHash(path: path, stamp: stamp) != nil { return }
        let sha = try SHA256.hex(RawFile.read(frame.path))
        log.withLock { $0.hashed += 1 }
        // Changed while it was read: its next close event brings it again.
        guard FileStamp(path: path) == stamp, !index.contains(path: path, sha256: sha) else { return }
        log.withLock { $0.processed.append(Processed(path: path, sha256: sha, size: stamp.size)) }
        try index.record(path: path, sha256: sha, stamp: stamp)
    }

    /// Waits until the watcher has its watches and has listed the folders once.
    func started() async -> Bool {
        await eventually { events.contains { if case .started = $0 { true } else { false } } }
    }

    func stop() async {
        let tasks = self.tasks.withLock { $0 }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    var arrivals: [FrameArrival] { log.withLock { $0.arrivals } }
    var events: [WatchEvent] { log.withLock { $0.events } }
    var processed: [Processed] { log.withLock { $0.processed } }
    var hashed: Int { log.withLock { $0.hashed } }
    var failure: String? { log.withLock { $0.failure } }

    /// The sizes the file of this name had when the consumer took it, one per arrival.
    func sizes(named name: String) -> [Int64?] {
        log.withLock { log in zip(log.arrivals, log.sizes).filter { $0.0.path.lastComponent.description == name }.map(\.1) }
    }

    /// How often a file of this name (last path component) arrived.
    func arrivals(named name: String) -> Int { arrivals.filter { $0.path.lastComponent.description == name }.count }

    /// The names that arrived, each once, sorted.
    var arrivedNames: [String] { Array(Set(arrivals.map { $0.path.lastComponent.description })).sorted() }
    /// The paths reported as ignored links, in order.
    var ignoredLinks: [String] {
        events.compactMap { event in
            if case .linkIgnored(let path) = event { return path }
            return nil
        }
    }
}

func camera(_ folder: URL, name: String = "cam", recursive: Bool = true, pollInterval: Duration? = nil,
            settle: Duration? = nil) -> WatchedCamera {
    WatchedCamera(name: name, folder: folder, recursive: recursive, extensions: ["png", "jpg"], pollInterval: pollInterval,
                  settle: settle)
}
