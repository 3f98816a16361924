import InspectdImage

/// One test image of an evaluation set.
public struct EvaluationItem: Sendable, Equatable {
    /// The label MVTec uses for normal images.
    public static let normalLabel = "good"

    public let path: String
    /// The test subfolder it came from: `good`, or the defect's name.
    public let label: String
    /// Its pixel mask; nil for normal images and for sets without masks.
    public let maskPath: String?

    public var isAnomalous: Bool { label != Self.normalLabel }
}

/// A set in the MVTec AD layout:
///
///     <root>/train/good/*              normal images to learn from
///     <root>/test/<label>/*            test images; label `good` is normal, any other is a defect
///     <root>/ground_truth/<label>/<name>_mask.png   defect masks (255 = defect)
///
/// Image files follow `ImageFolder`'s rules (.png/.jpg/.jpeg, not recursive, sorted by name).
/// Masks are all or nothing: when `ground_truth` exists, every defective test image must have its
/// mask (a missing one is an error, since pixel metrics over a partial set would be silently
/// biased); without `ground_truth` the set has image labels only.
public struct EvaluationSet: Sendable, Equatable {
    public let root: String
    public let trainingImages: [String]
    /// Test items, by label (sorted) then by file name.
    public let testItems: [EvaluationItem]
    public let hasMasks: Bool

    public init(root: String) throws {
        guard ImageFolder.isFolder(root) else {
            throw DataSetError(path: root, reason: ImageFolder.fileExists(root) ? .notAFolder : .missing)
        }
        let trainingImages = try ImageFolder.list(ImageFolder.join(root, "train/good"))
        let testRoot = ImageFolder.join(root, "test")
        let groundTruth = ImageFolder.join(root, "ground_truth")
        let hasMasks = ImageFolder.isFolder(groundTruth)
        var items: [EvaluationItem] = []
        for label in try ImageFolder.subfolders(of: testRoot) {
            for path in try ImageFolder.list(ImageFolder.join(testRoot, label)) {
                var maskPath: String?
                if hasMasks && label != EvaluationItem.normalLabel {
                    let name = String(path.split(separator: "/").last!)
                    let stem = name.split(separator: ".", omittingEmptySubsequences: false).dropLast().joined(separator: ".")
                    let expected = groundTruth + "/" + label + "/" + stem + "_mask.png"
                    guard ImageFolder.fileExists(expected) else {
                        throw DataSetError(path: path, reason: .missingMask(expected: expected))
                    }
                    maskPath = expected
                }
                items.append(EvaluationItem(path: path, label: label, maskPath: maskPath))
            }
        }
        guard !items.isEmpty else { throw DataSetError(path: testRoot, reason: .noImages) }
        self.root = root
        self.trainingImages = trainingImages
        self.testItems = items
        self.hasMasks = hasMasks
    }

    /// Defect labels present in the test set, sorted.
    public var defectLabels: [String] {
        Array(Set(testItems.filter(\.isAnomalous).map(\.label))).sorted()
    }

    /// The item's ground truth as `width` x `height` booleans, row-major, true = defect. Normal
    /// items (and items without a mask) are all false. `imageWidth` x `imageHeight` is the size of
    /// the decoded test image: a mask of another size belongs to some other image and is an error.
    public func mask(for item: EvaluationItem, imageWidth: Int, imageHeight: Int,
                     width: Int, height: Int) throws -> [Bool] {
        guard let maskPath = item.maskPath else { return [Bool](repeating: false, count: width * height) }
        return try Self.loadMask(at: maskPath, imageWidth: imageWidth, imageHeight: imageHeight,
                                 width: width, height: height)
    }

    /// Decodes a mask (any format; colour is reduced to grey), checks it against its image's size,
    /// and resamples it to `width` x `height`: the grey mask is resized with `Image.resized`
    /// (bilinear, antialiased when shrinking), then thresholded at > 127. A pixel is defective when
    /// more than half of the area it covers is, which neither grows nor shrinks thin defects the
    /// way nearest-neighbour sampling can.
    public static func loadMask(at path: String, imageWidth: Int, imageHeight: Int,
                                width: Int, height: Int) throws -> [Bool] {
        let decoded: Image
        do {
            decoded = try Image(contentsOfFile: path)
        } catch {
            throw DataSetError(path: path, reason: .unreadableMask("\((error as? ImageError)?.reason.description ?? "\(error)")"))
        }
        guard decoded.width == imageWidth, decoded.height == imageHeight else {
            throw DataSetError(path: path, reason: .maskSizeMismatch(
                mask: .init(width: decoded.width, height: decoded.height),
                image: .init(width: imageWidth, height: imageHeight)))
        }
        let grey = decoded.converted(to: .grey).resized(width: width, height: height)
        return grey.pixels.map { $0 > 127 }
    }
}
