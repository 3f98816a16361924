import InspectdTensor

/// Per-channel mean and standard deviation of latents, fitted once (on the first task's training
/// images) and frozen: standardising makes the 40 stride-8 and 112 stride-16 channels weigh alike
/// in the squared-distance map, and later tasks must see the same scale as the first.
public struct LatentStatistics: Sendable, Codable, Equatable {
    /// Standard deviations are floored here: a channel that is constant on the fitting data (a
    /// ReLU6 unit that never fires) would otherwise divide by zero.
    public static let standardDeviationFloor: Float = 1e-4
    /// Names of the two [C] tensors in a weights file.
    public static let meanTensorName = "latent.mean"
    public static let standardDeviationTensorName = "latent.std"

    public let mean: [Float]
    /// Population standard deviation, already floored.
    public let standardDeviation: [Float]

    public var channels: Int { mean.count }

    public init(mean: [Float], standardDeviation: [Float]) {
        precondition(mean.count == standardDeviation.count,
                     "\(mean.count) means for \(standardDeviation.count) standard deviations")
        self.mean = mean
        self.standardDeviation = standardDeviation.map { max($0, Self.standardDeviationFloor) }
    }

    /// Fitted on latents [N, C, H, W]: every position of every image counts once.
    public init(fitting latents: Tensor) {
        var accumulator = Accumulator(channels: latents.shape[1])
        accumulator.add(latents)
        self = accumulator.statistics
    }

    /// (z - mean) / std per channel, for latents [N, C, H, W].
    public func apply(to latents: Tensor) -> Tensor {
        precondition(latents.rank == 4 && latents.shape[1] == channels,
                     "statistics for \(channels) channels applied to latents \(latents.shape)")
        let plane = latents.shape[2] * latents.shape[3], planes = latents.shape[0] * channels
        let scale = standardDeviation.map { 1 / $0 }
        return Tensor(shape: latents.shape) { out in
            latents.data.withUnsafeBufferPointer { source in
                for p in 0..<planes {
                    let channel = p % channels, factor = scale[channel], centre = mean[channel]
                    let from = source.baseAddress! + p * plane, to = out.baseAddress! + p * plane
                    for i in 0..<plane { to[i] = (from[i] - centre) * factor }
                }
            }
        }
    }

    /// The statistics as named [C] tensors, for the detector's weights file.
    public var tensors: [String: Tensor] {
        [Self.meanTensorName: Tensor(shape: [channels], data: mean),
         Self.standardDeviationTensorName: Tensor(shape: [channels], data: standardDeviation)]
    }

    /// Reads them back; nil when either tensor is absent or they disagree in shape.
    public init?(tensors: [String: Tensor]) {
        guard let mean = tensors[Self.meanTensorName], let deviation = tensors[Self.standardDeviationTensorName],
              mean.rank == 1, deviation.shape == mean.shape else { return nil }
        self.init(mean: mean.data, standardDeviation: deviation.data)
    }

    /// Fits statistics over latents that arrive batch by batch, so a whole product's latents
    /// never have to be held at once. Each batch is reduced exactly (two passes, Float64) and
    /// merged with Chan's parallel formula, which stays accurate where a running sum of squares
    /// would cancel.
    public struct Accumulator: Sendable {
        public let channels: Int
        private var count: Double = 0
        private var means: [Double]
        private var squaredDeviations: [Double]

        public init(channels: Int) {
            self.channels = channels
            means = [Double](repeating: 0, count: channels)
            squaredDeviations = means
        }

        public mutating func add(_ latents: Tensor) {
            precondition(latents.rank == 4 && latents.shape[1] == channels,
                         "accumulator for \(channels) channels given latents \(latents.shape)")
            let images = latents.shape[0], plane = latents.shape[2] * latents.shape[3]
            let batchCount = Double(images * plane)
            guard batchCount > 0 else { return }
            latents.data.withUnsafeBufferPointer { values in
                for channel in 0..<channels {
                    var sum = 0.0
                    for image in 0..<images {
                        let start = values.baseAddress! + (image * channels + channel) * plane
                        for i in 0..<plane { sum += Double(start[i]) }
                    }
                    let batchMean = sum / batchCount
                    var batchSquares = 0.0
                    for image in 0..<images {
                        let start = values.baseAddress! + (image * channels + channel) * plane
                        for i in 0..<plane {
                            let deviation = Double(start[i]) - batchMean
                            batchSquares += deviation * deviation
                        }
                    }
                    let total = count + batchCount, delta = batchMean - means[channel]
                    means[channel] += delta * batchCount / total
                    squaredDeviations[channel] += batchSquares + delta * delta * count * batchCount / total
                }
            }
            count += batchCount
        }

        /// The statistics of everything added so far.
        public var statistics: LatentStatistics {
            precondition(count > 0, "latent statistics fitted on no latents")
            return LatentStatistics(mean: means.map { Float($0) },
                                    standardDeviation: squaredDeviations.map { Float(($0 / count).squareRoot()) })
        }
    }
}
