/// Per-channel affine normalisation `(value - mean) / std`, applied to
/// samples in 0...255, channels in R, G, B order.
public struct Normalisation: Sendable, Equatable {
    public var mean: SIMD3<Float>
    public var std: SIMD3<Float>

    public init(mean: SIMD3<Float>, std: SIMD3<Float>) {
        self.mean = mean
        self.std = std
    }

    /// EfficientNet-Lite's input scaling: (x - 127) / 128, roughly -1...1.
    public static let efficientNetLite = Normalisation(mean: SIMD3(repeating: 127), std: SIMD3(repeating: 128))

    /// The torchvision ImageNet statistics, scaled to 0...255.
    public static let imageNet = Normalisation(mean: SIMD3(0.485, 0.456, 0.406) * 255,
                                               std: SIMD3(0.229, 0.224, 0.225) * 255)
}

extension Image {
    /// The image as normalised planar RGB (all R, then all G, then all B,
    /// each row-major): `3 * height * width` Floats, ready to be a CHW tensor.
    /// Grey is replicated to three channels and alpha is dropped.
    public func planarFloats(normalisation: Normalisation = .efficientNetLite) -> [Float] {
        let rgb = converted(to: .rgb)
        let plane = width * height
        let scale = 1 / normalisation.std, offset = -normalisation.mean * scale
        return [Float](unsafeUninitializedCapacity: 3 * plane) { out, initialised in
            rgb.pixels.withUnsafeBufferPointer { source in
                let src = source.baseAddress!, dst = out.baseAddress!
                for c in 0..<3 {
                    let a = scale[c], b = offset[c]
                    for i in 0..<plane { dst[c * plane + i] = Float(src[3 * i + c]) * a + b }
                }
            }
            initialised = out.count
        }
    }

    /// As `planarFloats(normalisation:)`, resampled to `width` x `height`
    /// first (see `resized`). The resampled values are not rounded to 8 bits.
    public func planarFloats(width newWidth: Int, height newHeight: Int,
                             normalisation: Normalisation = .efficientNetLite) -> [Float] {
        if newWidth == width && newHeight == height { return planarFloats(normalisation: normalisation) }
        let rgb = converted(to: .rgb)
        let plane = newWidth * newHeight
        let scale = 1 / normalisation.std, offset = -normalisation.mean * scale
        return [Float](unsafeUninitializedCapacity: 3 * plane) { out, initialised in
            let dst = out.baseAddress!
            rgb.resample(width: newWidth, height: newHeight) { y, row in
                for c in 0..<3 {
                    let a = scale[c], b = offset[c]
                    let plane = dst + c * plane + y * newWidth
                    for x in 0..<newWidth { plane[x] = row[3 * x + c] * a + b }
                }
            }
            initialised = out.count
        }
    }
}
