import Foundation
import InspectdTesting
import Testing
@testable import InspectdTensor

@Suite struct TrainTests {
    /// AdamW's update written out for one scalar, straight from the paper's algorithm.
    func referenceAdamW(w0: Float, grads: [Float], lr: Float, b1: Float, b2: Float, eps: Float, wd: Float) -> Float {
        var (w, m, v) = (w0, Float(0), Float(0))
        for (t, g) in grads.enumerated() {
            w -= lr * wd * w
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            let mHat = m / (1 - pow(b1, Float(t + 1))), vHat = v / (1 - pow(b2, Float(t + 1)))
            w -= lr * mHat / (vHat.squareRoot() + eps)
        }
        return w
    }

    @Test func adamWMatchesReferenceUpdate() {
        let w = Tensor(shape: [2], data: [0.5, -1.5], requiresGrad: true)
        let opt = AdamW([NamedParameter("w", w)], learningRate: 0.1, weightDecay: 0.05)
        let grads: [[Float]] = [[0.3, -2], [0.1, 1], [-0.4, 0.5]]
        for g in grads {
            w.grad = Tensor(shape: [2], data: g)
            opt.step()
        }
        for i in 0..<2 {
            let ref = referenceAdamW(w0: [0.5, -1.5][i], grads: grads.map { $0[i] }, lr: 0.1,
                                     b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.05)
            #expect(abs(w.data[i] - ref) < 1e-5)
        }
    }

    /// A parameter large enough that the update is split between threads, element by element
    /// against the scalar algorithm.
    @Test func adamWOnALargeParameterMatchesReferenceUpdate() {
        var r = TestRandom(seed: 53)
        let count = 100_003
        let start = r.tensor([count]).data
        let w = Tensor(shape: [count], data: start, requiresGrad: true)
        let opt = AdamW([NamedParameter("w", w)], learningRate: 0.01, weightDecay: 0.1)
        let grads = (0..<3).map { _ in r.tensor([count]).data }
        for g in grads {
            w.grad = Tensor(shape: [count], data: g)
            opt.step()
        }
        var worst: Float = 0
        for i in 0..<count {
            let ref = referenceAdamW(w0: start[i], grads: grads.map { $0[i] }, lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1)
            worst = max(worst, abs(w.data[i] - ref))
        }
        #expect(worst < 1e-5)
    }

    @Test func adamWFitsALinearModel() {
        var rng = SeededGenerator(seed: 1)
        let x = Initialiser.uniform([64, 3], bound: 1, using: &rng)
        x.requiresGrad = false
        let trueW = Tensor(shape: [1, 3], data: [2, -1, 0.5])
        let y = Autograd.withoutRecording { linear(x, trueW) }
        let w = Initialiser.defaultWeight([1, 3], fanIn: 3, using: &rng)
        let opt = AdamW([NamedParameter("w", w)], learningRate: 0.05, weightDecay: 0)
        for _ in 0..<300 {
            opt.zeroGrad()
            let pred = linear(x, w)
            // Σ (pred - y)² through the seed: the loss gradient is 2(pred - y).
            let residual = zip(pred.data, y.data).map { 2 * ($0 - $1) }
            pred.backward(seed: Tensor(shape: pred.shape, data: residual))
            opt.step()
        }
        #expect(zip(w.data, trueW.data).allSatisfy { abs($0 - $1) < 1e-2 })
    }

    struct ZeroFirst: GradientHook {
        func adjust(_ parameters: [NamedParameter]) {
            parameters.first { $0.name == "frozen" }?.tensor.grad = nil
        }
    }

    @Test func hooksRunBetweenBackwardAndUpdate() {
        let frozen = Tensor(shape: [1], data: [1], requiresGrad: true)
        let free = Tensor(shape: [1], data: [1], requiresGrad: true)
        let opt = AdamW([NamedParameter("frozen", frozen), NamedParameter("free", free)], learningRate: 0.1)
        frozen.grad = Tensor(shape: [1], data: [1])
        free.grad = Tensor(shape: [1], data: [1])
        opt.step(hooks: [ZeroFirst()])
        #expect(frozen.data == [1])
        #expect(free.data[0] < 1)
    }

    @Test func gradientClipBoundsTheGlobalNorm() {
        let a = Tensor(shape: [2], data: [0, 0], requiresGrad: true)
        a.grad = Tensor(shape: [2], data: [3, 4])
        GradientNormClip(maxNorm: 1).adjust([NamedParameter("a", a)])
        #expect(abs(a.grad!.data[0] - 0.6) < 1e-6 && abs(a.grad!.data[1] - 0.8) < 1e-6)
    }

    @Test func gradientClipOverLargeGradientsUsesTheGlobalNorm() {
        var r = TestRandom(seed: 54)
        let a = Tensor(shape: [70_001], data: [Float](repeating: 0, count: 70_001), requiresGrad: true)
        let b = Tensor(shape: [3], data: [0, 0, 0], requiresGrad: true)
        a.grad = r.tensor([70_001])
        b.grad = Tensor(shape: [3], data: [100, -200, 50])
        let before = a.grad!.data + b.grad!.data
        let norm = before.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        GradientNormClip(maxNorm: 2).adjust([NamedParameter("a", a), NamedParameter("b", b)])
        let after = a.grad!.data + b.grad!.data
        #expect(abs(after.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() - 2) < 1e-4)
        #expect(zip(before, after).allSatisfy { abs(Double($1) - Double($0) * 2 / norm) <= 1e-6 * abs(Double($0)) + 1e-9 })
    }

    @Test func seededInitialisationIsReproducible() {
        var r1 = SeededGenerator(seed: 42), r2 = SeededGenerator(seed: 42), r3 = SeededGenerator(seed: 43)
        let a = Initialiser.defaultWeight([8, 4, 3, 3], fanIn: 36, using: &r1)
        let b = Initialiser.defaultWeight([8, 4, 3, 3], fanIn: 36, using: &r2)
        let c = Initialiser.defaultWeight([8, 4, 3, 3], fanIn: 36, using: &r3)
        #expect(a.data == b.data)
        #expect(a.data != c.data)
        #expect(a.data.allSatisfy { abs($0) <= 1 / Float(36).squareRoot() })
        var rn = SeededGenerator(seed: 9)
        let n = Initialiser.normal([20000], std: 2, using: &rn)
        let mean = n.data.reduce(0, +) / Float(n.count)
        let variance = n.data.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(n.count)
        #expect(abs(mean) < 0.05 && abs(variance.squareRoot() - 2) < 0.05)
    }

    @Test func symmetricEigenReconstructsTheMatrix() throws {
        let n = 4
        var rng = SeededGenerator(seed: 3)
        let b = (0..<(n * n)).map { _ in Double(rng.nextNormal()) }
        var s = [Double](repeating: 0, count: n * n)   // s = b bᵀ is symmetric positive semi-definite
        for i in 0..<n { for j in 0..<n { for k in 0..<n { s[i * n + j] += b[i * n + k] * b[j * n + k] } } }
        let (values, vectors) = try Linalg.symmetricEigen(s, n: n)
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 >= $1 })
        for i in 0..<n { for j in 0..<n {
            var r = 0.0
            for k in 0..<n { r += vectors[i * n + k] * values[k] * vectors[j * n + k] }
            #expect(abs(r - s[i * n + j]) < 1e-9)
        }}
    }
}
