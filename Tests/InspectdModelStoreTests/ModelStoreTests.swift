import Foundation
import Testing
@testable import InspectdModelStore

/// A store in a fresh temporary folder, removed by the test.
private func temporaryStore() -> ModelStore {
    ModelStore(root: FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)"))
}

/// Stages a folder holding `weights` and publishes it.
@discardableResult
private func publish(_ store: ModelStore, _ weights: String, products: [String], parent: String? = nil) throws -> ModelStore.Version {
    let staged = try store.stage()
    try Data(weights.utf8).write(to: staged.appendingPathComponent("weights.bin"))
    return try store.publish(staged, products: products, parent: parent, origin: "test", figures: ["fpr": 0.01])
}

private func weights(_ version: ModelStore.Version) throws -> String {
    try String(contentsOf: version.folder.appendingPathComponent("weights.bin"), encoding: .utf8)
}

@Suite struct ModelStoreTests {
    @Test func versionsArePublishedInOrderAndNotActivated() throws {
        let store = temporaryStore()
        defer { try? FileManager.default.removeItem(at: store.root) }
        #expect(try store.versions().isEmpty && store.current() == nil)
        let first = try publish(store, "one", products: ["bottle"])
        let second = try publish(store, "two", products: ["cap", "bottle"], parent: first.name)
        #expect(first.name == "v0001" && second.name == "v0002")
        #expect(try store.versions().map(\.name) == ["v0001", "v0002"])
        #expect(try store.current() == nil, "publishing does not activate")
        let record = try store.version("v0002").record
        #expect(record.products == ["bottle", "cap"] && record.parent == "v0001" && record.figures == ["fpr": 0.01])
        #expect(try weights(store.version("v0002")) == "two")
        // Nothing is left staged.
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.root.path).filter { $0.hasPrefix(".staging") }.isEmpty)
    }

    @Test func activationSwapsCurrentAndRollbackGoesBack() throws {
        let store = temporaryStore()
        defer { try? FileManager.default.removeItem(at: store.root) }
        for (i, text) in ["one", "two", "three"].enumerated() { try publish(store, text, products: ["p\(i)"]) }
        try store.activate("v0001")
        try store.activate("v0003")
        #expect(try store.current()?.name == "v0003")
        let active = try #require(try store.current())
        #expect(try weights(active) == "three")
        // Readers go through the link: its target is the version's folder name, relative.
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: store.currentLink.path) == "v0003")
        #expect(try String(contentsOf: store.currentLink.appendingPathComponent("weights.bin"), encoding: .utf8) == "three")

        #expect(try store.rollback().name == "v0001", "back to what was active before")
        #expect(try store.current()?.name == "v0001")
        #expect(try store.rollback().name == "v0003", "and forward again, the previous activation")
        #expect(try store.rollback(to: "v0002").name == "v0002")
        #expect(try store.activations().map(\.version) == ["v0001", "v0003", "v0001", "v0003", "v0002"])

        let unknown = #expect(throws: StoreFailure.self) { try store.activate("v0009") }
        #expect(unknown?.description.contains("v0009: no such version (the store has v0001, v0002, v0003)") == true)
        #expect(try store.current()?.name == "v0002", "a failed activation changes nothing")
    }

    @Test func rollbackNeedsAnEarlierVersion() throws {
        let store = temporaryStore()
        defer { try? FileManager.default.removeItem(at: store.root) }
        try publish(store, "one", products: ["a"])
        try store.activate("v0001")
        #expect(throws: StoreFailure.self) { try store.rollback() }
    }

    @Test func pruningKeepsTheNewestAndTheActiveVersion() throws {
        let store = temporaryStore()
        defer { try? FileManager.default.removeItem(at: store.root) }
        for i in 1...5 { try publish(store, "\(i)", products: ["a"]) }
        try store.activate("v0002")
        #expect(try store.prune(keep: 2) == ["v0001", "v0003"])
        #expect(try store.versions().map(\.name) == ["v0002", "v0004", "v0005"])
        #expect(try store.current()?.name == "v0002")
        // Numbering goes on from the newest, never reusing a removed name.
        #expect(try publish(store, "6", products: ["a"]).name == "v0006")
    }

    @Test func anInterruptedWriterLeavesNoVersionAndRecoveryCleansUp() throws {
        let store = temporaryStore()
        defer { try? FileManager.default.removeItem(at: store.root) }
        try publish(store, "one", products: ["a"])
        try store.activate("v0001")
        // A writer that died half-way: a staging folder, a temporary link, and a folder named like
        // a version but without its record (not something publish makes, and not listed).
        let staged = try store.stage()
        try Data("half".utf8).write(to: staged.appendingPathComponent("weights.bin"))
        #expect(symlink("v0001", store.root.appendingPathComponent(".current-dead").path) == 0)
        try FileManager.default.createDirectory(at: store.root.appendingPathComponent("v0007"), withIntermediateDirectories: false)
        #expect(try store.versions().map(\.name) == ["v0001"])
        #expect(try store.current()?.name == "v0001")
        let removed = try store.recover()
        #expect(Set(removed) == [staged.lastPathComponent, ".current-dead"])
        #expect(try publish(store, "two", products: ["a"]).name == "v0002")
    }

    @Test func oneHolderAtATime() throws {
        let store = temporaryStore()
        defer { try? FileManager.default.removeItem(at: store.root) }
        var first: StoreLock? = try store.lock(purpose: "training solar_poly")
        let busy = #expect(throws: StoreLock.Busy.self) { _ = try store.lock(purpose: "activating v0002") }
        #expect(busy?.holder.contains("training solar_poly") == true)
        #expect(busy?.holder.contains("pid \(getpid())") == true)
        _ = first
        first = nil
        let again = try store.lock(purpose: "activating v0002")
        _ = again
    }

    @Test func aCopiedFolderKeepsItsFilesAndLeavesTheRest() throws {
        let store = temporaryStore()
        let source = FileManager.default.temporaryDirectory.appendingPathComponent("model-\(UUID().uuidString)")
        defer { for url in [store.root, source] { try? FileManager.default.removeItem(at: url) } }
        try FileManager.default.createDirectory(at: source.appendingPathComponent("checkpoint"), withIntermediateDirectories: true)
        try Data("weights".utf8).write(to: source.appendingPathComponent("weights.safetensors"))
        try Data("{}".utf8).write(to: source.appendingPathComponent("manifest.json"))
        try Data("state".utf8).write(to: source.appendingPathComponent("checkpoint/state.bin"))
        try Data("tmp".utf8).write(to: source.appendingPathComponent(".manifest.json.123.tmp"))
        #expect(symlink("/etc/passwd", source.appendingPathComponent("link").path) == 0)
        let version = try store.publishCopy(of: source, products: ["b", "a"], parent: nil, origin: "imported")
        #expect(version.record.products == ["a", "b"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: version.folder.path).sorted()
                == ["manifest.json", "version.json", "weights.safetensors"])
        #expect(try String(contentsOf: version.folder.appendingPathComponent("weights.safetensors"), encoding: .utf8) == "weights")
        #expect(FileManager.default.fileExists(atPath: source.appendingPathComponent("weights.safetensors").path), "the source stays")
        // A folder that cannot be read publishes nothing and leaves nothing staged.
        #expect(throws: (any Error).self) { try store.publishCopy(of: source.appendingPathComponent("missing"), products: [], parent: nil, origin: "x") }
        #expect(try store.versions().count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.root.path).filter { $0.hasPrefix(".staging") }.isEmpty)
    }
}

@Suite struct VersionRecordTests {
    @Test func aVersionFolderSaysWhichVersionItIsAndAPlainFolderDoesNot() throws {
        let store = temporaryStore()
        defer { try? FileManager.default.removeItem(at: store.root) }
        let version = try publish(store, "one", products: ["a"])
        #expect(VersionRecord.read(from: version.folder)?.name == "v0001")
        try store.activate("v0001")
        #expect(VersionRecord.read(from: store.currentLink.resolvingSymlinksInPath())?.name == "v0001")
        #expect(VersionRecord.read(from: store.root) == nil)
    }
}
