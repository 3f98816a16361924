import Foundation

/// What the model on disk is, cheaply: the folder `model_dir` resolves to (a model store's
/// `current` link points at one version folder after another) and, for each of its files, its
/// inode, size and modification time (a model retrained in place replaces its files by rename).
/// The daemon compares it at every tick and loads the model again when it changes.
struct ModelIdentity: Equatable, Sendable {
    let folder: String
    let files: [String]

    /// Nil when there is no folder there (no model yet).
    init?(modelDirectory: String) {
        let resolved = URL(fileURLWithPath: modelDirectory).resolvingSymlinksInPath()
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: resolved.path) else { return nil }
        folder = resolved.path
        files = names.filter { !$0.hasPrefix(".") }.sorted().compactMap { name in
            var info = stat()
            guard stat(resolved.appendingPathComponent(name).path, &info) == 0 else { return nil }
            return "\(name) \(info.st_ino) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        }
    }
}
