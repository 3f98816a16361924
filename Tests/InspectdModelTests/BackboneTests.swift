import Foundation
import InspectdTesting
import Testing
@testable import InspectdModel
import InspectdTensor

/// The network written out the slow, obvious way: direct-loop convolutions with TF-SAME padding,
/// BatchNorm from its four unfolded tensors, ReLU6, identity skips, average pool, FC. Shares no code
/// with the model beyond the config table.
enum UnfoldedReference {
    struct Map {
        var c, h, w: Int
        var v: [Double]
        subscript(c: Int, y: Int, x: Int) -> Double { v[(c * h + y) * w + x] }
    }

    static func samePad(_ size: Int, _ k: Int, _ s: Int) -> (before: Int, out: Int) {
        let out = (size + s - 1) / s
        return (max((out - 1) * s + k - size, 0) / 2, out)
    }

    static func conv(_ x: Map, _ w: Tensor, stride s: Int, groups: Int) -> Map {
        let (cout, cpg, k) = (w.shape[0], w.shape[1], w.shape[2])
        let (top, oh) = samePad(x.h, k, s), (left, ow) = samePad(x.w, k, s)
        let opg = cout / groups
        var y = Map(c: cout, h: oh, w: ow, v: [Double](repeating: 0, count: cout * oh * ow))
        for o in 0..<cout {
            let g = o / opg
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var acc = 0.0
                    for ci in 0..<cpg {
                        for ky in 0..<k {
                            let iy = oy * s + ky - top
                            guard iy >= 0 && iy < x.h else { continue }
                            for kx in 0..<k {
                                let ix = ox * s + kx - left
                                guard ix >= 0 && ix < x.w else { continue }
                                acc += x[g * cpg + ci, iy, ix] * Double(w.data[((o * cpg + ci) * k + ky) * k + kx])
                            }
                        }
                    }
                    y.v[(o * oh + oy) * ow + ox] = acc
                }
            }
        }
        return y
    }

    static func bn(_ x: Map, _ sd: [String: Tensor], _ p: String, relu6: Bool) -> Map {
        var y = x
        let plane = x.h * x.w
        for c in 0..<x.c {
            let g = Double(sd[p + ".weight"]!.data[c]), b = Double(sd[p + ".bias"]!.data[c])
            let m = Double(sd[p + ".running_mean"]!.data[c]), v = Double(sd[p + ".running_var"]!.data[c])
            for i in 0..<plane {
                var z = (x.v[c * plane + i] - m) / (v + 1e-3).squareRoot() * g + b
                if relu6 { z = min(max(z, 0), 6) }
                y.v[c * plane + i] = z
            }
        }
        return y
    }

    /// One image [3, H, W] -> (stride8, stride16, logits).
    static func forward(_ image: Map, _ sd: [String: Tensor]) -> (Map, Map, [Double]) {
        var x = bn(conv(image, sd["_conv_stem.weight"]!, stride: 2, groups: 1), sd, "_bn0", relu6: true)
        var s8: Map?, s16: Map?
        for (n, b) in EfficientNetLite0Config.blocks.enumerated() {
            let p = "_blocks.\(n)."
            let input = x
            if b.expandRatio != 1 {
                x = bn(conv(x, sd[p + "_expand_conv.weight"]!, stride: 1, groups: 1), sd, p + "_bn0", relu6: true)
            }
            x = bn(conv(x, sd[p + "_depthwise_conv.weight"]!, stride: b.stride, groups: x.c), sd, p + "_bn1", relu6: true)
            x = bn(conv(x, sd[p + "_project_conv.weight"]!, stride: 1, groups: 1), sd, p + "_bn2", relu6: false)
            if b.stride == 1 && b.inChannels == b.outChannels {
                for i in 0..<x.v.count { x.v[i] += input.v[i] }
            }
            if n == 4 { s8 = x }
            if n == 10 { s16 = x }
        }
        x = bn(conv(x, sd["_conv_head.weight"]!, stride: 1, groups: 1), sd, "_bn1", relu6: true)
        let plane = x.h * x.w
        let pooled = (0..<x.c).map { c in (0..<plane).reduce(0.0) { $0 + x.v[c * plane + $1] } / Double(plane) }
        let fcW = sd["_fc.weight"]!, fcB = sd["_fc.bias"]!
        let logits = (0..<fcW.shape[0]).map { o in
            (0..<fcW.shape[1]).reduce(Double(fcB.data[o])) { $0 + Double(fcW.data[o * fcW.shape[1] + $1]) * pooled[$1] }
        }
        return (s8!, s16!, logits)
    }
}

/// max |a - b| / max |reference|: one number per tensor, insensitive to where values cross zero.
func relativeMaxError(_ a: [Float], _ reference: [Double]) -> Double {
    precondition(a.count == reference.count, "comparing \(a.count) values with \(reference.count)")
    var diff = 0.0, scale = 0.0
    for i in 0..<a.count {
        diff = max(diff, abs(Double(a[i]) - reference[i]))
        scale = max(scale, abs(reference[i]))
    }
    return diff / max(scale, 1e-12)
}

@Suite struct BackboneTests {
    /// Random weights through the real code path (BN folded at load, TF-SAME via Padding2d, engine
    /// convs) against unfolded BN math, on a batch of two odd-sized images so that every asymmetric
    /// padding case (even and odd sizes, stride 2, 3x3 and 5x5) is exercised.
    @Test func randomWeightsMatchUnfoldedReference() throws {
        let sd = randomLite0StateDict(seed: 11)
        let model = try EfficientNetLite0(stateDict: sd)
        var rng = TestRandom(seed: 3)
        let (h, w) = (37, 30)
        let input = rng.tensor([2, 3, h, w])
        let out = model.forward(input)
        let features = model.features(input)

        #expect(out.stride8.shape == [2, 40, 5, 4])
        #expect(out.stride16.shape == [2, 112, 3, 2])
        #expect(out.logits?.shape == [2, 1000])
        #expect(features.logits == nil)
        #expect(features.stride16.data == out.stride16.data)
        #expect(features.stride8.data == out.stride8.data)

        let plane = 3 * h * w
        for n in 0..<2 {
            let image = UnfoldedReference.Map(c: 3, h: h, w: w,
                                              v: input.data[(n * plane)..<((n + 1) * plane)].map(Double.init))
            let (s8, s16, logits) = UnfoldedReference.forward(image, sd)
            let s8Count = s8.v.count, s16Count = s16.v.count
            let e8 = relativeMaxError(Array(out.stride8.data[(n * s8Count)..<((n + 1) * s8Count)]), s8.v)
            let e16 = relativeMaxError(Array(out.stride16.data[(n * s16Count)..<((n + 1) * s16Count)]), s16.v)
            let eLogits = relativeMaxError(Array(out.logits!.data[(n * 1000)..<((n + 1) * 1000)]), logits)
            #expect(e8 < 1e-4, "image \(n): stride-8 features off by \(e8) of max")
            #expect(e16 < 1e-4, "image \(n): stride-16 features off by \(e16) of max")
            #expect(eLogits < 1e-4, "image \(n): logits off by \(eLogits) of max")
        }
    }
}
