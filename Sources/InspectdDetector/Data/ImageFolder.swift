import Foundation

/// Lists the image files of one folder: the shared rules for operator folders and data sets.
enum ImageFolder {
    /// Extensions taken as images, compared case-insensitively. Decoding detects the format from
    /// the bytes, so this only filters out the obvious non-images (notes, masks in other formats).
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    /// Paths of the image files directly inside `folder` (not in subfolders), sorted by file name.
    /// Hidden files are skipped: atomic writers and editors leave `.name.tmp` files behind.
    /// Throws when the folder is missing, unreadable, or holds no image.
    static func list(_ folder: String) throws -> [String] {
        let names = try entries(of: folder)
        let images = names.filter { name in
            guard !name.hasPrefix(".") else { return false }
            guard imageExtensions.contains((name as NSString).pathExtension.lowercased()) else { return false }
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: join(folder, name), isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }
        guard !images.isEmpty else { throw DataSetError(path: folder, reason: .noImages) }
        return images.sorted().map { join(folder, $0) }
    }

    /// Names of the subfolders of `folder`, sorted; hidden ones are skipped.
    static func subfolders(of folder: String) throws -> [String] {
        try entries(of: folder).filter { name in
            var isDirectory: ObjCBool = false
            return !name.hasPrefix(".")
                && FileManager.default.fileExists(atPath: join(folder, name), isDirectory: &isDirectory)
                && isDirectory.boolValue
        }.sorted()
    }

    static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    static func fileExists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    private static func entries(of folder: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else {
            throw DataSetError(path: folder, reason: .missing)
        }
        guard isDirectory.boolValue else { throw DataSetError(path: folder, reason: .notAFolder) }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw DataSetError(path: folder, reason: .unreadableFolder(error.localizedDescription))
        }
    }
}
