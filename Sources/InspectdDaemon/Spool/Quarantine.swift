import Foundation
import InspectdFiles

/// Where frames that cannot be scored (undecodable, truncated, unsupported) are moved, so that
/// nothing is lost and nothing is retried forever: `<quarantine>/<camera>/<file name>`.
public struct Quarantine: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    /// Moves `frame` in under its own name (bytes and all); a name already taken gets a numeric
    /// suffix. Returns the new location.
    public func admit(_ frame: RawPath, camera: String) throws -> RawPath {
        let folder = RawPath(root).appending(camera)
        try RawFile.createFolders(folder)
        let (stem, ext) = frame.stemAndExtension
        var target = folder.appending(frame.lastComponent)
        var n = 1
        while RawFile.exists(target) {
            let suffix = Array("-\(n)".utf8) + (ext.map { [UInt8(ascii: ".")] + $0.bytes } ?? [])
            target = folder.appending(RawPath(bytes: stem.bytes + suffix))
            n += 1
        }
        try RawFile.move(frame, to: target)
        return target
    }
}
