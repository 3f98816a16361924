extension Image {
    /// Converts between grey, RGB and RGBA. Grey is BT.601 luma (the weights
    /// JPEG uses), grey to colour replicates the value, alpha is dropped
    /// without compositing and added as fully opaque.
    public func converted(to target: PixelFormat) -> Image {
        if target == format { return self }
        let count = width * height
        let sourceChannels = channels, targetChannels = target.rawValue
        let output = [UInt8](unsafeUninitializedCapacity: count * targetChannels) { out, initialised in
            pixels.withUnsafeBufferPointer { source in
                let src = source.baseAddress!, dst = out.baseAddress!
                switch (format, target) {
                case (.grey, _):
                    for i in 0..<count {
                        let value = src[i]
                        for c in 0..<3 { dst[i * targetChannels + c] = value }
                        if targetChannels == 4 { dst[i * 4 + 3] = 255 }
                    }
                case (_, .grey):
                    for i in 0..<count {
                        let p = src + i * sourceChannels
                        let luma = 19595 * UInt32(p[0]) + 38470 * UInt32(p[1]) + 7471 * UInt32(p[2]) + 32768
                        dst[i] = UInt8(truncatingIfNeeded: luma >> 16)
                    }
                default: // RGB <-> RGBA
                    for i in 0..<count {
                        for c in 0..<3 { dst[i * targetChannels + c] = src[i * sourceChannels + c] }
                        if targetChannels == 4 { dst[i * 4 + 3] = 255 }
                    }
                }
            }
            initialised = out.count
        }
        return Image(width: width, height: height, format: target, pixels: output)
    }
}
