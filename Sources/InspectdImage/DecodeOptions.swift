/// Limits applied while decoding.
public struct DecodeOptions: Sendable, Equatable {
    /// 64 megapixels: far above any inspection camera, far below what would
    /// exhaust the memory of an edge box (64 M x 4 bytes = 256 MB).
    public static let defaultMaxPixels = 64_000_000

    /// Images whose header declares more than `maxPixels` (width x height)
    /// are rejected before any pixel memory is allocated.
    public var maxPixels: Int

    public init(maxPixels: Int = DecodeOptions.defaultMaxPixels) {
        self.maxPixels = maxPixels
    }
}
