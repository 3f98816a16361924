import Foundation
import InspectdFiles
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the store, naming the file or folder and the reason.
public struct StoreFailure: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Versioned models on disk: every version a complete folder that is never changed once published,
/// and `current`, a symbolic link to the active one, replaced atomically.
///
///     <root>/v0001/ …           a version: the model's files and version.json
///     <root>/current -> v0002   the active version
///     <root>/activations.json   every activation, newest last (what rollback goes back along)
///     <root>/lock               flock(2) of whoever changes the store
///     <root>/.staging-*/        a version being written; never listed, removed by `recover()`
///
/// Crash safety rests on two renames: a version is written in a staging folder and renamed to its
/// name only when complete, and `current` is a new link renamed over the old one. A crash at any
/// point leaves `current` on a complete version (or absent, before the first activation) and at
/// worst a staging folder to remove. The store knows folders and files, not what a model is.
public struct ModelStore: Sendable {
    public let root: URL

    public init(root: URL) {
        self.root = root
    }

    public var currentLink: URL { root.appendingPathComponent("current") }
    var activationsFile: URL { root.appendingPathComponent("activations.json") }

    /// A published version: its record and its folder.
    public struct Version: Sendable, Equatable {
        public var record: VersionRecord
        public var folder: URL
        public var name: String { record.name }
    }

    /// Takes the store's lock for `purpose` (said to whoever finds it taken).
    public func lock(purpose: String) throws -> StoreLock {
        try createRoot()
        return try StoreLock(path: root.appendingPathComponent("lock").path, purpose: purpose)
    }

    /// Runs `body` with the store's lock held for `purpose`.
    public func locked<R>(purpose: String, _ body: () throws -> R) throws -> R {
        let lock = try lock(purpose: purpose)
        return try withExtendedLifetime(lock) { try body() }
    }

    /// The published versions, oldest first. A folder named like a version without a readable
    /// record is not one (it cannot come from `publish`, which renames only complete folders).
    public func versions() throws -> [Version] {
        guard FileManager.default.fileExists(atPath: root.path) else { return [] }
        let names = try FileManager.default.contentsOfDirectory(atPath: root.path)
        return names.compactMap { name -> Version? in
            guard Self.sequence(of: name) != nil else { return nil }
            let folder = root.appendingPathComponent(name)
            guard let data = try? Data(contentsOf: folder.appendingPathComponent(VersionRecord.fileName)),
                  let record = try? JSONDecoder().decode(VersionRecord.self, from: data), record.name == name else { return nil }
            return Version(record: record, folder: folder)
        }.sorted { Self.sequence(of: $0.name)! < Self.sequence(of: $1.name)! }
    }

    /// The version `name`, or a failure that lists the versions there are.
    public func version(_ name: String) throws -> Version {
        let all = try versions()
        guard let version = all.first(where: { $0.name == name }) else {
            let known = all.map(\.name).joined(separator: ", ")
            throw StoreFailure(path: root.appendingPathComponent(name).path,
                               reason: "no such version (the store has \(known.isEmpty ? "none" : known))")
        }
        return version
    }

    /// The active version: where `current` points, or nil before the first activation.
    public func current() throws -> Version? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: currentLink.path) else { return nil }
        return try version((target as NSString).lastPathComponent)
    }

    /// A new, empty staging folder in the store, to write a version's files into before `publish`.
    public func stage() throws -> URL {
        try createRoot()
        let folder = root.appendingPathComponent(".staging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        return folder
    }

    /// Publishes the complete folder `staged` (from `stage()`, its files written durably, as
    /// AtomicFile writes them) as the next version, with its record; it is not activated. The caller holds the lock, so that two publishers cannot take
    /// the same name.
    @discardableResult
    public func publish(_ staged: URL, products: [String], parent: String?, origin: String,
                        figures: [String: Double] = [:], now: Date = Date()) throws -> Version {
        let next = (try versions().compactMap { Self.sequence(of: $0.name) }.max() ?? 0) + 1
        let name = String(format: "v%04d", next)
        let record = VersionRecord(name: name, created: Timestamp.iso8601(now), products: products.sorted(), parent: parent,
                                   origin: origin, figures: figures)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(record), to: staged.appendingPathComponent(VersionRecord.fileName))
        Self.syncFolder(staged)
        let folder = root.appendingPathComponent(name)
        guard rename(staged.path, folder.path) == 0 else {
            throw StoreFailure(path: folder.path, reason: "cannot rename \(staged.lastPathComponent) into place: \(String(cString: strerror(errno)))")
        }
        Self.syncFolder(root)
        return Version(record: record, folder: folder)
    }

    /// Publishes a copy of `folder`'s regular files (not its subfolders, links or hidden files: a
    /// training checkpoint is not part of a model) as the next version. Each file is written
    /// durably in a staging folder first, so a crash leaves no partial version; `folder` is not
    /// changed. The caller holds the lock.
    @discardableResult
    /// `extraFiles` (name → content) are written beside the folder's own files.
    public func publishCopy(of folder: URL, products: [String], parent: String?, origin: String,
                            figures: [String: Double] = [:], extraFiles: [String: Data] = [:], now: Date = Date()) throws -> Version {
        let staged = try stage()
        do {
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() where !name.hasPrefix(".") {
                let file = folder.appendingPathComponent(name)
                let kind = try FileManager.default.attributesOfItem(atPath: file.path)[.type] as? FileAttributeType
                guard kind == .typeRegular else { continue }
                try AtomicFile.write(try Data(contentsOf: file), to: staged.appendingPathComponent(name))
            }
            for (name, content) in extraFiles.sorted(by: { $0.key < $1.key }) {
                try AtomicFile.write(content, to: staged.appendingPathComponent(name))
            }
            return try publish(staged, products: products, parent: parent, origin: origin, figures: figures, now: now)
        } catch {
            try? FileManager.default.removeItem(at: staged)
            throw error
        }
    }

    /// Makes `name` the active version: a new link renamed over `current`, so a reader sees the old
    /// version or the new one, never neither; the activation joins the history.
    public func activate(_ name: String, now: Date = Date()) throws {
        _ = try version(name)
        let temporary = root.appendingPathComponent(".current-\(UUID().uuidString)")
        guard symlink(name, temporary.path) == 0 else {
            throw StoreFailure(path: temporary.path, reason: "cannot create the link: \(String(cString: strerror(errno)))")
        }
        guard rename(temporary.path, currentLink.path) == 0 else {
            let reason = "cannot rename the new link over it: \(String(cString: strerror(errno)))"
            unlink(temporary.path)
            throw StoreFailure(path: currentLink.path, reason: reason)
        }
        Self.syncFolder(root)
        var history = try activations()
        history.append(Activation(version: name, at: Timestamp.iso8601(now)))
        try AtomicFile.write(try JSONEncoder().encode(history), to: activationsFile)
    }

    /// Every activation, oldest first.
    public func activations() throws -> [Activation] {
        guard let data = try? Data(contentsOf: activationsFile) else { return [] }
        do {
            return try JSONDecoder().decode([Activation].self, from: data)
        } catch {
            throw StoreFailure(path: activationsFile.path, reason: "unreadable activation history: \(error)")
        }
    }

    /// Activates `target`, or by default the version that was active before the current one (the
    /// latest earlier activation of another version that still exists), and returns it.
    @discardableResult
    public func rollback(to target: String? = nil, now: Date = Date()) throws -> Version {
        let active = try current()?.name
        let chosen: String
        if let target {
            chosen = try version(target).name
        } else {
            let existing = Set(try versions().map(\.name))
            guard let previous = try activations().reversed().first(where: { $0.version != active && existing.contains($0.version) }) else {
                throw StoreFailure(path: currentLink.path, reason: "no earlier active version to roll back to")
            }
            chosen = previous.version
        }
        try activate(chosen, now: now)
        return try version(chosen)
    }

    /// Removes the oldest versions beyond the newest `keep`, never the active one; returns the
    /// names removed.
    @discardableResult
    public func prune(keep: Int) throws -> [String] {
        precondition(keep >= 1, "a store keeps at least one version")
        let active = try current()?.name
        let removable = try versions().dropLast(keep).filter { $0.name != active }
        for version in removable {
            // Renamed out of the listing first, so that a crash half-way through the removal
            // leaves a staging folder, not a version with files missing.
            let doomed = root.appendingPathComponent(".staging-removed-\(version.name)-\(UUID().uuidString)")
            guard rename(version.folder.path, doomed.path) == 0 else {
                throw StoreFailure(path: version.folder.path, reason: "cannot move aside to remove: \(String(cString: strerror(errno)))")
            }
            try FileManager.default.removeItem(at: doomed)
        }
        return removable.map(\.name)
    }

    /// Removes what an interrupted writer left: staging folders and temporary links. Call with
    /// the lock held, so that no writer is using them.
    public func recover() throws -> [String] {
        guard FileManager.default.fileExists(atPath: root.path) else { return [] }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.path)
            .filter { $0.hasPrefix(".staging-") || $0.hasPrefix(".current-") }
        for name in leftovers { try FileManager.default.removeItem(at: root.appendingPathComponent(name)) }
        return leftovers
    }

    func createRoot() throws {
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw StoreFailure(path: root.path, reason: "cannot create the model store: \(error.localizedDescription)")
        }
    }

    /// 1 for "v0001"; nil for anything not named like a version.
    static func sequence(of name: String) -> Int? {
        guard name.count >= 5, name.first == "v", name.dropFirst().allSatisfy(\.isASCII) else { return nil }
        return Int(name.dropFirst()).flatMap { $0 > 0 ? $0 : nil }
    }


    /// Best effort, as for AtomicFile: a rename survives a power loss once its folder is synced.
    static func syncFolder(_ url: URL) {
        let descriptor = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }
}
