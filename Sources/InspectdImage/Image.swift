/// How the samples of one pixel are laid out; the raw value is the channel count.
public enum PixelFormat: Int, Sendable, CaseIterable {
    case grey = 1
    case rgb = 3
    case rgba = 4
}

/// An 8-bit image: `pixels` holds `height` rows of `width` pixels, each pixel
/// `channels` consecutive samples, rows top to bottom with no padding.
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let format: PixelFormat
    public var pixels: [UInt8]

    public var channels: Int { format.rawValue }

    /// The pixel count must match the size; a mismatch is a programming error.
    public init(width: Int, height: Int, format: PixelFormat, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "negative image size \(width)x\(height)")
        precondition(pixels.count == width * height * format.rawValue,
                     "\(pixels.count) samples for a \(width)x\(height) \(format) image")
        self.width = width
        self.height = height
        self.format = format
        self.pixels = pixels
    }

    /// Sample `channel` of the pixel at column `x`, row `y`.
    public subscript(x: Int, y: Int, channel: Int) -> UInt8 {
        get { pixels[(y * width + x) * channels + channel] }
        set { pixels[(y * width + x) * channels + channel] = newValue }
    }
}
