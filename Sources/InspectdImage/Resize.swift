extension Image {
    /// Resamples to `width` x `height` with a separable triangle filter that
    /// antialiases when shrinking (see `ResampleAxis`). Intermediate values
    /// are kept as Float, so only the final result is rounded.
    public func resized(width newWidth: Int, height newHeight: Int) -> Image {
        if newWidth == width && newHeight == height { return self }
        let rowLength = newWidth * channels
        let output = [UInt8](unsafeUninitializedCapacity: rowLength * newHeight) { out, initialised in
            resample(width: newWidth, height: newHeight) { y, row in
                let dst = out.baseAddress! + y * rowLength
                for j in 0..<rowLength {
                    dst[j] = UInt8(min(max(row[j] + 0.5, 0), 255))
                }
            }
            initialised = out.count
        }
        return Image(width: newWidth, height: newHeight, format: format, pixels: output)
    }

    /// Resamples rows, then columns, one output row at a time, handing each
    /// finished row (`newWidth * channels` interleaved Floats in 0...255) to
    /// `emit`. Going vertical first puts most of the work of a downscale in
    /// the vertical pass, whose inner loop runs along contiguous rows and
    /// vectorises; no full-size intermediate image is made.
    func resample(width newWidth: Int, height newHeight: Int, emit: (Int, UnsafePointer<Float>) -> Void) {
        precondition(width > 0 && height > 0, "cannot resample an empty image")
        let horizontal = ResampleAxis(source: width, target: newWidth)
        let vertical = ResampleAxis(source: height, target: newHeight)
        let channels = self.channels, sourceLength = width * channels
        // Each pixel is handled as a SIMD4 whatever its channel count, so the
        // rows get slack for the lanes past the last pixel.
        let slack = 4 - 1
        let column = UnsafeMutablePointer<Float>.allocate(capacity: sourceLength + slack)
        let row = UnsafeMutablePointer<Float>.allocate(capacity: newWidth * channels + slack)
        column.initialize(repeating: 0, count: sourceLength + slack)
        defer {
            column.deallocate()
            row.deallocate()
        }
        pixels.withUnsafeBufferPointer { source in
            horizontal.weights.withUnsafeBufferPointer { horizontalWeights in
                for y in 0..<newHeight {
                    column.update(repeating: 0, count: sourceLength)
                    for k in 0..<vertical.counts[y] {
                        let w = vertical.weights[y * vertical.taps + k]
                        let src = source.baseAddress! + (vertical.starts[y] + k) * sourceLength
                        for j in 0..<sourceLength { column[j] += w * Float(src[j]) }
                    }
                    for x in 0..<newWidth {
                        let taps = UnsafeRawPointer(column + horizontal.starts[x] * channels)
                        let weights = horizontalWeights.baseAddress! + x * horizontal.taps
                        var sum = SIMD4<Float>()
                        for k in 0..<horizontal.counts[x] {
                            sum += weights[k] * taps.loadUnaligned(fromByteOffset: k * channels * 4, as: SIMD4<Float>.self)
                        }
                        UnsafeMutableRawPointer(row + x * channels).storeBytes(of: sum, as: SIMD4<Float>.self)
                    }
                    emit(y, row)
                }
            }
        }
    }
}
