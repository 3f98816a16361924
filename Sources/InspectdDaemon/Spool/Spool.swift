import Foundation
import InspectdFiles

/// The output folder, maildir-style: every file is written and fsynced in `tmp/`, then renamed
/// into `new/`, so a reader of `new/` never sees a partial file. Readers move what they have
/// handled into `cur/` (or delete it).
///
/// A frame's files share one basename; its verdict JSON is renamed in last, so a reader that
/// waits for `*.json` finds the pictures already there.
public struct Spool: Sendable {
    public let root: URL
    public var staging: URL { root.appendingPathComponent("tmp") }
    public var incoming: URL { root.appendingPathComponent("new") }
    public var handled: URL { root.appendingPathComponent("cur") }

    public init(root: URL) throws {
        self.root = root
        for folder in [staging, incoming, handled] {
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw AtomicFile.Failure(path: folder.path, reason: "cannot create the spool folder: \(error.localizedDescription)")
            }
        }
    }

    /// A basename that is the same for the same frame (camera, path, content), so a frame scored
    /// again after a crash replaces its own files instead of adding a second verdict, and two
    /// frames that only share a name (`lot1/f.png`, `lot2/f.png`) never share a basename.
    /// Only letters, digits, `-` and `_` of the frame's name are kept; a byte that is not UTF-8
    /// becomes `_` like any other character, and the identity hash keeps such names apart.
    public static func basename(camera: String, frame: RawPath, sha256: String) -> String {
        let stem = String(decoding: frame.stemAndExtension.stem.bytes, as: UTF8.self)
            .map { $0.isLetter || $0.isNumber || "-_".contains($0) ? $0 : "_" }
        let identity = SHA256.hex(frame.bytes + Array(("\n" + sha256).utf8))
        return "\(camera)-\(String(stem))-\(identity.prefix(12))"
    }

    /// The verdict of this basename when it is in `new/` or `cur/`: delivered already.
    public func deliveredVerdict(_ basename: String) -> Verdict? {
        for folder in [incoming, handled] {
            guard let data = try? Data(contentsOf: folder.appendingPathComponent("\(basename).json")) else { continue }
            return try? JSONDecoder().decode(Verdict.self, from: data)
        }
        return nil
    }

    /// Whether a file of `bytes` can be written into `tmp/` now: what a paused daemon tries
    /// before taking frames again. The probe is removed again.
    public func accepts(bytes: Int) -> Bool {
        let probe = staging.appendingPathComponent(".probe-\(getpid())")
        defer { try? FileManager.default.removeItem(at: probe) }
        do {
            try AtomicFile.write([UInt8](repeating: 0, count: bytes), to: probe, staging: staging)
            return true
        } catch {
            return false
        }
    }

    /// The file name a picture of `kind` gets beside its verdict.
    public static func pictureName(_ basename: String, kind: String) -> String { "\(basename).\(kind).png" }

    /// Delivers the pictures, then the verdict, each atomically into `new/`.
    public func deliver(basename: String, pictures: [(name: String, bytes: [UInt8])], verdict: Data) throws {
        for picture in pictures {
            try AtomicFile.write(picture.bytes, to: incoming.appendingPathComponent(picture.name), staging: staging)
        }
        try AtomicFile.write(verdict, to: incoming.appendingPathComponent("\(basename).json"), staging: staging)
    }
}
