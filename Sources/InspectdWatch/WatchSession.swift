import Foundation
import InspectdFiles
#if canImport(Glibc)
import Glibc
#endif

/// The watcher's bookkeeping for one `run()`: which folder each inotify watch is on, which young
/// files wait to settle, what polled folders held. Used by one task only, so it needs no lock;
/// every method returns the frames it found and leaves pushing them (and waiting) to the caller.
final class WatchSession {
    private struct Camera {
        let spec: WatchedCamera
        /// The folder's path without a trailing slash.
        let root: RawPath
        /// nil until first looked at; drives the missing/appeared/removed events.
        var present: Bool?
        var nextPoll: ContinuousClock.Instant?
        /// Polling mode: what the last listing saw, and whether that was taken already.
        var polled: [RawPath: (stamp: FileStamp, taken: Bool)] = [:]
    }

    private struct Watch {
        let camera: Int
        let path: RawPath
    }

    /// A file the scan found younger than the settle time; its close event may still come.
    private struct Settling {
        let camera: Int
        let stamp: FileStamp
        let due: ContinuousClock.Instant
    }

    private let inotify: Int32
    private let settle: Duration
    private let folderRecheck: Duration
    private let clock: WatchClock
    private let report: @Sendable (WatchEvent) -> Void
    private var cameras: [Camera]
    private var watches: [Int32: Watch] = [:]
    private var settling: [RawPath: Settling] = [:]
    /// Links already reported, so that every rescan does not report them again.
    private var reportedLinks: Set<RawPath> = []
    private var nextFolderCheck: ContinuousClock.Instant?
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)

    init(cameras: [WatchedCamera], inotify: Int32, settle: Duration, folderRecheck: Duration, clock: WatchClock,
         report: @escaping @Sendable (WatchEvent) -> Void) {
        self.clock = clock
        self.cameras = cameras.map { Camera(spec: $0, root: Self.normalizedPath($0.folder)) }
        self.inotify = inotify
        self.settle = settle
        self.folderRecheck = folderRecheck
        self.report = report
    }

    deinit { buffer.deallocate() }

    /// Watches every folder, then lists them all.
    func start() -> [FrameArrival] {
        var frames: [FrameArrival] = []
        let now = clock.now
        for i in cameras.indices {
            if cameras[i].spec.pollInterval == nil {
                attach(i, frames: &frames)
            } else {
                // The first listing only notes sizes; a file needs a second, equal look.
                poll(i, now: now, frames: &frames)
            }
        }
        return frames
    }

    var watchedFolders: Int { watches.count }

    /// When something is next due without an event: a settling file, a missing folder, a poll.
    var nextDeadline: ContinuousClock.Instant? {
        var deadline = nextFolderCheck
        func consider(_ instant: ContinuousClock.Instant?) {
            guard let instant else { return }
            deadline = deadline.map { min($0, instant) } ?? instant
        }
        for entry in settling.values { consider(entry.due) }
        for camera in cameras { consider(camera.nextPoll) }
        return deadline
    }

    /// Lists every camera again, for events that were lost or that inotify never sees.
    func rescan(reason: String) -> [FrameArrival] {
        report(.rescan(reason: reason))
        var frames: [FrameArrival] = []
        let now = clock.now
        for i in cameras.indices {
            if cameras[i].spec.pollInterval != nil {
                for path in cameras[i].polled.keys { cameras[i].polled[path]?.taken = false }
                cameras[i].nextPoll = now
            } else if cameras[i].present == true {
                var seen = Set<Int32>()
                let exists = watchTree(i, cameras[i].root, seen: &seen, frames: &frames)
                // Folders whose removal was in the lost events.
                for (wd, watch) in watches where watch.camera == i && !seen.contains(wd) {
                    inotify_rm_watch(inotify, wd)
                    watches[wd] = nil
                }
                if !exists { markGone(i) }
            } else {
                attach(i, frames: &frames)
            }
        }
        return frames
    }

    /// Handles one read's worth of inotify events; reading no more keeps the rest in the kernel
    /// queue while the caller pushes what these found.
    func readEvents() -> [FrameArrival] {
        let count = read(inotify, buffer.baseAddress!, buffer.count)
        guard count > 0 else { return [] }
        var frames: [FrameArrival] = []
        var overflowed = false
        var offset = 0
        let headerSize = MemoryLayout<inotify_event>.size
        while offset + headerSize <= count {
            let wd = buffer.load(fromByteOffset: offset, as: Int32.self)
            let mask = buffer.load(fromByteOffset: offset + 4, as: UInt32.self)
            let nameLength = Int(buffer.load(fromByteOffset: offset + 12, as: UInt32.self))
            let nameBytes = UnsafeRawBufferPointer(rebasing: buffer[(offset + headerSize)..<(offset + headerSize + nameLength)])
            let name = RawPath(bytes: nameBytes.prefix { $0 != 0 })
            offset += headerSize + nameLength
            if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                overflowed = true
            } else if let watch = watches[wd] {
                handle(mask: mask, name: name, in: watch, frames: &frames)
            }
        }
        if overflowed { frames += rescan(reason: "inotify queue overflowed") }
        return frames
    }

    /// Settling files, missing folders and polls that are due.
    func handleDue() -> [FrameArrival] {
        var frames: [FrameArrival] = []
        let now = clock.now
        for (path, entry) in settling where entry.due <= now {
            guard let stamp = FileStamp(path: path) else {
                settling[path] = nil
                continue
            }
            if stamp == entry.stamp {
                take(entry.camera, path, frames: &frames)
            } else {
                settling[path] = Settling(camera: entry.camera, stamp: stamp, due: now + settleTime(entry.camera))
            }
        }
        if let check = nextFolderCheck, check <= now {
            nextFolderCheck = nil
            for i in cameras.indices where cameras[i].spec.pollInterval == nil && cameras[i].present != true {
                attach(i, frames: &frames)
            }
        }
        for i in cameras.indices {
            if let due = cameras[i].nextPoll, due <= now { poll(i, now: now, frames: &frames) }
        }
        return frames
    }

    private func handle(mask: UInt32, name: RawPath, in watch: Watch, frames: inout [FrameArrival]) {
        let gone = UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)
        if mask & gone != 0 {
            drop(watch.path, camera: watch.camera)
            return
        }
        let path = watch.path.appending(name)
        let spec = cameras[watch.camera].spec
        if mask & UInt32(IN_ISDIR) != 0 {
            guard spec.recursive, name.bytes.first != UInt8(ascii: ".") else { return }
            if mask & UInt32(IN_MOVED_FROM) != 0 { drop(path, camera: watch.camera) }
            if mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 {
                // Files may have landed in the new folder before its watch existed.
                var seen = Set<Int32>()
                watchTree(watch.camera, path, seen: &seen, frames: &frames)
            }
        } else if mask & UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) != 0 {
            guard spec.acceptsFileName(name.description) else { return }
            if Self.isLink(path) {
                reportLink(path)
                return
            }
            // A new regular file is taken when it is closed; its creation only says it is coming.
            guard mask & UInt32(IN_CLOSE_WRITE | IN_MOVED_TO) != 0, let stamp = FileStamp(path: path) else { return }
            if let quiet = spec.settle {
                settling[path] = Settling(camera: watch.camera, stamp: stamp, due: clock.now + quiet)
            } else {
                take(watch.camera, path, frames: &frames)
            }
        }
    }

    /// Watches the camera's folder tree and lists it; a missing folder is waited for.
    private func attach(_ i: Int, frames: inout [FrameArrival]) {
        let root = cameras[i].root
        var seen = Set<Int32>()
        guard Self.isDirectory(root), watchTree(i, root, seen: &seen, frames: &frames) else {
            markGone(i)
            return
        }
        if cameras[i].present == false { report(.folderAppeared(root.description)) }
        cameras[i].present = true
    }

    private func markGone(_ i: Int) {
        switch cameras[i].present {
        case nil: report(.folderMissing(cameras[i].root.description))
        case true?: report(.folderRemoved(cameras[i].root.description))
        case false?: break
        }
        cameras[i].present = false
        if cameras[i].spec.pollInterval == nil, nextFolderCheck == nil {
            nextFolderCheck = clock.now + folderRecheck
        }
    }

    /// Adds a watch on `folder` and then lists it, recursing into subfolders when the camera does;
    /// in that order, so a file lands either before the listing or under a watch. False when the
    /// folder is gone; a folder that exists but cannot be watched is reported and listed all the
    /// same, so what is there now is still found.
    @discardableResult
    private func watchTree(_ i: Int, _ folder: RawPath, seen: inout Set<Int32>, frames: inout [FrameArrival]) -> Bool {
        let spec = cameras[i].spec
        let events = spec.recursive
            ? IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF
            : IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF
        let wd = folder.withCString { inotify_add_watch(inotify, $0, UInt32(events | IN_ONLYDIR | IN_EXCL_UNLINK)) }
        if wd >= 0, let owner = watches[wd], owner.camera != i {
            // One inotify watch per folder: a second camera would steal the first one's events.
            report(.watchFailed(folder: folder.description, reason: "already watched for camera \(cameras[owner.camera].spec.name)"))
            return true
        } else if wd >= 0 {
            watches[wd] = Watch(camera: i, path: folder)
            seen.insert(wd)
        } else if errno == ENOENT || errno == ENOTDIR {
            return false
        } else {
            report(.watchFailed(folder: folder.description, reason: systemError()))
        }
        let now = clock.now
        for entry in Self.list(folder) {
            if entry.isDirectory {
                if spec.recursive { watchTree(i, entry.path, seen: &seen, frames: &frames) }
            } else if entry.isLink {
                if spec.acceptsFileName(entry.name.description) { reportLink(entry.path) }
            } else if spec.acceptsFileName(entry.name.description) {
                let age = clock.wallNow.timeIntervalSince(entry.stamp.mtime)
                let settle = settleTime(i)
                if age >= settle.inSeconds {
                    take(i, entry.path, frames: &frames)
                } else {
                    // A clock ahead of the file system's gives a negative age: wait the whole settle time.
                    let wait = age > 0 ? settle - .milliseconds(Int64(age * 1000)) : settle
                    settling[entry.path] = Settling(camera: i, stamp: entry.stamp, due: now + wait)
                }
            }
        }
        return true
    }

    /// Forgets the watches on `folder` and below; the camera's own folder going makes it missing.
    private func drop(_ folder: RawPath, camera i: Int) {
        for (wd, watch) in watches where watch.path == folder || watch.path.relative(to: folder) != nil {
            // Fails harmlessly (EINVAL) for a watch the kernel already removed.
            inotify_rm_watch(inotify, wd)
            watches[wd] = nil
        }
        if folder == cameras[i].root { markGone(i) }
    }

    /// One listing of a polled camera: a file is taken when its stamp equals the previous listing's.
    private func poll(_ i: Int, now: ContinuousClock.Instant, frames: inout [FrameArrival]) {
        cameras[i].nextPoll = now + cameras[i].spec.pollInterval!
        let root = cameras[i].root
        guard Self.isDirectory(root) else {
            cameras[i].polled = [:]
            markGone(i)
            return
        }
        if cameras[i].present == false { report(.folderAppeared(root.description)) }
        cameras[i].present = true
        var listed: [RawPath: (stamp: FileStamp, taken: Bool)] = [:]
        var folders = [root]
        while let folder = folders.popLast() {
            for entry in Self.list(folder) {
                if entry.isDirectory {
                    if cameras[i].spec.recursive { folders.append(entry.path) }
                    continue
                }
                guard cameras[i].spec.acceptsFileName(entry.name.description) else { continue }
                if entry.isLink {
                    reportLink(entry.path)
                    continue
                }
                var taken = false
                if let previous = cameras[i].polled[entry.path], previous.stamp == entry.stamp {
                    taken = previous.taken
                    if !taken {
                        take(i, entry.path, frames: &frames)
                        taken = true
                    }
                }
                listed[entry.path] = (entry.stamp, taken)
            }
        }
        cameras[i].polled = listed
    }

    private func take(_ i: Int, _ path: RawPath, frames: inout [FrameArrival]) {
        settling[path] = nil
        let below = path.relative(to: cameras[i].root)?.components ?? []
        let subfolder = below.count > 1 ? below[0].description : nil
        frames.append(FrameArrival(camera: cameras[i].spec.name, path: path, subfolder: subfolder, seenAt: clock.now))
    }

    private struct Entry {
        let name: RawPath
        let path: RawPath
        let isDirectory: Bool
        /// A symbolic link: listed to be reported, never taken (its stamp is the link's own).
        let isLink: Bool
        let stamp: FileStamp
    }

    /// The folder's regular files, symbolic links and real subfolders, by name; hidden subfolders
    /// are left out, as staging areas (rsync's `.~tmp~`) are hidden. Links are never followed,
    /// whether to files or folders: a frame is a regular file in the camera's folder, and a link
    /// could point anywhere the daemon may read (or back up the tree, without end).
    private static func list(_ folder: RawPath) -> [Entry] {
        var entries: [Entry] = []
        for name in names(in: folder) {
            let path = folder.appending(name)
            var info = stat()
            guard path.withCString({ lstat($0, &info) }) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                if name.bytes.first != UInt8(ascii: ".") { entries.append(Entry(name: name, path: path, isDirectory: true, isLink: false, stamp: FileStamp(info))) }
            case S_IFREG:
                entries.append(Entry(name: name, path: path, isDirectory: false, isLink: false, stamp: FileStamp(info)))
            case S_IFLNK:
                entries.append(Entry(name: name, path: path, isDirectory: false, isLink: true, stamp: FileStamp(info)))
            default:
                continue
            }
        }
        return entries
    }

    /// How long a listed file must stay unchanged: the watcher's, or the camera's when longer.
    private func settleTime(_ i: Int) -> Duration { max(settle, cameras[i].spec.settle ?? .zero) }

    /// The names in a folder, sorted, as the kernel has them (readdir, not Foundation, which
    /// would turn a name that is not UTF-8 into one that does not exist).
    private static func names(in folder: RawPath) -> [RawPath] {
        guard let directory = folder.withCString({ opendir($0) }) else { return [] }
        defer { closedir(directory) }
        var names: [RawPath] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { RawPath(bytes: $0.prefix { $0 != 0 }) }
            if name.bytes != [UInt8(ascii: ".")] && name.bytes != [UInt8(ascii: "."), UInt8(ascii: ".")] { names.append(name) }
        }
        return names.sorted()
    }

    private static func isLink(_ path: RawPath) -> Bool {
        var info = stat()
        return path.withCString { lstat($0, &info) } == 0 && info.st_mode & S_IFMT == S_IFLNK
    }

    private func reportLink(_ path: RawPath) {
        guard reportedLinks.insert(path).inserted else { return }
        report(.linkIgnored(path.description))
    }

    private static func isDirectory(_ path: RawPath) -> Bool {
        var info = stat()
        return path.withCString { stat($0, &info) } == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    private static func normalizedPath(_ url: URL) -> RawPath {
        var path = RawPath(url.standardizedFileURL).bytes
        while path.count > 1 && path.last == UInt8(ascii: "/") { path.removeLast() }
        return RawPath(bytes: path)
    }
}
