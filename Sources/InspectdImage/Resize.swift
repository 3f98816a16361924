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

    /// Resamples columns, then rows, handing each finished output row (as
    /// `newWidth * channels` interleaved Floats in 0...255) to `emit`.
    func resample(width newWidth: Int, height newHeight: Int, emit: (Int, UnsafePointer<Float>) -> Void) {
        precondition(width > 0 && height > 0, "cannot resample an empty image")
        let horizontal = ResampleAxis(source: width, target: newWidth)
        let vertical = ResampleAxis(source: height, target: newHeight)
        let columns = resampleColumns(horizontal)
        resampleRows(columns, rowLength: newWidth * channels, axis: vertical, emit: emit)
    }

    /// Horizontal pass: every source row to `axis.target` pixels, as Floats.
    private func resampleColumns(_ axis: ResampleAxis) -> [Float] {
        let channels = self.channels, sourceRow = width * channels, targetRow = axis.target * channels
        return [Float](unsafeUninitializedCapacity: targetRow * height) { out, initialised in
            pixels.withUnsafeBufferPointer { source in
                axis.starts.withUnsafeBufferPointer { starts in
                    axis.counts.withUnsafeBufferPointer { counts in
                        axis.weights.withUnsafeBufferPointer { weights in
                            for y in 0..<height {
                                let src = source.baseAddress! + y * sourceRow
                                let dst = out.baseAddress! + y * targetRow
                                for x in 0..<axis.target {
                                    let taps = src + starts[x] * channels
                                    let w = weights.baseAddress! + x * axis.taps
                                    for c in 0..<channels {
                                        var sum: Float = 0
                                        for k in 0..<counts[x] { sum += w[k] * Float(taps[k * channels + c]) }
                                        dst[x * channels + c] = sum
                                    }
                                }
                            }
                        }
                    }
                }
            }
            initialised = out.count
        }
    }
}

/// Vertical pass: each output row is a weighted sum of whole input rows,
/// which keeps the inner loop contiguous and vectorisable.
private func resampleRows(_ input: [Float], rowLength: Int, axis: ResampleAxis,
                          emit: (Int, UnsafePointer<Float>) -> Void) {
    let row = UnsafeMutablePointer<Float>.allocate(capacity: rowLength)
    defer { row.deallocate() }
    input.withUnsafeBufferPointer { source in
        axis.weights.withUnsafeBufferPointer { weights in
            for y in 0..<axis.target {
                row.initialize(repeating: 0, count: rowLength)
                for k in 0..<axis.counts[y] {
                    let w = weights[y * axis.taps + k]
                    let src = source.baseAddress! + (axis.starts[y] + k) * rowLength
                    for j in 0..<rowLength { row[j] += w * src[j] }
                }
                emit(y, row)
            }
        }
    }
}
