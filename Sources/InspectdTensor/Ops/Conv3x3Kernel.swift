import CInspectdKernels

/// 3x3 convolutions with stride 1 and one pixel of zero padding (the U-Net's) without im2col: the
/// forward and the data gradient on the direct AVX-512 or AVX2 kernel of `CInspectdKernels` (conv3x3.c) —
/// the data gradient of such a convolution is another one, with the weights transposed and turned
/// 180° — and the weight gradient as nine GEMMs on the padded image. CPUs with neither keep the
/// im2col path.
enum Conv3x3Kernel {
    /// Floats per vector of the widest kernel this CPU runs (16 or 8), 0 where none can run.
    static let lanes = Int(inspectd_conv3x3_lanes())
    static var isAvailable: Bool { lanes > 0 }
    /// Every vector width this CPU runs, widest first (an AVX-512 CPU runs the AVX2 kernel too).
    static var runnableLanes: [Int] { [16, 8].filter { $0 <= lanes } }
    /// Output channels per kernel block.
    static let block = Int(INSPECTD_CONV3X3_BLOCK)

    /// Rows go in vectors of `lanes` positions, so narrow images would leave most lanes empty (an
    /// 8x8 map, with 16 lanes, half of them, at half the GEMM path's speed): at least three quarters
    /// must be used.
    static func supports(_ g: ConvGeometry, lanes: Int = Conv3x3Kernel.lanes) -> Bool {
        guard lanes > 0 else { return false }
        let vectors = (g.width + lanes - 1) / lanes
        return g.kernelH == 3 && g.kernelW == 3 && g.stride == 1 && g.groups == 1
            && g.padding == Padding2d(1) && 4 * g.width >= 3 * lanes * vectors
    }

    /// x [N, Cin, H, W], w [Cout, Cin, 3, 3], bias [Cout] or none -> y [N, Cout, H, W].
    static func forward(_ g: ConvGeometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                        _ bias: [Float]?, _ y: UnsafeMutablePointer<Float>, lanes: Int = Conv3x3Kernel.lanes) {
        run(batch: g.batch, inChannels: g.inChannels, outChannels: g.outChannels, height: g.height, width: g.width,
            input: x, weight: w, transposeFlip: false, bias: bias, lanes: lanes, output: y)
    }

    /// dX [N, Cin, H, W] from dY [N, Cout, H, W] and the forward's w [Cout, Cin, 3, 3].
    static func backwardData(_ g: ConvGeometry, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                             _ dx: UnsafeMutablePointer<Float>, lanes: Int = Conv3x3Kernel.lanes) {
        run(batch: g.batch, inChannels: g.outChannels, outChannels: g.inChannels, height: g.height, width: g.width,
            input: dy, weight: w, transposeFlip: true, bias: nil, lanes: lanes, output: dx)
    }

    /// dW [Cout, Cin, 3, 3] = the weight gradient over the batch, from x [N, Cin, H, W] and
    /// dY [N, Cout, H, W], with no im2col: on the padded image, tap (ky, kx) of output position
    /// p = oy·(W+2) + ox reads input position p + ky·(W+2) + kx, so with dY laid out in rows of
    /// W+2 (the two extra columns zero) each tap's gradient is one GEMM, dW_tap += dY · (x + offset)ᵀ,
    /// over H·(W+2) positions. The zero columns cancel what the shifted rows read past the image.
    static func backwardWeight(_ g: ConvGeometry, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                               _ dw: UnsafeMutablePointer<Float>) {
        let (cin, cout, h, w) = (g.inChannels, g.outChannels, g.height, g.width)
        let pw = w + 2, paddedPlane = (h + 2) * pw, positions = h * pw
        let tapSize = cout * cin
        // Per worker, the nine taps' sums [tap][Cout][Cin], added up and reordered at the end.
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: Engine.threads * 9 * tapSize)
        partials.initialize(repeating: 0, count: Engine.threads * 9 * tapSize)
        defer { partials.deallocate() }
        Engine.parallelRanges(g.batch) { worker, images in
            // Two floats of slack: the last channel's last shifted row reads one past its plane.
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: cin * paddedPlane + 2)
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: cout * positions)
            defer { padded.deallocate(); rows.deallocate() }
            (padded + cin * paddedPlane).initialize(repeating: 0, count: 2)
            let sums = partials + worker * 9 * tapSize
            for n in images {
                inspectd_conv3x3_pad(x + n * cin * h * w, cin, h, w, padded)
                for o in 0..<cout {
                    for oy in 0..<h {
                        let dst = rows + o * positions + oy * pw
                        dst.update(from: dy + (n * cout + o) * h * w + oy * w, count: w)
                        dst[w] = 0
                        dst[w + 1] = 0
                    }
                }
                for tap in 0..<9 {
                    sgemm(transposeB: true, m: cout, n: cin, k: positions, a: rows, lda: positions,
                          b: padded + (tap / 3) * pw + tap % 3, ldb: paddedPlane,
                          beta: 1, c: sums + tap * tapSize, ldc: cin)
                }
            }
        }
        let workers = Engine.threads
        Engine.parallelRanges(cout) { _, outputs in
            for o in outputs {
                for c in 0..<cin {
                    let dst = dw + (o * cin + c) * 9
                    for tap in 0..<9 {
                        var sum: Float = 0
                        for worker in 0..<workers { sum += partials[(worker * 9 + tap) * tapSize + o * cin + c] }
                        dst[tap] = sum
                    }
                }
            }
        }
    }

    private static func run(batch: Int, inChannels: Int, outChannels: Int, height: Int, width: Int,
                            input: UnsafePointer<Float>, weight: UnsafePointer<Float>, transposeFlip: Bool,
                            bias: [Float]?, lanes: Int, output: UnsafeMutablePointer<Float>) {
        precondition(runnableLanes.contains(lanes), "no direct 3x3 kernel of \(lanes) lanes on this CPU")
        let blocks = (outChannels + block - 1) / block
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: blocks * block * inChannels * 9)
        defer { packed.deallocate() }
        let pack = { (range: Range<Int>) in
            inspectd_conv3x3_pack(weight, outChannels, inChannels, transposeFlip, range.lowerBound, range.upperBound, packed)
        }
        if blocks * block * inChannels * 9 < parallelGrain { pack(0..<blocks) } else { Engine.parallelRanges(blocks) { pack($1) } }

        let paddedPlane = (height + 2) * (width + 2), plane = height * width
        // Each worker pads the images it works on itself, into its own buffer, so that the copy is
        // still in its core's cache (padding the whole batch up front, on whichever threads came
        // along, made the U-Net's forward at batch 8 take 200 ms instead of 161, best of 25).
        let workers = Engine.threads
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: workers * inChannels * paddedPlane)
        defer { padded.deallocate() }
        let convolve = { (worker: Int, n: Int, blocks: Range<Int>) in
            let buffer = padded + worker * inChannels * paddedPlane
            inspectd_conv3x3_pad(input + n * inChannels * plane, inChannels, height, width, buffer)
            let call = { (b: UnsafePointer<Float>?) in
                inspectd_conv3x3(buffer, inChannels, height, width, packed, outChannels, b,
                                 blocks.lowerBound, blocks.upperBound, lanes, output + n * outChannels * plane)
            }
            if let bias { bias.withUnsafeBufferPointer { call($0.baseAddress) } } else { call(nil) }
        }
        if batch >= 2 * workers {
            // Whole images, handed out as the threads free up.
            Engine.parallelItems(batch) { worker, n in convolve(worker, n, 0..<blocks) }
            return
        }
        // Few images (a single frame): (image, block) pairs in contiguous runs per worker.
        Engine.parallelRanges(batch * blocks) { worker, pairs in
            var pair = pairs.lowerBound
            while pair < pairs.upperBound {
                let n = pair / blocks, first = pair % blocks
                let end = min(blocks, first + (pairs.upperBound - pair))
                convolve(worker, n, first..<end)
                pair += end - first
            }
        }
    }
}
