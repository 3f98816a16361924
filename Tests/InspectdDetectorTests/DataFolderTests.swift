import Foundation
import InspectdImage
import Testing
@testable import InspectdDetector

/// A temporary folder tree, removed when the test ends.
final class TemporaryTree {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("inspectd-data-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Writes `bytes` at `relative`, creating folders on the way; returns the full path.
    @discardableResult
    func file(_ relative: String, _ bytes: [UInt8] = [0]) throws -> String {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @discardableResult
    func png(_ relative: String, _ image: Image) throws -> String {
        try file(relative, PNG.encode(image))
    }

    func folder(_ relative: String) throws -> String {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

@Suite struct DataFolderTests {
    @Test func listsImagesByExtensionNotRecursivelySortedByName() throws {
        let tree = try TemporaryTree()
        for name in ["b.png", "a.jpg", "c.JPEG", "notes.txt", ".partial.png", "sub/d.png"] { try tree.file("product/" + name) }
        let images = try ProductImages(product: "p", folder: tree.root + "/product")
        #expect(images.all.map { ($0 as NSString).lastPathComponent } == ["a.jpg", "b.png", "c.JPEG"])
        #expect(images.holdout.isEmpty, "fewer than 5 images: nothing is held out")
        #expect(images.training == images.all)
    }

    @Test func holdoutSplitIsDeterministicDisjointAndKeyedByProduct() throws {
        let tree = try TemporaryTree()
        let names = (0..<40).map { String(format: "%03d.png", $0) }
        for name in names {
            try tree.file("first/" + name)
            try tree.file("second/" + name)
        }
        let split = try ProductImages(product: "bottle", folder: tree.root + "/first")
        #expect(split.holdout.count == 4)
        #expect(split.training.count == 36)
        #expect(Set(split.holdout).isDisjoint(with: split.training))
        #expect(Set(split.holdout).union(split.training) == Set(split.all))
        #expect(split.holdout == split.holdout.sorted() && split.training == split.training.sorted())

        let again = try ProductImages(product: "bottle", folder: tree.root + "/first")
        #expect(again == split)
        // Only file names are hashed: the same images elsewhere split the same way.
        let moved = try ProductImages(product: "bottle", folder: tree.root + "/second")
        #expect(moved.holdout.map { ($0 as NSString).lastPathComponent } == split.holdout.map { ($0 as NSString).lastPathComponent })
        // The held-out images are not simply the first names, and other products split differently.
        #expect(split.holdout != Array(split.all.prefix(4)))
        let others = try ["cable", "screw", "tile", "weld"].map { try ProductImages(product: $0, folder: tree.root + "/first").holdout }
        #expect(others.contains { $0 != split.holdout })
    }

    @Test func holdoutCountRules() {
        #expect(ProductImages.holdoutCount(images: 4, fraction: 0.1) == 0)
        #expect(ProductImages.holdoutCount(images: 5, fraction: 0.1) == 1)
        #expect(ProductImages.holdoutCount(images: 209, fraction: 0.1) == 21)
        #expect(ProductImages.holdoutCount(images: 100, fraction: 0) == 0)
        #expect(ProductImages.holdoutCount(images: 5, fraction: 0.99) == 4, "one image always stays for training")
    }

    @Test func folderErrorsNameTheFolderAndTheReason() throws {
        let tree = try TemporaryTree()
        let empty = try tree.folder("empty")
        try tree.file("text/readme.txt")
        let plainFile = try tree.file("plain.png")
        #expect(throws: DataSetError(path: empty, reason: .noImages)) { try ProductImages(product: "p", folder: empty) }
        #expect(throws: DataSetError(path: tree.root + "/text", reason: .noImages)) {
            try ProductImages(product: "p", folder: tree.root + "/text")
        }
        #expect(throws: DataSetError(path: tree.root + "/nowhere", reason: .missing)) {
            try ProductImages(product: "p", folder: tree.root + "/nowhere")
        }
        #expect(throws: DataSetError(path: plainFile, reason: .notAFolder)) { try ProductImages(product: "p", folder: plainFile) }
        #expect(DataSetError(path: empty, reason: .noImages).description.hasPrefix(empty + ": "))
    }
}

@Suite struct DataEvaluationSetTests {
    /// 8x6 grey mask, defect in the left half.
    static let leftHalfMask = Image(width: 8, height: 6, format: .grey,
                                    pixels: (0..<48).map { $0 % 8 < 4 ? 255 : 0 })
    static let frame = Image(width: 8, height: 6, format: .rgb, pixels: [UInt8](repeating: 90, count: 144))

    func mvtecTree(masks: Bool) throws -> TemporaryTree {
        let tree = try TemporaryTree()
        for name in ["train/good/000.png", "train/good/001.png", "test/good/000.png",
                     "test/crack/000.png", "test/crack/001.png", "test/scratch/000.png"] {
            try tree.png("set/" + name, Self.frame)
        }
        if masks {
            for name in ["crack/000_mask.png", "crack/001_mask.png", "scratch/000_mask.png"] {
                try tree.png("set/ground_truth/" + name, Self.leftHalfMask)
            }
        }
        return tree
    }

    @Test func parsesTheLayoutWithMasks() throws {
        let tree = try mvtecTree(masks: true)
        let set = try EvaluationSet(root: tree.root + "/set")
        #expect(set.hasMasks)
        #expect(set.trainingImages.map { ($0 as NSString).lastPathComponent } == ["000.png", "001.png"])
        #expect(set.testItems.map(\.label) == ["crack", "crack", "good", "scratch"])
        #expect(set.testItems.map(\.isAnomalous) == [true, true, false, true])
        #expect(set.defectLabels == ["crack", "scratch"])
        #expect(set.testItems[1].maskPath == tree.root + "/set/ground_truth/crack/001_mask.png")
        #expect(set.testItems[2].maskPath == nil)

        // 8x6 to 4x3: the left two columns are defect, exactly.
        let mask = try set.mask(for: set.testItems[0], imageWidth: 8, imageHeight: 6, width: 4, height: 3)
        #expect(mask == (0..<12).map { $0 % 4 < 2 })
        let sameSize = try set.mask(for: set.testItems[0], imageWidth: 8, imageHeight: 6, width: 8, height: 6)
        #expect(sameSize == Self.leftHalfMask.pixels.map { $0 == 255 })
        let normal = try set.mask(for: set.testItems[2], imageWidth: 8, imageHeight: 6, width: 4, height: 3)
        #expect(normal == [Bool](repeating: false, count: 12))
    }

    @Test func aSetWithoutGroundTruthHasImageLabelsOnly() throws {
        let tree = try mvtecTree(masks: false)
        let set = try EvaluationSet(root: tree.root + "/set")
        #expect(!set.hasMasks)
        #expect(set.testItems.allSatisfy { $0.maskPath == nil })
    }

    @Test func maskProblemsAreNamed() throws {
        let tree = try mvtecTree(masks: true)
        let root = tree.root + "/set"
        let set = try EvaluationSet(root: root)
        let crack = set.testItems[0]
        #expect(throws: DataSetError(path: crack.maskPath!, reason: .maskSizeMismatch(mask: .init(width: 8, height: 6),
                                                                                     image: .init(width: 16, height: 12)))) {
            try set.mask(for: crack, imageWidth: 16, imageHeight: 12, width: 4, height: 3)
        }
        try tree.file("set/ground_truth/crack/000_mask.png", [1, 2, 3, 4])
        #expect(throws: DataSetError(path: crack.maskPath!, reason: .unreadableMask("not a JPEG or PNG image"))) {
            try set.mask(for: crack, imageWidth: 8, imageHeight: 6, width: 4, height: 3)
        }
        try FileManager.default.removeItem(atPath: root + "/ground_truth/scratch/000_mask.png")
        #expect(throws: DataSetError(path: root + "/test/scratch/000.png",
                                     reason: .missingMask(expected: root + "/ground_truth/scratch/000_mask.png"))) {
            try EvaluationSet(root: root)
        }
    }

    @Test func missingPartsAreNamed() throws {
        let tree = try TemporaryTree()
        #expect(throws: DataSetError(path: tree.root + "/none", reason: .missing)) { try EvaluationSet(root: tree.root + "/none") }
        try tree.png("set/test/good/000.png", Self.frame)
        #expect(throws: DataSetError(path: tree.root + "/set/train/good", reason: .missing)) {
            try EvaluationSet(root: tree.root + "/set")
        }
    }
}
