import ArgumentParser
import Foundation
import InspectdTensor

struct BenchInt8: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-int8",
        abstract: "Times the int8 convolutions and linear layers against the float ones at the detector's shapes, on every int8 kernel path this CPU runs.",
        discussion: "Float and int8 runs alternate, so both see the same machine; medians are reported. The int8 figures include quantising the input and gathering its patches."
    )

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: "Threads for OpenBLAS and the engine.")
    var threads: Int = 2

    @Option(help: "Timed repetitions per measurement (the median is reported).")
    var repeats: Int = 9

    @Option(name: .customLong("path"), help: "Int8 kernel paths to time, comma-separated (default: every path this CPU runs).")
    var paths: String?

    @Option(help: "Time only the layers whose names contain one of these, comma-separated (e.g. linear,conv1x1).")
    var layers: String?

    func run() throws {
        Engine.setThreads(threads)
        let wanted = layers?.split(separator: ",").map(String.init)
        let chosen = try paths.map { try $0.split(separator: ",").map { try Int8Path.named(String($0)) } }
            ?? Int8Path.allCases.filter(\.runsHere).reversed()
        var rows: [[String: Any]] = []
        for shape in Int8Shape.detector where wanted?.contains(where: shape.name.contains) ?? true {
            for path in chosen {
                let (fp32, int8) = shape.time(path: path, repeats: repeats)
                rows.append([
                    "name": shape.name, "path": path.name, "fp32_ms": rounded(fp32 * 1e3, digits: 3),
                    "int8_ms": rounded(int8 * 1e3, digits: 3), "fp32_gops": rounded(shape.operations / fp32 / 1e9),
                    "int8_gops": rounded(shape.operations / int8 / 1e9), "speedup": rounded(fp32 / int8, digits: 2),
                ])
            }
        }
        let report: [String: Any] = ["threads": threads, "repeats": repeats, "fp32_vector_kernels": Engine.vectorKernels,
                                     "blas_core": BLASCore.current, "layers": rows]
        if json {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("threads \(threads), median of \(repeats); float kernels \(Engine.vectorKernels), OpenBLAS \(BLASCore.current)")
        for row in rows {
            print("\(row["name"]!) [\(row["path"]!)]: fp32 \(row["fp32_ms"]!) ms (\(row["fp32_gops"]!) GFLOP/s), "
                  + "int8 \(row["int8_ms"]!) ms (\(row["int8_gops"]!) GOP/s), \(row["speedup"]!)x")
        }
    }
}

/// One layer of the detector at its scoring shape, in float and int8.
struct Int8Shape {
    let name: String
    let operations: Double
    let float: () -> Tensor
    let quantised: (Int8Path) -> () -> Tensor

    static func convolution(batch: Int, channels: Int, outChannels: Int, size: Int, kernel: Int, stride: Int = 1) -> Int8Shape {
        var rng = SeededGenerator(seed: 3)
        let x = Tensor(shape: [batch, channels, size, size]) { out in for i in 0..<out.count { out[i] = rng.nextNormal() } }
        let w = Tensor(shape: [outChannels, channels, kernel, kernel]) { out in for i in 0..<out.count { out[i] = 0.05 * rng.nextNormal() } }
        let b = Tensor(zeros: [outChannels])
        let padding = Padding2d.same(kernel: kernel, stride: stride, height: size, width: size)
        let out = (size + stride - 1) / stride
        let scale = Int8Scale(minimum: -4, maximum: 4)
        return Int8Shape(
            name: "conv\(kernel)x\(kernel)\(stride > 1 ? "s\(stride)" : "")_\(channels)to\(outChannels)_\(size)x\(size)_b\(batch)",
            operations: 2 * Double(batch * outChannels * channels * kernel * kernel * out * out),
            float: { conv2d(x, w, bias: b, stride: stride, padding: padding) },
            quantised: { path in
                let layer = Int8Convolution(weight: w, bias: b, stride: stride, padding: padding, input: scale, path: path)
                return { layer(x) }
            })
    }

    static func linear(tokens: Int, inputs: Int, outputs: Int) -> Int8Shape {
        var rng = SeededGenerator(seed: 4)
        let x = Tensor(shape: [tokens, inputs]) { out in for i in 0..<out.count { out[i] = rng.nextNormal() } }
        let w = Tensor(shape: [outputs, inputs]) { out in for i in 0..<out.count { out[i] = 0.05 * rng.nextNormal() } }
        let b = Tensor(zeros: [outputs])
        let scale = Int8Scale(minimum: -4, maximum: 4)
        return Int8Shape(
            name: "linear_\(inputs)to\(outputs)_t\(tokens)", operations: 2 * Double(tokens * inputs * outputs),
            float: { InspectdTensor.linear(x, w, bias: b) },
            quantised: { path in
                let layer = Int8Linear(weight: w, bias: b, input: scale, path: path)
                return { layer(x) }
            })
    }

    /// The U-Net's heaviest convolutions and the AMN's linear layers at batch 8 (32x32 latents), and
    /// two at batch 1.
    static var detector: [Int8Shape] { [
        convolution(batch: 8, channels: 96, outChannels: 96, size: 32, kernel: 3),
        convolution(batch: 8, channels: 192, outChannels: 192, size: 16, kernel: 3),
        convolution(batch: 8, channels: 384, outChannels: 192, size: 8, kernel: 3),
        convolution(batch: 8, channels: 96, outChannels: 96, size: 32, kernel: 3, stride: 2),
        convolution(batch: 8, channels: 192, outChannels: 96, size: 32, kernel: 1),
        convolution(batch: 1, channels: 96, outChannels: 96, size: 32, kernel: 3),
        convolution(batch: 1, channels: 192, outChannels: 192, size: 16, kernel: 3),
        linear(tokens: 8192, inputs: 128, outputs: 128),
        linear(tokens: 8192, inputs: 128, outputs: 256),
        linear(tokens: 8192, inputs: 256, outputs: 128),
        linear(tokens: 8192, inputs: 152, outputs: 128),
        linear(tokens: 1024, inputs: 128, outputs: 128),
    ] }

    /// Median seconds of the float layer and of the int8 one on `path`, alternating run by run.
    func time(path: Int8Path, repeats: Int) -> (fp32: Double, int8: Double) {
        let int8 = quantised(path)
        _ = float(); _ = int8()
        var a: [Double] = [], b: [Double] = []
        for _ in 0..<max(1, repeats) {
            var start = DispatchTime.now().uptimeNanoseconds
            _ = float()
            a.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            start = DispatchTime.now().uptimeNanoseconds
            _ = int8()
            b.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return (a.sorted()[a.count / 2], b.sorted()[b.count / 2])
    }
}
