/// The normal images an operator gave for one product, split into training images and a held-out
/// set for calibrating the threshold (thresholds are set on normal images the model never saw).
///
/// Folder rules (see `ImageFolder`): files ending in .png, .jpg or .jpeg (any case) directly in the
/// folder, not in subfolders; hidden files skipped; sorted by file name.
///
/// The split is a deterministic shuffle keyed by the product name: every file gets the rank
/// `hash(product, file name)` and the lowest ranks are held out. The same folder always splits the
/// same way on every machine and run, the folder's location does not matter (only file names are
/// hashed), and adding images moves few existing ones between the sides (a positional shuffle would
/// reshuffle everything).
public struct ProductImages: Sendable, Equatable {
    public static let defaultHoldoutFraction = 0.1
    /// Below this many images nothing is held out: every image is needed for training.
    public static let minimumImagesForHoldout = 5

    public let product: String
    public let folder: String
    /// Every image of the folder, sorted by file name.
    public let all: [String]
    /// Images to train on, sorted by file name.
    public let training: [String]
    /// Images set aside for calibration, sorted by file name.
    public let holdout: [String]

    /// Lists `folder` and splits it. `holdoutFraction` (0..<1) of the images are held out, rounded
    /// to the nearest count but at least one when there are `minimumImagesForHoldout` images or
    /// more (none below that, and none when the fraction is 0); at least one image always remains
    /// for training.
    public init(product: String, folder: String, holdoutFraction: Double = defaultHoldoutFraction) throws {
        precondition(holdoutFraction >= 0 && holdoutFraction < 1, "holdout fraction \(holdoutFraction) is outside 0..<1")
        let all = try ImageFolder.list(folder)
        let holdoutCount = Self.holdoutCount(images: all.count, fraction: holdoutFraction)
        let productKey = stableHash(product)
        let ranked = all.map { path in (path, mix(productKey ^ stableHash(fileName(path)))) }
            .sorted { ($0.1, $0.0) < ($1.1, $1.0) }
        self.product = product
        self.folder = folder
        self.all = all
        self.holdout = ranked.prefix(holdoutCount).map(\.0).sorted()
        self.training = ranked.dropFirst(holdoutCount).map(\.0).sorted()
    }

    static func holdoutCount(images: Int, fraction: Double) -> Int {
        guard images >= minimumImagesForHoldout, fraction > 0 else { return 0 }
        return min(max(1, Int((Double(images) * fraction).rounded())), images - 1)
    }
}

private func fileName(_ path: String) -> Substring {
    path.split(separator: "/", omittingEmptySubsequences: true).last ?? Substring(path)
}

/// FNV-1a over the UTF-8 bytes: Swift's `Hasher` is seeded per process, so it cannot key a split
/// (or calibration's perturbed copies) that must come out the same tomorrow.
func stableHash<S: StringProtocol>(_ text: S) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 {
        hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }
    return hash
}

/// SplitMix64's finaliser: FNV alone leaves similar names ("001.png", "002.png") with similar low
/// bits, which would make the ranks follow the names.
private func mix(_ value: UInt64) -> UInt64 {
    var z = value &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
