import Foundation
import InspectdFiles

/// Where frames that cannot be scored (undecodable, truncated, unsupported) are moved, so that
/// nothing is lost and nothing is retried forever: `<quarantine>/<camera>/<file name>`.
public struct Quarantine: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    /// Where `frame` goes: `<quarantine>/<camera>/` under its own name (bytes and all), with a
    /// numeric suffix when that is taken. Makes the folder; moves nothing.
    public func place(for frame: RawPath, camera: String) throws -> RawPath {
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
        return target
    }
}
