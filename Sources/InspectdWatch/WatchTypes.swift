import Foundation
import InspectdFiles
#if canImport(Glibc)
import Glibc
#endif

/// One camera's drop folder.
public struct WatchedCamera: Sendable, Hashable {
    public var name: String
    public var folder: URL
    /// Whether frames in subfolders (at any depth) count; cameras often write one folder per day.
    public var recursive: Bool
    /// File extensions of frames; compared case-insensitively, a leading dot is ignored.
    public var extensions: Set<String> {
        didSet { extensions = Self.normalized(extensions) }
    }
    /// nil: inotify. Otherwise the folder is listed at this interval, for network shares where
    /// inotify sees nothing of what other machines write.
    public var pollInterval: Duration?
    /// nil: a frame is taken at its writer's close. Set: only once it stayed unchanged this long,
    /// for writers that close a frame and reopen it to write more (a close says nothing there).
    public var settle: Duration?

    public init(name: String, folder: URL, recursive: Bool = true, extensions: Set<String> = ["png", "jpg", "jpeg"],
                pollInterval: Duration? = nil, settle: Duration? = nil) {
        self.settle = settle
        self.name = name
        self.folder = folder
        self.recursive = recursive
        self.extensions = Self.normalized(extensions)
        self.pollInterval = pollInterval
    }

    /// Whether a file of this name can be a finished frame of this camera. Writers that stage a
    /// frame under a temporary name and rename it into place use these names; taking such a file
    /// would read it before it is complete, or read a name that is gone a moment later.
    public func acceptsFileName(_ name: String) -> Bool {
        if name.hasPrefix(".") || name.hasSuffix("~") { return false }
        let lower = name.lowercased()
        for suffix in [".tmp", ".part", ".partial", ".crdownload", ".swp"] where lower.hasSuffix(suffix) {
            return false
        }
        guard let dot = lower.lastIndex(of: ".") else { return false }
        let ext = lower[lower.index(after: dot)...]
        return extensions.contains(String(ext))
    }

    private static func normalized(_ extensions: Set<String>) -> Set<String> {
        Set(extensions.map { String($0.lowercased().drop(while: { $0 == "." })) })
    }
}

/// A file the watcher believes is a complete new (or rewritten) frame.
public struct FrameArrival: Sendable, Hashable {
    public var camera: String
    /// The frame's path as the file system has it (its name need not be UTF-8).
    public var path: RawPath
    /// First path component under the camera folder (as text, a byte that is not UTF-8 shown as
    /// `\xHH`); nil for a frame at its top level.
    public var subfolder: String?
    /// When the close or move event (or the scan) saw it.
    public var seenAt: ContinuousClock.Instant

    public init(camera: String, path: RawPath, subfolder: String?, seenAt: ContinuousClock.Instant) {
        self.camera = camera
        self.path = path
        self.subfolder = subfolder
        self.seenAt = seenAt
    }
}

/// What the watcher reports besides frames, for the log and the metrics.
public enum WatchEvent: Sendable, Hashable {
    /// The start-up listing is done: from here on new frames come from events (and polls). Frames
    /// the listing found younger than the settle time may still follow.
    case started(watchedFolders: Int)
    /// Every camera folder is being listed again: after an inotify queue overflow (events were
    /// lost) or on request (SIGHUP).
    case rescan(reason: String)
    /// A folder could not be watched (for example the inotify watch limit was reached); frames
    /// that land there are found only by the next rescan.
    case watchFailed(folder: String, reason: String)
    /// A camera folder does not exist (or is not a folder); it is checked again periodically.
    case folderMissing(String)
    /// A camera folder that was missing now exists and is watched.
    case folderAppeared(String)
    /// A watched camera folder was deleted or moved away; it is waited for like a missing one.
    case folderRemoved(String)
    /// A symbolic link with a frame's name: links are never taken as frames (reported once).
    case linkIgnored(String)
}

/// Size and modification time of a file: what tells, without reading it, whether a file changed.
public struct FileStamp: Sendable, Hashable {
    public var size: Int64
    public var mtime: Date

    public init(size: Int64, mtime: Date) {
        self.size = size
        self.mtime = mtime
    }

    /// The stamp of the regular file at `path`; nil when there is none (a symbolic link is not one).
    public init?(path: RawPath) {
        var info = stat()
        guard path.withCString({ lstat($0, &info) }) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        self.init(info)
    }

    init(_ info: stat) {
        size = Int64(info.st_size)
        mtime = Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec) + TimeInterval(info.st_mtim.tv_nsec) / 1e9)
    }
}

/// A file or folder the watch module could not use; names it and says why.
public struct WatchFailure: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}

/// The watcher's time: a monotonic clock for settle, poll and folder-check deadlines, and the wall
/// clock that files' modification times are compared with. The daemon uses `SystemWatchClock`;
/// tests use a clock they move by hand, so a settle time never runs out while a test is still
/// writing because the machine happened to be busy (a test library's `ManualWatchClock`).
public protocol WatchClock: Sendable {
    var now: ContinuousClock.Instant { get }
    var wallNow: Date { get }
    /// How long the watcher's poll(2) may block for `deadline`, in milliseconds (-1: until woken).
    func pollTimeout(until deadline: ContinuousClock.Instant) -> Int32
    /// Registers what wakes the waiting watcher when time jumps; a real clock never jumps.
    func onAdvance(_ wake: @escaping @Sendable () -> Void)
    /// Told when the watcher has handled what was due and pushed what it found, before it waits,
    /// and when it wakes: how a test clock knows that a move of time has been handled.
    func watcherWillWait()
    func watcherWoke()
}

extension WatchClock {
    public func watcherWillWait() {}
    public func watcherWoke() {}
}

public struct SystemWatchClock: WatchClock {
    public init() {}
    public var now: ContinuousClock.Instant { .now }
    public var wallNow: Date { Date() }

    /// Rounded up, so a wake-up never comes just before the deadline.
    public func pollTimeout(until deadline: ContinuousClock.Instant) -> Int32 {
        let (seconds, attoseconds) = ContinuousClock.now.duration(to: deadline).components
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: max(0, ms))
    }

    public func onAdvance(_ wake: @escaping @Sendable () -> Void) {}
}
