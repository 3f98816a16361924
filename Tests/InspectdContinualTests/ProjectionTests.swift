import Foundation
import InspectdTesting
import Testing
@testable import InspectdContinual
@testable import InspectdTensor

/// The acceptance of gradient projection: after optimiser steps on a new task, a protected layer's
/// outputs on the old task's inputs are what they were, to rounding, with AdamW's scaling and its
/// weight decay on.
@Suite struct ProjectionTests {
    /// Old inputs inside a k-dimensional subspace of R^d: `count` rows of d.
    func lowRankRows(count: Int, d: Int, k: Int, random: inout TestRandom) -> [Float] {
        let directions = (0..<k * d).map { _ in random.uniform() }
        var rows = [Float](repeating: 0, count: count * d)
        for n in 0..<count {
            let coefficients = (0..<k).map { _ in random.uniform() * 3 }
            for j in 0..<d { for c in 0..<k { rows[n * d + j] += coefficients[c] * directions[c * d + j] } }
        }
        return rows
    }

    /// The basis of everything `rows` span (energy 1 − 1e-9 keeps every direction with energy).
    func basis(ofRows rows: [Float], d: Int) throws -> LayerBasis {
        let sketch = CovarianceSketch(dimension: d)
        rows.withUnsafeBufferPointer { sketch.add($0.baseAddress!, count: rows.count / d, layout: .rows) }
        return try BasisMerge.merge(.empty(dimension: d), with: sketch, threshold: 1 - 1e-9).basis
    }

    /// max |X·Wᵀ| and max |X·(W1 − W0)ᵀ| for rows X [n, d] and weights [out, d].
    func outputChange(rows: [Float], d: Int, before: [Float], after: [Float]) -> (scale: Float, change: Float) {
        let x = Tensor(shape: [rows.count / d, d], data: rows)
        let out = before.count / d
        let y0 = matmul(x, Tensor(shape: [out, d], data: before), transposeB: true).data
        let y1 = matmul(x, Tensor(shape: [out, d], data: after), transposeB: true).data
        return (y0.map(abs).max()!, zip(y0, y1).map { abs($0 - $1) }.max()!)
    }

    /// Runs `steps` AdamW steps (decay on) fitting `layer` to random targets on new inputs.
    func trainNewTask(weight: Tensor, steps: Int, projector: GradientProjector?, projectUpdate: Bool,
                      loss: () -> Tensor) {
        weight.requiresGrad = true
        let optimiser = AdamW([NamedParameter("w", weight)], learningRate: 0.05, weightDecay: 0.1)
        for _ in 0..<steps {
            optimiser.zeroGrad()
            loss().backward()
            optimiser.step(hooks: projector.map { [$0] } ?? [], projection: projectUpdate ? projector : nil)
        }
        weight.requiresGrad = false
    }

    @Test func projectedStepsKeepALinearLayersOldOutputs() throws {
        var random = TestRandom(seed: 11)
        let (d, out) = (16, 6)
        let old = lowRankRows(count: 40, d: d, k: 5, random: &random)
        let basis = try basis(ofRows: old, d: d)
        #expect(basis.rank == 5)
        let newInputs = random.tensor([32, d]), targets = random.tensor([32, out])
        let start = random.tensor([out, d]).data

        func run(projectUpdate: Bool) -> (scale: Float, change: Float, moved: Float) {
            let w = Tensor(shape: [out, d], data: start)
            trainNewTask(weight: w, steps: 20, projector: GradientProjector(bases: ["w": basis]), projectUpdate: projectUpdate) {
                mseLoss(linear(newInputs, w), targets)
            }
            let change = outputChange(rows: old, d: d, before: start, after: w.data)
            return (change.scale, change.change, zip(start, w.data).map { abs($0 - $1) }.max()!)
        }
        let projected = run(projectUpdate: true)
        // The weights moved by tenths; the old outputs by rounding only.
        #expect(projected.moved > 0.1)
        #expect(projected.change < 2e-5 * projected.scale)
        // Projecting only the gradient lets Adam's scaling and the decay drift the old outputs.
        let gradientOnly = run(projectUpdate: false)
        #expect(gradientOnly.change > 100 * projected.change)
        #expect(gradientOnly.change > 1e-3 * gradientOnly.scale)
    }

    @Test func projectedStepsKeepAConvolutionsOldOutputs() throws {
        var random = TestRandom(seed: 12)
        let (channels, out, side) = (3, 4, 7)
        let padding = Padding2d(1)
        // Old images: a vertical ramp per channel. Their 3x3 patches, zero padding included, span
        // a small part of the 27 dimensions.
        var pixels = [Float](repeating: 0, count: 2 * channels * side * side)
        for image in 0..<2 {
            for c in 0..<channels {
                let (a, b) = (random.uniform(), random.uniform())
                for y in 0..<side { for x in 0..<side { pixels[((image * channels + c) * side + y) * side + x] = a * Float(y) + b } }
            }
        }
        let oldImages = Tensor(shape: [2, channels, side, side], data: pixels)
        let d = channels * 9
        // The old inputs as rows [positions, d], from the im2col columns [d, positions].
        var oldRows: [Float] = []
        let columns = unfoldedPatches(oldImages, kernelH: 3, kernelW: 3, stride: 1, padding: padding)
        let positions = columns.count / d
        for p in 0..<positions { for j in 0..<d { oldRows.append(columns[j * positions + p]) } }
        let basis = try basis(ofRows: oldRows, d: d)
        #expect(basis.rank > 0 && basis.rank < d)

        let newImages = random.tensor([2, channels, side, side]), targets = random.tensor([2, out, side, side])
        let start = random.tensor([out, channels, 3, 3], scale: 0.3).data
        let w = Tensor(shape: [out, channels, 3, 3], data: start)
        trainNewTask(weight: w, steps: 15, projector: GradientProjector(bases: ["w": basis]), projectUpdate: true) {
            mseLoss(conv2d(newImages, w, padding: padding), targets)
        }
        #expect(zip(start, w.data).map { abs($0 - $1) }.max()! > 0.1)
        // The convolution of the old images, as the layer computes it, is unchanged.
        let y0 = conv2d(oldImages, Tensor(shape: w.shape, data: start), padding: padding).data
        let y1 = conv2d(oldImages, w, padding: padding).data
        let scale = y0.map(abs).max()!
        #expect(zip(y0, y1).map { abs($0 - $1) }.max()! < 2e-5 * scale)
    }

    /// ΔW·P = 0 for the projected change itself, on a weight split into many rows, without a d × d matrix.
    @Test func projectedChangeIsOrthogonalToTheBasis() throws {
        var random = TestRandom(seed: 13)
        let (d, out) = (40, 24)
        let basis = try basis(ofRows: lowRankRows(count: 60, d: d, k: 12, random: &random), d: d)
        var change = random.tensor([out, d]).data
        let original = change
        GradientProjector(bases: ["w": basis]).project("w", change: &change)
        let inside = matmul(Tensor(shape: [out, d], data: change), Tensor(shape: [d, basis.rank], data: basis.vectors)).data
        #expect(inside.map(abs).max()! < 1e-5)
        // What was outside the subspace is kept: projecting again changes nothing.
        var again = change
        GradientProjector(bases: ["w": basis]).project("w", change: &again)
        #expect(zip(change, again).map { abs($0 - $1) }.max()! < 1e-5)
        #expect(zip(change, original).map { abs($0 - $1) }.max()! > 0.1)
    }

    @Test func vectorsAreFrozenAndMatricesProjected() {
        #expect(ProtectedParameters.role(of: NamedParameter("b", Tensor(zeros: [8]))) == .frozen)
        #expect(ProtectedParameters.role(of: NamedParameter("w", Tensor(zeros: [8, 5]))) == .projected(dimension: 5))
        #expect(ProtectedParameters.role(of: NamedParameter("c", Tensor(zeros: [8, 3, 3, 3]))) == .projected(dimension: 27))
    }
}

extension GradientProjector {
    /// Projects an array in place (tests).
    func project(_ name: String, change: inout [Float]) {
        change.withUnsafeMutableBufferPointer { project(name, change: $0) }
    }
}
