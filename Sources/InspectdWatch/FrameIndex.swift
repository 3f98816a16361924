import Foundation
import InspectdFiles
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The durable record of processed frames, so that neither a restart nor a rescan scores a frame
/// twice or skips one.
///
/// A frame is its path together with its content hash: a camera that reuses file names writes a
/// new frame under an old path. Each path keeps its latest record, with the size and modification
/// time the file had when it was hashed, so a rescan over thousands of processed files can trust the
/// stored hash of an unchanged file instead of reading it again (`knownHash(path:stamp:)`).
///
/// On disk: an append-only log, one record per line, fsynced line by line; superseded and
/// forgotten lines are dropped by rewriting the log through `AtomicFile` once they outnumber the
/// live records. The format, after an `inspectd-frame-index 1` header line:
///
///     +<TAB>sha256<TAB>size<TAB>mtime seconds<TAB>path      (the path's latest record)
///     -<TAB>path                                            (the path is forgotten)
///
/// with backslash and newline in paths written as `\\` and `\n`; every other byte of a path is
/// written as it is, so a name that is not UTF-8 keeps its bytes.
public final class FrameIndex: Sendable {
    public struct Record: Sendable, Hashable {
        public var sha256: String
        public var size: Int64
        public var mtime: Date

        public var stamp: FileStamp { FileStamp(size: size, mtime: mtime) }
    }

    public let file: URL
    private let compactionThreshold: Int
    private let state: Mutex<State>

    private static let header = "inspectd-frame-index 1"

    /// Opens the index at `file`, creating it when missing. A last line cut off by a crash is
    /// dropped (it was never acknowledged); any other malformed line is an error naming the line.
    /// The log is compacted once it holds at least `compactionThreshold` stale lines and more
    /// stale lines than live records.
    public init(file: URL, compactionThreshold: Int = 10_000) throws {
        precondition(compactionThreshold >= 1, "compactionThreshold must be at least 1")
        self.file = file
        self.compactionThreshold = compactionThreshold
        let path = file.path
        if !FileManager.default.fileExists(atPath: path) {
            // Created whole and durable, so a crash now cannot leave a file without its header.
            try AtomicFile.write(Array((Self.header + "\n").utf8), to: file)
        }
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: file))
        } catch {
            throw WatchFailure(path: path, reason: "cannot read the frame index: \(error.localizedDescription)")
        }
        let (records, recordLines, completeLength) = try Self.parse(bytes, path: path)
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw WatchFailure(path: path, reason: "cannot open the frame index for appending: \(systemError())")
        }
        if completeLength < bytes.count {
            // Appending after a torn line would glue the next record onto it.
            guard ftruncate(descriptor, off_t(completeLength)) == 0, fsync(descriptor) == 0 else {
                let reason = systemError()
                close(descriptor)
                throw WatchFailure(path: path, reason: "cannot cut the torn last line off the frame index: \(reason)")
            }
        }
        state = Mutex(State(records: records, lines: recordLines, descriptor: descriptor))
        // The log as loaded is intact; a compaction that fails here is retried (and reported) by
        // the next record.
        try? state.withLock { try compactIfStale(&$0, threshold: compactionThreshold) }
    }

    deinit {
        state.withLock { _ = close($0.descriptor) }
    }

    /// How many paths have a record.
    public var count: Int { state.withLock { $0.records.count } }

    /// Whether the frame at `path` with this content was processed.
    public func contains(path: RawPath, sha256: String) -> Bool {
        state.withLock { $0.records[path]?.sha256 == sha256 }
    }

    /// The latest record of `path`.
    public func lastRecord(path: RawPath) -> Record? {
        state.withLock { $0.records[path] }
    }

    /// The stored hash of `path` when the file still has the size and modification time it had
    /// when that hash was recorded: the file need not be read again.
    public func knownHash(path: RawPath, stamp: FileStamp) -> String? {
        state.withLock { s in
            guard let record = s.records[path], record.stamp == stamp else { return nil }
            return record.sha256
        }
    }

    /// Records that the frame at `path` with this content was processed; durable when this returns.
    /// `stamp` must be the file's stamp from before it was hashed (see `knownHash`): a stamp taken
    /// later could belong to newer content than the hash.
    public func record(path: RawPath, sha256: String, stamp: FileStamp) throws {
        guard Self.isDigest(sha256) else {
            throw WatchFailure(path: path.description, reason: "not a lowercase hex SHA-256: \(sha256)")
        }
        let record = Record(sha256: sha256, size: stamp.size, mtime: stamp.mtime)
        try state.withLock { s in
            guard s.records[path] != record else { return }
            try append(Self.line(path: path, record: record), to: s.descriptor)
            s.records[path] = record
            s.lines += 1
            try compactIfStale(&s, threshold: compactionThreshold)
        }
    }

    /// Drops the record of `path` (for example when its file was deleted), so the index does not
    /// grow with every frame ever seen. Durable when this returns.
    public func forget(path: RawPath) throws {
        try state.withLock { s in
            guard s.records[path] != nil else { return }
            try append(Array("-\t".utf8) + Self.escape(path) + [Self.newline], to: s.descriptor)
            s.records[path] = nil
            s.lines += 1
            try compactIfStale(&s, threshold: compactionThreshold)
        }
    }

    /// Rewrites the log with only the live records.
    public func compact() throws {
        try state.withLock { try rewrite(&$0) }
    }

    private struct State {
        var records: [RawPath: Record]
        /// Record lines in the log, live and stale.
        var lines: Int
        var descriptor: Int32
        /// Stale-line count at which the next compaction is tried; moves up after a failed one so
        /// a broken disk does not make every record attempt (and fail) a rewrite.
        var nextCompactionAt = 0
    }

    private func append(_ line: [UInt8], to descriptor: Int32) throws {
        let end = lseek(descriptor, 0, SEEK_END)
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) }
        guard written == line.count else {
            let reason = written < 0 ? systemError() : "short write (\(written) of \(line.count) bytes)"
            // Cut a partial line off again: the next record would otherwise be glued onto it.
            if written > 0, end >= 0 { _ = ftruncate(descriptor, end) }
            throw WatchFailure(path: file.path, reason: "cannot append to the frame index: \(reason)")
        }
        guard fsync(descriptor) == 0 else {
            throw WatchFailure(path: file.path, reason: "fsync of the frame index failed: \(systemError())")
        }
    }

    private func compactIfStale(_ s: inout State, threshold: Int) throws {
        let stale = s.lines - s.records.count
        guard stale >= max(threshold, s.nextCompactionAt), stale > s.records.count else { return }
        do {
            try rewrite(&s)
        } catch {
            s.nextCompactionAt = stale + threshold
            throw WatchFailure(path: file.path, reason: "compacting the frame index failed (no record is lost): \(error)")
        }
    }

    private func rewrite(_ s: inout State) throws {
        var text = Array((Self.header + "\n").utf8)
        for path in s.records.keys.sorted() { text += Self.line(path: path, record: s.records[path]!) }
        try AtomicFile.write(text, to: file)
        // The old descriptor still points at the replaced file.
        let descriptor = open(file.path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw WatchFailure(path: file.path, reason: "cannot reopen the compacted frame index: \(systemError())")
        }
        close(s.descriptor)
        s.descriptor = descriptor
        s.lines = s.records.count
        s.nextCompactionAt = 0
    }

    /// 64 lowercase hex digits, as `SHA256.hex` writes them.
    private static func isDigest(_ text: some StringProtocol) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    private static func line(path: RawPath, record: Record) -> [UInt8] {
        Array("+\t\(record.sha256)\t\(record.size)\t\(record.mtime.timeIntervalSince1970)\t".utf8) + escape(path) + [newline]
    }

    private static let newline = UInt8(ascii: "\n"), backslash = UInt8(ascii: "\\")

    private static func escape(_ path: RawPath) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(path.bytes.count)
        for byte in path.bytes {
            switch byte {
            case backslash: out += [backslash, backslash]
            case newline: out += [backslash, UInt8(ascii: "n")]
            default: out.append(byte)
            }
        }
        return out
    }

    private static func unescape(_ text: ArraySlice<UInt8>) -> RawPath? {
        var out: [UInt8] = []
        var escaping = false
        for byte in text {
            if escaping {
                switch byte {
                case backslash: out.append(backslash)
                case UInt8(ascii: "n"): out.append(newline)
                default: return nil
                }
                escaping = false
            } else if byte == backslash {
                escaping = true
            } else {
                out.append(byte)
            }
        }
        return escaping ? nil : RawPath(bytes: out)
    }

    /// The live records, the number of record lines, and the length of the complete lines.
    private static func parse(_ bytes: [UInt8], path: String) throws -> ([RawPath: Record], Int, Int) {
        let completeLength = (bytes.lastIndex(of: newline) ?? -1) + 1
        var lines = bytes[..<completeLength].split(separator: newline, omittingEmptySubsequences: false).dropLast()
        guard let first = lines.first, String(decoding: first, as: UTF8.self) == header else {
            throw WatchFailure(path: path, reason: "not a frame index: the first line is not \"\(header)\"")
        }
        lines = lines.dropFirst()
        var records: [RawPath: Record] = [:]
        let tab = UInt8(ascii: "\t")
        for (offset, raw) in lines.enumerated() {
            let line = Array(raw)[...]
            let lineNumber = offset + 2
            func bad(_ why: String) -> WatchFailure {
                WatchFailure(path: path, reason: "line \(lineNumber) of the frame index: \(why)")
            }
            if line.starts(with: [UInt8(ascii: "-"), tab]) {
                guard let file = unescape(line.dropFirst(2)) else { throw bad("bad escape in the path") }
                records[file] = nil
                continue
            }
            // The path comes last and may hold tabs; the fields before it are ASCII.
            let fields = line.split(separator: tab, maxSplits: 4, omittingEmptySubsequences: false)
            guard fields.count == 5, fields[0].elementsEqual([UInt8(ascii: "+")]) else { throw bad("expected a record or a forget line") }
            let sha256 = String(decoding: fields[1], as: UTF8.self)
            let sizeText = String(decoding: fields[2], as: UTF8.self), mtimeText = String(decoding: fields[3], as: UTF8.self)
            guard isDigest(sha256) else { throw bad("bad SHA-256 \"\(sha256)\"") }
            guard let size = Int64(sizeText) else { throw bad("bad size \"\(sizeText)\"") }
            guard let seconds = TimeInterval(mtimeText) else { throw bad("bad modification time \"\(mtimeText)\"") }
            guard let file = unescape(fields[4]) else { throw bad("bad escape in the path") }
            records[file] = Record(sha256: sha256, size: size, mtime: Date(timeIntervalSince1970: seconds))
        }
        return (records, lines.count, completeLength)
    }
}
