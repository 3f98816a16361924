import Foundation

/// Where frames that cannot be scored (undecodable, truncated, unsupported) are moved, so that
/// nothing is lost and nothing is retried forever: `<quarantine>/<camera>/<file name>`.
public struct Quarantine: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    /// Moves `frame` in; a name already taken gets a numeric suffix. Returns the new location.
    public func admit(_ frame: URL, camera: String) throws -> URL {
        let folder = root.appendingPathComponent(camera)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let stem = frame.deletingPathExtension().lastPathComponent, ext = frame.pathExtension
        var target = folder.appendingPathComponent(frame.lastPathComponent)
        var n = 1
        while FileManager.default.fileExists(atPath: target.path) {
            target = folder.appendingPathComponent(ext.isEmpty ? "\(stem)-\(n)" : "\(stem)-\(n).\(ext)")
            n += 1
        }
        try FileMove.move(frame, to: target)
        return target
    }
}

/// Moves a file, across file systems too (camera shares, archive disks): rename where it can,
/// otherwise copy, fsync and remove the original.
enum FileMove {
    static func move(_ source: URL, to target: URL) throws {
        if rename(source.path, target.path) == 0 { return }
        guard errno == EXDEV else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: source.path,
                NSLocalizedDescriptionKey: "cannot move \(source.path) to \(target.path): \(String(cString: strerror(errno)))"])
        }
        let partial = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).partial")
        try? FileManager.default.removeItem(at: partial)
        try FileManager.default.copyItem(at: source, to: partial)
        let fd = open(partial.path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
        guard rename(partial.path, target.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: target.path,
                NSLocalizedDescriptionKey: "cannot rename \(partial.path) to \(target.path): \(String(cString: strerror(errno)))"])
        }
        try FileManager.default.removeItem(at: source)
    }
}
