import CInspectdKernels

/// Forward kernel of depthwise convolution (one k×k filter per channel) for strides 1 and 2.
///
/// The direct loops in `ConvKernels` make one pass over the output per tap and gather with a
/// stride at stride 2; on the backbone's layers they ran at 3-13 GFLOP/s. Here each channel plane
/// is copied once into a zero-padded scratch plane (split into even and odd columns at stride 2,
/// so that every tap reads contiguous memory), and `inspectd_depthwise_plane` (C, cloned per
/// instruction set) accumulates all taps of each run of outputs in registers.
enum DepthwiseKernel {
    static let lanes = Int(INSPECTD_DEPTHWISE_LANES)

    static func supports(_ g: ConvGeometry) -> Bool { g.stride == 1 || g.stride == 2 }

    /// x [N, C, H, W], w [C, 1, kh, kw], bias [C] or none -> y [N, C, outH, outW].
    static func forward(_ g: ConvGeometry, _ xBase: UnsafePointer<Float>, _ wBase: UnsafePointer<Float>,
                        _ bias: [Float]?, _ activation: ConvActivation, _ yBase: UnsafeMutablePointer<Float>) {
        let (c, h, w) = (g.inChannels, g.height, g.width)
        let (kh, kw, stride, pad) = (g.kernelH, g.kernelW, g.stride, g.padding)
        let (oh, ow) = (g.outHeight, g.outWidth)
        let relu6 = activation == .relu6

        // Scratch geometry. Output columns are computed in whole vectors, so rows are padded out to a
        // multiple of the vector width; extra columns read zeros and are dropped on store.
        let owVec = (ow + lanes - 1) / lanes * lanes
        let phaseWidth = owVec + (kw - 1) / stride + 1      // columns each phase row must hold
        let paddedRows = (oh - 1) * stride + kh             // rows the taps touch
        let phases = stride
        let scratchCount = phases * paddedRows * phaseWidth

        // Scratch rows that receive an image row, and per phase the scratch columns that receive image
        // columns (padded column p = ix + left goes to phase p % stride, column p / stride).
        let writtenRows = pad.top..<min(pad.top + h, paddedRows)
        let writtenColumns: [Range<Int>] = (0..<phases).map { phase in
            let first = pad.left + (phase - pad.left % stride + stride) % stride     // first p of this phase
            let last = pad.left + w - 1                                               // last p overall
            guard first <= last else { return 0..<0 }
            return (first / stride)..<min(phaseWidth, (last - (last - phase + stride) % stride) / stride + 1)
        }

        // Where tap (ky, kx) of output row 0 starts in the scratch, relative to the scratch base.
        let tapOffsets: [Int] = (0..<(kh * kw)).map { t in
            let (ky, kx) = (t / kw, t % kw)
            return ((kx % stride) * paddedRows + ky) * phaseWidth + kx / stride
        }
        let taps = kh * kw

        tapOffsets.withUnsafeBufferPointer { offs in
            Engine.parallelFor(g.batch * c, minChunk: 4) { plane in
                let channel = plane % c
                withUnsafeTemporaryAllocation(of: Float.self, capacity: scratchCount) { scratch in
                    let s = scratch.baseAddress!
                    // Zero only what the copy below leaves untouched: the padding rows, and
                    // each copied row's columns left and right of the image.
                    for phase in 0..<phases {
                        let base = s + phase * paddedRows * phaseWidth
                        let (lo, hi) = (writtenColumns[phase].lowerBound, writtenColumns[phase].upperBound)
                        for py in 0..<paddedRows {
                            let line = base + py * phaseWidth
                            if writtenRows.contains(py) {
                                line.update(repeating: 0, count: lo)
                                (line + hi).update(repeating: 0, count: phaseWidth - hi)
                            } else {
                                line.update(repeating: 0, count: phaseWidth)
                            }
                        }
                    }
                    // Padded plane, column p (padded coordinates) stored in phase p % stride at p / stride.
                    let src = xBase + plane * h * w
                    for py in writtenRows {
                        let line = src + (py - pad.top) * w
                        if stride == 1 {
                            (s + py * phaseWidth + pad.left).update(from: line, count: writtenColumns[0].count)
                        } else {
                            // Input columns of the parity of `left` land in the even phase.
                            let even = s + py * phaseWidth, odd = s + (paddedRows + py) * phaseWidth
                            let (fromEven, fromOdd) = pad.left & 1 == 0 ? (even, odd) : (odd, even)
                            var ix = 0
                            while ix + 16 <= w {   // deinterleave 16 at a time
                                let v = UnsafeRawPointer(line + ix).loadUnaligned(as: SIMD16<Float>.self)
                                UnsafeMutableRawPointer(fromEven + ((ix + pad.left) >> 1))
                                    .storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
                                UnsafeMutableRawPointer(fromOdd + ((ix + 1 + pad.left) >> 1))
                                    .storeBytes(of: v.oddHalf, as: SIMD8<Float>.self)
                                ix += 16
                            }
                            while ix < w {
                                let p = ix + pad.left
                                if p & 1 == 0 { even[p >> 1] = line[ix] } else { odd[p >> 1] = line[ix] }
                                ix += 1
                            }
                        }
                    }
                    inspectd_depthwise_plane(s, offs.baseAddress, wBase + channel * taps, taps, bias?[channel] ?? 0,
                                             oh, ow, stride * phaseWidth, relu6, yBase + plane * oh * ow)
                }
            }
        }
    }
}
