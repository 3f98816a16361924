import Foundation
import InspectdTensor

/// One frame's anomaly map: `height` rows of `width` scores, row-major, higher = more anomalous.
///
/// The reference's post-processing, which `smoothedMap` follows: the latent-grid distance is
/// upsampled bilinearly to the model resolution and smoothed there with a Gaussian of sigma 4;
/// the image score is the maximum of that map. A map for the full frame is the smoothed map
/// resized to the frame (`resized`): blurring at 256 and then resizing equals, to within the
/// interpolation, blurring at frame size with sigma scaled by frame/256 — at a tenth of the cost
/// (a 900 px frame would need 113 taps per pass instead of 33).
public struct AnomalyMap: Sendable, Equatable {
    public static let defaultSigma: Float = 4

    public let width: Int
    public let height: Int
    public var values: [Float]

    public init(width: Int, height: Int, values: [Float]) {
        precondition(width > 0 && height > 0 && values.count == width * height,
                     "\(values.count) values for a \(width)x\(height) map")
        self.width = width
        self.height = height
        self.values = values
    }

    /// Map `index` of maps [N, H, W] (as `distance` returns) or [N, 1, H, W].
    public init(_ maps: Tensor, index: Int) {
        precondition((maps.rank == 3 || (maps.rank == 4 && maps.shape[1] == 1)) && (0..<maps.shape[0]).contains(index),
                     "map \(index) of a tensor \(maps.shape)")
        let height = maps.shape[maps.rank - 2], width = maps.shape[maps.rank - 1], plane = width * height
        self.init(width: width, height: height, values: Array(maps.data[(index * plane)..<((index + 1) * plane)]))
    }

    /// Per position, the mean over channels of the squared difference of two latents [N, C, H, W]:
    /// maps [N, H, W]. With `pooling` k > 1 the difference is first averaged over the k x k window
    /// around each position (over the window's positions inside the grid, so the border is not
    /// pulled towards zero); with `normal` each squared term is divided by its product's normal
    /// level at that channel and position before the mean.
    public static func distance(_ a: Tensor, _ b: Tensor, pooling: Int = 1, normal: NormalResiduals.Levels? = nil) -> Tensor {
        distance(a, b, pooling: pooling, normals: Array(repeating: normal, count: a.shape[0]))
    }

    /// `distance` with each image's own levels (nil: not standardised): a batch may hold frames of
    /// several products.
    public static func distance(_ a: Tensor, _ b: Tensor, pooling: Int = 1, normals: [NormalResiduals.Levels?]) -> Tensor {
        let squared = squaredResiduals(a, b, pooling: pooling)
        let (images, channels, plane) = (a.shape[0], a.shape[1], a.shape[2] * a.shape[3])
        precondition(normals.count == images, "\(normals.count) sets of normal residual levels for \(images) images")
        for normal in normals.compactMap({ $0 }) {
            precondition(normal.values.count == channels * plane, "normal residual levels for \(normal.values.count / max(1, plane)) channels, latents have \(channels)")
        }
        let scale = 1 / Float(channels)
        return Tensor(shape: [images, a.shape[2], a.shape[3]]) { out in
            squared.data.withUnsafeBufferPointer { terms in
                var weighted: (levels: NormalResiduals.Levels, weights: [Float])?
                for image in 0..<images {
                    // Frames of one product usually come together: their weights are made once.
                    if let normal = normals[image], weighted?.levels != normal {
                        weighted = (normal, normal.values.map { 1 / ($0 + NormalResiduals.floor) })
                    }
                    let weights = normals[image] == nil ? nil : weighted?.weights
                    let map = out.baseAddress! + image * plane
                    map.update(repeating: 0, count: plane)
                    for channel in 0..<channels {
                        let term = terms.baseAddress! + (image * channels + channel) * plane
                        if let weights {
                            weights.withUnsafeBufferPointer { w in
                                let weight = w.baseAddress! + channel * plane
                                for i in 0..<plane { map[i] += term[i] * weight[i] }
                            }
                        } else {
                            for i in 0..<plane { map[i] += term[i] }
                        }
                    }
                    for i in 0..<plane { map[i] *= scale }
                }
            }
        }
    }

    /// (window mean of a - b)^2 per image, channel and position: [N, C, H, W]. What `distance`
    /// averages over channels, and what `NormalResiduals` averages over normal images.
    public static func squaredResiduals(_ a: Tensor, _ b: Tensor, pooling: Int = 1) -> Tensor {
        precondition(a.rank == 4 && a.shape == b.shape, "distance between latents \(a.shape) and \(b.shape)")
        precondition(pooling >= 1 && pooling % 2 == 1, "pooling window \(pooling) must be odd and positive")
        let (height, width) = (a.shape[2], a.shape[3]), plane = height * width
        let planes = a.shape[0] * a.shape[1], radius = pooling / 2
        return Tensor(shape: a.shape) { out in
            a.data.withUnsafeBufferPointer { first in
                b.data.withUnsafeBufferPointer { second in
                    var row = [Float](repeating: 0, count: plane)
                    for p in 0..<planes {
                        let x = first.baseAddress! + p * plane, y = second.baseAddress! + p * plane
                        let to = out.baseAddress! + p * plane
                        guard radius > 0 else {
                            for i in 0..<plane { let d = x[i] - y[i]; to[i] = d * d }
                            continue
                        }
                        // Separable window mean: along rows into `row`, then down columns.
                        for r in 0..<height {
                            for c in 0..<width {
                                let lo = max(0, c - radius), hi = min(width - 1, c + radius)
                                var sum: Float = 0
                                for k in lo...hi { sum += x[r * width + k] - y[r * width + k] }
                                row[r * width + c] = sum / Float(hi - lo + 1)
                            }
                        }
                        for r in 0..<height {
                            let lo = max(0, r - radius), hi = min(height - 1, r + radius)
                            for c in 0..<width {
                                var sum: Float = 0
                                for k in lo...hi { sum += row[k * width + c] }
                                let d = sum / Float(hi - lo + 1)
                                to[r * width + c] = d * d
                            }
                        }
                    }
                }
            }
        }
    }

    /// The largest value.
    public var maximum: Float { values.max()! }

    /// The image score: the mean of the highest `topFraction` of the values (at least one of
    /// them), so 0 gives the maximum. A mean over the top few hundred pixels of a 256² map asks a
    /// defect to be large as well as strong, which one stray bright pixel on a busy normal
    /// texture is not.
    public func imageScore(topFraction: Float) -> Float {
        imageScores(topFractions: [topFraction])[0]
    }

    /// `imageScore` for each of `topFractions`, selecting the map's top values at most once.
    public func imageScores(topFractions: [Float]) -> [Float] {
        let counts = topFractions.map { fraction in
            precondition((0...1).contains(fraction), "top fraction \(fraction) is outside 0...1")
            return max(1, Int((fraction * Float(values.count)).rounded()))
        }
        guard counts.contains(where: { $0 > 1 }) else {
            let top = maximum
            return counts.map { _ in top }
        }
        let top = Self.largest(counts.max()!, of: values)
        return counts.map { count in top.prefix(count).reduce(0, +) / Float(count) }
    }

    /// The `k` largest of `values`, largest first. Selection (Hoare partitions around the middle
    /// element, into the side that holds the k-th) instead of sorting a 256² map for its top few
    /// hundred values, which took 2 % of a frame's scoring time.
    static func largest(_ k: Int, of values: [Float]) -> [Float] {
        precondition((1...values.count).contains(k), "\(k) largest of \(values.count) values")
        var a = values
        var lo = 0, hi = a.count - 1
        while lo < hi {
            let pivot = a[lo + (hi - lo) / 2]
            var i = lo, j = hi
            while i <= j {
                while a[i] > pivot { i += 1 }
                while a[j] < pivot { j -= 1 }
                if i <= j {
                    a.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            // Now a[lo...j] >= pivot >= a[i...hi], and anything between equals the pivot.
            if k - 1 <= j { hi = j } else if k - 1 >= i { lo = i } else { break }
        }
        return a[0..<k].sorted(by: >)
    }

    /// The reference's map at model resolution: upsampled to `side` x `side`, then smoothed with
    /// a Gaussian of `sigma` pixels.
    public func smoothedMap(side: Int, sigma: Float = defaultSigma) -> AnomalyMap {
        resized(width: side, height: side).smoothed(sigma: sigma)
    }

    /// Bilinear resize with PyTorch's align_corners=false convention, by the engine's
    /// `resizeBilinear` (the same op the latent's stride-16 map goes through).
    public func resized(width newWidth: Int, height newHeight: Int) -> AnomalyMap {
        precondition(newWidth > 0 && newHeight > 0, "resize to \(newWidth)x\(newHeight)")
        if newWidth == width && newHeight == height { return self }
        let map = Tensor(shape: [1, 1, height, width], data: values)
        return AnomalyMap(width: newWidth, height: newHeight,
                          values: resizeBilinear(map, height: newHeight, width: newWidth).data)
    }

    /// Gaussian smoothing with the same `sigma` along both axes.
    public func smoothed(sigma: Float) -> AnomalyMap {
        smoothed(sigmaX: sigma, sigmaY: sigma)
    }

    /// Separable Gaussian smoothing as scipy's `gaussian_filter` (which the reference calls) does
    /// it: kernel truncated at 4 sigma (radius = round(4 sigma)), borders mirrored about the edge
    /// (`reflect`: d c b a | a b c d), so a map's edge is not pulled towards zero. A sigma of 0
    /// leaves that axis alone.
    public func smoothed(sigmaX: Float, sigmaY: Float) -> AnomalyMap {
        precondition(sigmaX >= 0 && sigmaY >= 0, "negative smoothing sigma \(sigmaX), \(sigmaY)")
        let horizontal = GaussianKernel(sigma: sigmaX), vertical = GaussianKernel(sigma: sigmaY)
        var across = values
        if horizontal.radius > 0 {
            let radius = horizontal.radius
            var padded = [Float](repeating: 0, count: width + 2 * radius)
            values.withUnsafeBufferPointer { source in
                across.withUnsafeMutableBufferPointer { target in
                    padded.withUnsafeMutableBufferPointer { padded in
                        for y in 0..<height {
                            let from = source.baseAddress! + y * width, to = target.baseAddress! + y * width
                            for i in 0..<padded.count { padded[i] = from[mirrored(i - radius, size: width)] }
                            to.update(repeating: 0, count: width)
                            // Tap by tap over the whole row: each step is a vectorised a*x+y.
                            for (k, weight) in horizontal.weights.enumerated() {
                                let shifted = padded.baseAddress! + k
                                for x in 0..<width { to[x] += weight * shifted[x] }
                            }
                        }
                    }
                }
            }
        }
        guard vertical.radius > 0 else { return AnomalyMap(width: width, height: height, values: across) }
        let radius = vertical.radius
        let output = [Float](unsafeUninitializedCapacity: width * height) { out, initialised in
            across.withUnsafeBufferPointer { source in
                for y in 0..<height {
                    let to = out.baseAddress! + y * width
                    to.update(repeating: 0, count: width)
                    for (k, weight) in vertical.weights.enumerated() {
                        let from = source.baseAddress! + mirrored(y + k - radius, size: height) * width
                        for x in 0..<width { to[x] += weight * from[x] }
                    }
                }
            }
            initialised = out.count
        }
        return AnomalyMap(width: width, height: height, values: output)
    }
}

/// A normalised, truncated Gaussian: weights for offsets -radius...radius.
private struct GaussianKernel {
    let radius: Int
    let weights: [Float]

    init(sigma: Float) {
        radius = Int(4 * sigma + 0.5)
        let raw = (-radius...radius).map { offset in
            sigma > 0 ? Foundation.exp(-0.5 * Double(offset * offset) / Double(sigma * sigma)) : 1
        }
        let total = raw.reduce(0, +)
        weights = raw.map { Float($0 / total) }
    }
}

/// Index `i` folded into 0..<size by mirroring about the edges (scipy's `reflect`), for any `i`.
@inline(__always)
private func mirrored(_ i: Int, size: Int) -> Int {
    let period = 2 * size
    let folded = ((i % period) + period) % period
    return folded < size ? folded : period - 1 - folded
}
