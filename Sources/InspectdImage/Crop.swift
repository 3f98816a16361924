extension Image {
    /// The `width` x `height` region whose top-left pixel is (`x`, `y`).
    /// Throws when the region is empty or reaches outside the image: regions
    /// come from configuration and must not bring the daemon down.
    public func cropped(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) throws -> Image {
        guard cropWidth > 0, cropHeight > 0, x >= 0, y >= 0, x + cropWidth <= width, y + cropHeight <= height else {
            throw ImageError(file: nil, reason: .invalidRegion(
                "\(cropWidth)x\(cropHeight) at (\(x), \(y)) in a \(width)x\(height) image"))
        }
        let rowBytes = cropWidth * channels
        let output = [UInt8](unsafeUninitializedCapacity: rowBytes * cropHeight) { out, initialised in
            pixels.withUnsafeBufferPointer { source in
                for row in 0..<cropHeight {
                    let start = ((y + row) * width + x) * channels
                    (out.baseAddress! + row * rowBytes).initialize(from: source.baseAddress! + start, count: rowBytes)
                }
            }
            initialised = out.count
        }
        return Image(width: cropWidth, height: cropHeight, format: format, pixels: output)
    }
}
