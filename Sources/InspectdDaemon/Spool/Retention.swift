import Foundation

/// Keeps the spool and the quarantine from filling the disk: verdicts older than `maxAge` go,
/// then the oldest until everything fits in `maxBytes`. A verdict's JSON and pictures share a
/// basename and go together; maildir `tmp/` leftovers of a crash go after a day.
public struct Retention: Sendable {
    public var maxBytes: Int64?
    public var maxAge: TimeInterval?
    /// Folders whose files are grouped by basename and pruned, oldest first.
    public var folders: [URL]
    /// Folders where only stale leftovers are removed.
    public var staging: [URL]

    public init(maxBytes: Int64?, maxAge: TimeInterval?, folders: [URL], staging: [URL]) {
        self.maxBytes = maxBytes
        self.maxAge = maxAge
        self.folders = folders
        self.staging = staging
    }

    public struct Report: Sendable, Equatable {
        public var removedFiles = 0
        public var removedBytes: Int64 = 0
        public var keptBytes: Int64 = 0
    }

    /// One pass; `now` is injectable for tests.
    public func prune(now: Date = Date()) -> Report {
        var report = Report()
        let fm = FileManager.default
        for folder in staging {
            for file in Self.files(in: folder, recursive: false) where now.timeIntervalSince(file.modified) > 86_400 {
                if (try? fm.removeItem(at: file.url)) != nil {
                    report.removedFiles += 1
                    report.removedBytes += file.size
                }
            }
        }

        var groups: [String: Group] = [:]
        for folder in folders {
            for file in Self.files(in: folder, recursive: true) {
                let key = file.url.deletingLastPathComponent().path + "/" + (file.url.lastPathComponent.split(separator: ".").first.map(String.init) ?? "")
                groups[key, default: Group()].add(file)
            }
        }
        var ordered = groups.values.sorted { $0.newest < $1.newest }
        var total = ordered.reduce(Int64(0)) { $0 + $1.bytes }
        while let oldest = ordered.first {
            let tooOld = maxAge.map { now.timeIntervalSince(oldest.newest) > $0 } ?? false
            let tooBig = maxBytes.map { total > $0 } ?? false
            guard tooOld || tooBig else { break }
            for file in oldest.files where (try? fm.removeItem(at: file.url)) != nil {
                report.removedFiles += 1
                report.removedBytes += file.size
            }
            total -= oldest.bytes
            ordered.removeFirst()
        }
        report.keptBytes = total
        return report
    }

    struct File {
        let url: URL
        let size: Int64
        let modified: Date
    }

    struct Group {
        var files: [File] = []
        var bytes: Int64 = 0
        var newest = Date.distantPast

        mutating func add(_ file: File) {
            files.append(file)
            bytes += file.size
            newest = max(newest, file.modified)
        }
    }

    static func files(in folder: URL, recursive: Bool) -> [File] {
        let keys: [URLResourceKey] = [.isRegularFileKey, .fileSizeKey, .contentModificationDateKey]
        let urls: [URL]
        if recursive {
            guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: keys) else { return [] }
            urls = walker.compactMap { $0 as? URL }
        } else {
            urls = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: keys)) ?? []
        }
        return urls.compactMap { url in
            guard let values = try? url.resourceValues(forKeys: Set(keys)), values.isRegularFile == true else { return nil }
            return File(url: url, size: Int64(values.fileSize ?? 0), modified: values.contentModificationDate ?? .distantPast)
        }
    }
}
