import Foundation
import InspectdConfig
import InspectdFiles
import InspectdImage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Takes operators' new-product folders in: `<products_dir>/<name>/` with normal images, a
/// `product.toml` label, and `READY` once the folder is complete (or moved in whole with `READY`
/// already in it). Each ready folder is checked; a good one is copied into the queue and gets
/// `QUEUED.txt`, a bad one gets `REJECTED.txt` with every reason, so the operator sees the outcome
/// where they dropped the folder. A folder with either file is left alone: to try again, fix it
/// and delete `REJECTED.txt`.
public struct ProductIntake: Sendable {
    /// What a folder must satisfy.
    public struct Rules: Sendable, Equatable {
        /// Decodable images at least.
        public var minimumImages = 20
        /// Each image's width and height must lie within these.
        public var smallestSide = 32
        public var largestSide = 8192
        /// File name extensions taken as images (lower case); other files are reasons to reject.
        public var extensions = Camera.defaultExtensions

        public init() {}
    }

    public enum Outcome: Sendable, Equatable {
        case queued(QueuedProduct)
        case rejected(name: String, reasons: [String])
    }

    public static let readyMarker = "READY"
    public static let queuedMarker = "QUEUED.txt"
    public static let rejectedMarker = "REJECTED.txt"

    public let productsDirectory: URL
    public let queue: ProductQueue
    public let rules: Rules

    public init(productsDirectory: URL, queue: ProductQueue, rules: Rules = Rules()) {
        self.productsDirectory = productsDirectory
        self.queue = queue
        self.rules = rules
    }

    /// The daemon's intake: its products folder, its queue, and `[training] minimum_images`.
    public init(configuration: Configuration) {
        var rules = Rules()
        rules.minimumImages = configuration.training.minimumImages
        self.init(productsDirectory: URL(fileURLWithPath: configuration.daemon.productsDirectory),
                  queue: ProductQueue(stateDirectory: configuration.daemon.stateDirectory), rules: rules)
    }

    /// Checks every ready folder not yet answered. `known` are the products the active model
    /// knows: a folder of one of them needs `update = true` in its label. Folders that fail to
    /// be answered at all (the marker cannot be written) are reported through `failures`.
    public func scan(known: Set<String>, now: Date = Date()) throws -> (outcomes: [Outcome], failures: [ProductFailure]) {
        guard FileManager.default.fileExists(atPath: productsDirectory.path) else { return ([], []) }
        var outcomes: [Outcome] = [], failures: [ProductFailure] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: productsDirectory.path).sorted() where !name.hasPrefix(".") {
            let folder = productsDirectory.appendingPathComponent(name)
            guard Self.isFolder(folder), exists(folder, Self.readyMarker),
                  !exists(folder, Self.queuedMarker), !exists(folder, Self.rejectedMarker) else { continue }
            do {
                outcomes.append(try take(name, folder: folder, known: known, now: now))
            } catch let failure as ProductFailure {
                failures.append(failure)
            }
        }
        return (outcomes, failures)
    }

    /// The folders answered with REJECTED.txt and not yet fixed, with their reasons (read back
    /// from the answer), by name.
    public func rejections() throws -> [(name: String, reasons: [String])] {
        guard FileManager.default.fileExists(atPath: productsDirectory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: productsDirectory.path).sorted().compactMap { name in
            let answer = productsDirectory.appendingPathComponent(name).appendingPathComponent(Self.rejectedMarker)
            guard let text = try? String(contentsOf: answer, encoding: .utf8) else { return nil }
            return (name, text.split(separator: "\n").filter { $0.hasPrefix("- ") }.map { String($0.dropFirst(2)) })
        }
    }

    /// Checks one folder and queues or rejects it.
    func take(_ name: String, folder: URL, known: Set<String>, now: Date) throws -> Outcome {
        let (label, images, reasons) = check(name, folder: folder, known: known)
        guard reasons.isEmpty, let label else {
            try write(folder, Self.rejectedMarker, "Rejected: \(name) was not queued, for these reasons:\n"
                      + reasons.map { "- \($0)\n" }.joined() + "Fix them and delete \(Self.rejectedMarker) to have the folder checked again.\n")
            return .rejected(name: name, reasons: reasons)
        }
        // Copied before the record is written: a crash half-way leaves no queued product, and the
        // folder is checked again (it has no marker yet).
        let destination = queue.imagesFolder(of: name)
        try? FileManager.default.removeItem(at: queue.folder(of: name))
        do {
            try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
            for image in images {
                try AtomicFile.write(try Data(contentsOf: image), to: destination.appendingPathComponent(image.lastPathComponent))
            }
            try AtomicFile.write(try Data(contentsOf: folder.appendingPathComponent(ProductLabel.fileName)),
                                 to: queue.folder(of: name).appendingPathComponent(ProductLabel.fileName))
        } catch {
            throw ProductFailure(path: folder.path, reason: "cannot copy into the queue at \(destination.path): \(error)")
        }
        let record = QueuedProduct(name: name, state: .queued, displayName: label.displayName, labelledBy: label.labelledBy,
                                   note: label.note, cameras: label.cameras, update: label.update, images: images.count,
                                   source: folder.path, queued: Timestamp.iso8601(now), version: nil, figures: [:], reason: nil)
        try queue.save(record)
        try write(folder, Self.queuedMarker, "Queued: \(name) (\(label.displayName)), \(images.count) images, at \(record.queued).\n"
                  + "It will be learnt in the next training window; 'inspectd products' shows where it stands. "
                  + "The images were copied: this folder can be removed.\n")
        return .queued(record)
    }

    /// The label, the images and every reason the folder cannot be queued (empty when it can).
    func check(_ name: String, folder: URL, known: Set<String>) -> (ProductLabel?, [URL], [String]) {
        var reasons: [String] = []
        if !Configuration.isValidName(name) {
            reasons.append("the folder's name '\(name)' is not a product name: \(Configuration.nameRule("a name"))")
        }
        var label: ProductLabel?
        let labelFile = folder.appendingPathComponent(ProductLabel.fileName)
        if !exists(folder, ProductLabel.fileName) {
            reasons.append("\(ProductLabel.fileName) is missing (display_name and labelled_by at least)")
        } else if Self.kind(labelFile) != .typeRegular {
            reasons.append("\(ProductLabel.fileName) is not a regular file")
        } else {
            do { label = try ProductLabel.load(file: labelFile.path) } catch { reasons.append("\(error)") }
        }
        if let label, known.contains(name), !label.update {
            reasons.append("the model already knows '\(name)': set update = true in \(ProductLabel.fileName) to add more normal images of it")
        }
        var images: [URL] = []
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()) ?? []
        for entry in names where !entry.hasPrefix(".") && entry != ProductLabel.fileName && entry != Self.readyMarker {
            let file = folder.appendingPathComponent(entry)
            switch Self.kind(file) {
            case .typeRegular:
                break
            case .typeSymbolicLink:
                reasons.append("\(entry) is a symbolic link: only the images themselves are taken")
                continue
            case .typeDirectory:
                reasons.append("\(entry) is a folder: the images go directly in the product's folder")
                continue
            default:
                reasons.append("\(entry) is not a regular file")
                continue
            }
            guard rules.extensions.contains((entry as NSString).pathExtension.lowercased()) else {
                reasons.append("\(entry) is not an image (\(rules.extensions.joined(separator: ", ")) are)")
                continue
            }
            do {
                let image = try Image(contentsOfFile: file.path)
                let sides = rules.smallestSide...rules.largestSide
                guard sides.contains(image.width), sides.contains(image.height) else {
                    reasons.append("\(entry) is \(image.width)x\(image.height): each side must be from \(rules.smallestSide) to \(rules.largestSide) pixels")
                    continue
                }
                images.append(file)
            } catch {
                reasons.append("\(entry) cannot be decoded: \(error)")
            }
        }
        if images.count < rules.minimumImages {
            reasons.append("\(images.count) usable image\(images.count == 1 ? "" : "s"); at least \(rules.minimumImages) are needed")
        }
        return (label, images, reasons)
    }

    func exists(_ folder: URL, _ name: String) -> Bool {
        var info = stat()
        return lstat(folder.appendingPathComponent(name).path, &info) == 0
    }

    func write(_ folder: URL, _ name: String, _ text: String) throws {
        do {
            try AtomicFile.write(Data(text.utf8), to: folder.appendingPathComponent(name))
        } catch {
            throw ProductFailure(path: folder.appendingPathComponent(name).path, reason: "cannot write the answer: \(error)")
        }
    }

    /// The entry's own type, links not followed.
    static func kind(_ url: URL) -> FileAttributeType? {
        (try? FileManager.default.attributesOfItem(atPath: url.path))?[.type] as? FileAttributeType
    }

    static func isFolder(_ url: URL) -> Bool { kind(url) == .typeDirectory }

}
