import CInspectdKernels

/// Scaled dot-product attention for scoring with both products in int8: softmax(scale·Q·Kᵀ + mask)·V
/// as `scaledDotProductAttention` computes it in Float32 (same shapes, heads and mask; nothing is
/// recorded for autograd).
///
/// Scales are taken from the slice itself, symmetric, so nothing needs calibrating: Q per query and
/// K per key (each row's largest magnitude becomes 127), V per slice; the probabilities per query
/// row, where the largest is exp(0)/Σ: softmax writes 127·exp(s − max) as levels and puts 1/Σ in the
/// row's scale (`inspectd_i8_softmax_rows`). The scores and the mask stay Float32.
public func int8ScaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int = 1,
                                          mask: AttentionMask? = nil, scale: Float? = nil, path: Int8Path = .active) -> Tensor {
    let g = AttentionGeometry(query: query.shape, key: key.shape, value: value.shape, heads: heads)
    if let mask { precondition(mask.bias.shape == [g.queries, g.keys], "attention mask must be [\(g.queries), \(g.keys)], got \(mask.bias.shape)") }
    let scale = scale ?? 1 / Float(g.depth).squareRoot()
    let offset = path.columnOffset
    let depthQuads = (g.depth + 3) / 4, keyQuads = (g.keys + 3) / 4
    let keyStride = (g.keys + 15) / 16 * 16, valueStride = (g.valueDepth + 15) / 16 * 16
    return Tensor(shape: g.outputShape) { o in
        query.data.withUnsafeBufferPointer { pq in
            key.data.withUnsafeBufferPointer { pk in
                value.data.withUnsafeBufferPointer { pv in
                    Tensor.withOptionalPointer(mask?.bias) { pm in
                        // One set of buffers per thread, reused slice after slice.
                        let scratches = (0..<Engine.threads).map { _ in
                            Int8AttentionScratch(g, depthQuads: depthQuads, keyQuads: keyQuads, keyStride: keyStride, valueStride: valueStride)
                        }
                        defer { for scratch in scratches { scratch.deallocate() } }
                        Engine.parallelItems(g.slices) { worker, s in
                            let scratch = scratches[worker]
                            // Q and K, one scale per row.
                            inspectd_i8_quantize_rows_symmetric(pq.baseAddress! + g.queryStart(s), g.queries, g.depth, g.width,
                                                                scratch.queryRows, depthQuads * 4, scratch.queryScales, scratch.querySums)
                            inspectd_i8_quantize_rows_symmetric(pk.baseAddress! + g.keyStart(s), g.keys, g.depth, g.width,
                                                                scratch.keyRows, depthQuads * 4, scratch.keyScales, nil)
                            inspectd_i8_rows_to_columns(scratch.keyRows, g.keys, depthQuads * 4, depthQuads, offset, keyStride,
                                                        scratch.keyColumns)
                            for i in 0..<g.queries {
                                scratch.rowScales[i] = scratch.queryScales[i] * scale
                                scratch.querySums[i] *= offset
                            }
                            var e = inspectd_i8_epilogue()
                            e.row_correction = UnsafePointer(scratch.querySums)
                            e.row_scale = UnsafePointer(scratch.rowScales)
                            e.column_scale = UnsafePointer(scratch.keyScales)
                            e.out = scratch.scores
                            e.out_stride = g.keys
                            inspectd_i8_gemm(path.kernel, scratch.queryRows, depthQuads * 4, 0, g.queries, scratch.keyColumns,
                                             keyStride, 0, g.keys, depthQuads, &e)
                            if let mask {
                                for i in 0..<g.queries { mask.apply(to: scratch.scores + i * g.keys, i, pm!) }
                            }
                            // P per row, from the softmax itself; V per slice.
                            inspectd_i8_softmax_rows(scratch.scores, g.queries, g.keys, g.keys, scratch.probabilityRows, keyQuads * 4,
                                                     scratch.rowScales, scratch.querySums)
                            let values = pv.baseAddress! + g.valueStart(s)
                            let largest = inspectd_largest_magnitude(values, g.keys, g.valueDepth, g.valueWidth)
                            let valueScale = largest > 0 ? largest / 127 : 1
                            inspectd_i8_quantize_planes(values, g.keys, g.valueDepth, g.valueWidth, 1 / valueScale, 0, offset,
                                                        valueStride, 0, keyQuads, scratch.valueColumns)
                            for i in 0..<g.queries {
                                scratch.rowScales[i] *= valueScale
                                scratch.querySums[i] *= offset
                            }
                            e = inspectd_i8_epilogue()
                            e.row_correction = UnsafePointer(scratch.querySums)
                            e.row_scale = UnsafePointer(scratch.rowScales)
                            e.out = o.baseAddress! + g.outputStart(s)
                            e.out_stride = g.valueWidth
                            inspectd_i8_gemm(path.kernel, scratch.probabilityRows, keyQuads * 4, 0, g.queries, scratch.valueColumns,
                                             valueStride, 0, g.valueDepth, keyQuads, &e)
                        }
                    }
                }
            }
        }
    }
}

/// One slice's buffers.
private struct Int8AttentionScratch {
    let queryRows, keyRows, probabilityRows: UnsafeMutablePointer<Int8>
    let keyColumns, valueColumns: UnsafeMutablePointer<UInt8>
    let queryScales, keyScales, rowScales, scores: UnsafeMutablePointer<Float>
    let querySums: UnsafeMutablePointer<Int32>

    init(_ g: AttentionGeometry, depthQuads: Int, keyQuads: Int, keyStride: Int, valueStride: Int) {
        queryRows = .allocate(capacity: g.queries * depthQuads * 4)
        keyRows = .allocate(capacity: g.keys * depthQuads * 4)
        probabilityRows = .allocate(capacity: g.queries * keyQuads * 4)
        keyColumns = .allocate(capacity: depthQuads * keyStride * 4)
        valueColumns = .allocate(capacity: keyQuads * valueStride * 4)
        queryScales = .allocate(capacity: g.queries)
        keyScales = .allocate(capacity: g.keys)
        rowScales = .allocate(capacity: g.queries)
        scores = .allocate(capacity: g.queries * g.keys)
        querySums = .allocate(capacity: g.queries)
    }

    func deallocate() {
        for p in [queryRows, keyRows, probabilityRows] { p.deallocate() }
        for p in [keyColumns, valueColumns] { p.deallocate() }
        for p in [queryScales, keyScales, rowScales, scores] { p.deallocate() }
        querySums.deallocate()
    }
}
