/// Precomputed weights for resampling one axis from `source` to `target`
/// samples with a triangle (bilinear) filter, the scheme of PIL's BILINEAR:
/// pixel centres sit at i + 0.5, and when shrinking the filter's support is
/// widened by the scale factor so every source pixel contributes (area-like
/// antialiasing). When enlarging it is plain bilinear interpolation, with
/// edge pixels repeated.
struct ResampleAxis {
    let target: Int
    /// First source index read by each output sample.
    let starts: [Int]
    /// Number of source samples read by each output sample.
    let counts: [Int]
    /// `taps` weights per output sample (zero-padded past `counts`), summing to 1.
    let weights: [Float]
    let taps: Int

    init(source: Int, target: Int) {
        precondition(source > 0 && target > 0, "cannot resample \(source) samples to \(target)")
        let scale = Double(source) / Double(target)
        let widening = max(scale, 1)
        let support = widening // the triangle's half-width is 1 input pixel, widened
        let taps = Int((2 * support).rounded(.up)) + 1
        var starts = [Int](repeating: 0, count: target)
        var counts = [Int](repeating: 0, count: target)
        var weights = [Float](repeating: 0, count: target * taps)
        for i in 0..<target {
            let centre = (Double(i) + 0.5) * scale
            let first = max(Int((centre - support).rounded(.down)), 0)
            let end = min(Int((centre + support).rounded(.up)), source)
            var raw = [Double]()
            for x in first..<end {
                raw.append(max(0, 1 - abs((Double(x) + 0.5 - centre) / widening)))
            }
            let total = raw.reduce(0, +)
            starts[i] = first
            counts[i] = raw.count
            for (k, w) in raw.enumerated() { weights[i * taps + k] = Float(w / total) }
        }
        self.target = target
        self.starts = starts
        self.counts = counts
        self.weights = weights
        self.taps = taps
    }
}
