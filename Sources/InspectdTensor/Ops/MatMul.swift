import CInspectdKernels

/// Matrix products: batched matmul and the linear layer, each with its backward beside it.

/// `op(a) · op(b)` over the last two axes, with op = transpose where asked.
/// Leading (batch) axes of `a` and `b` must agree, or one operand is a plain matrix shared by
/// every batch entry (as a weight is).
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul needs matrices, got \(a.shape) and \(b.shape)")
    let aRows = a.shape[a.rank - 2], aCols = a.shape[a.rank - 1]
    let bRows = b.shape[b.rank - 2], bCols = b.shape[b.rank - 1]
    let (m, k) = transposeA ? (aCols, aRows) : (aRows, aCols)
    let (kb, n) = transposeB ? (bCols, bRows) : (bRows, bCols)
    precondition(k == kb, "matmul inner sizes differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
    let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
    precondition(aBatch == bBatch || aBatch.isEmpty || bBatch.isEmpty,
                 "matmul batch axes differ: \(a.shape) and \(b.shape)")
    let batchShape = aBatch.isEmpty ? bBatch : aBatch
    let batch = batchShape.reduce(1, *)
    let aStep = aBatch.isEmpty ? 0 : aRows * aCols
    let bStep = bBatch.isEmpty ? 0 : bRows * bCols

    let out = Tensor(shape: batchShape + [m, n]) { c in
        a.data.withUnsafeBufferPointer { pa in
            b.data.withUnsafeBufferPointer { pb in
                for i in 0..<batch {
                    sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                          a: pa.baseAddress! + i * aStep, lda: aCols,
                          b: pb.baseAddress! + i * bStep, ldb: bCols,
                          c: c.baseAddress! + i * m * n, ldc: n)
                }
            }
        }
    }
    return Autograd.record(out, inputs: [a, b]) { gradOut in
        let dA = a.tracksGradient ? Tensor(zeros: a.shape) : nil
        let dB = b.tracksGradient ? Tensor(zeros: b.shape) : nil
        gradOut.data.withUnsafeBufferPointer { pg in
            a.data.withUnsafeBufferPointer { pa in
                b.data.withUnsafeBufferPointer { pb in
                    for i in 0..<batch {
                        let g = pg.baseAddress! + i * m * n
                        let ai = pa.baseAddress! + i * aStep, bi = pb.baseAddress! + i * bStep
                        // A shared operand sums its gradient over the batch: beta = 1 after the first.
                        if let dA {
                            let beta: Float = (aStep == 0 && i > 0) ? 1 : 0
                            dA.data.withUnsafeMutableBufferPointer { d in
                                let da = d.baseAddress! + i * aStep
                                if transposeA {   // dA (k×m) = op(B) · dCᵀ
                                    sgemm(transposeA: transposeB, transposeB: true, m: k, n: m, k: n,
                                          a: bi, lda: bCols, b: g, ldb: n, beta: beta, c: da, ldc: aCols)
                                } else {          // dA (m×k) = dC · op(B)ᵀ
                                    sgemm(transposeA: false, transposeB: !transposeB, m: m, n: k, k: n,
                                          a: g, lda: n, b: bi, ldb: bCols, beta: beta, c: da, ldc: aCols)
                                }
                            }
                        }
                        if let dB {
                            let beta: Float = (bStep == 0 && i > 0) ? 1 : 0
                            dB.data.withUnsafeMutableBufferPointer { d in
                                let db = d.baseAddress! + i * bStep
                                if transposeB {   // dB (n×k) = dCᵀ · op(A)
                                    sgemm(transposeA: true, transposeB: transposeA, m: n, n: k, k: m,
                                          a: g, lda: n, b: ai, ldb: aCols, beta: beta, c: db, ldc: bCols)
                                } else {          // dB (k×n) = op(A)ᵀ · dC
                                    sgemm(transposeA: !transposeA, transposeB: false, m: k, n: n, k: m,
                                          a: ai, lda: aCols, b: g, ldb: n, beta: beta, c: db, ldc: bCols)
                                }
                            }
                        }
                    }
                }
            }
        }
        return [dA, dB]
    }
}

/// `x · weightᵀ + bias` over the last axis of `x`, with `weight` shaped [out, in] as PyTorch's Linear.
public func linear(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil) -> Tensor {
    precondition(weight.rank == 2, "linear weight must be [out, in], got \(weight.shape)")
    let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
    precondition(x.rank >= 1 && x.shape[x.rank - 1] == inFeatures,
                 "linear input \(x.shape) does not end in \(inFeatures) features")
    if let bias { precondition(bias.shape == [outFeatures], "linear bias must be [\(outFeatures)], got \(bias.shape)") }
    let rows = x.count / max(1, inFeatures)
    let outShape = Array(x.shape.dropLast()) + [outFeatures]

    let out = Tensor(shape: outShape) { y in
        let py = y.baseAddress!
        if let bias {
            bias.data.withUnsafeBufferPointer { pb in
                let copy = { (range: Range<Int>) in
                    for r in range { (py + r * outFeatures).update(from: pb.baseAddress!, count: outFeatures) }
                }
                if rows * outFeatures < parallelGrain { copy(0..<rows) } else { Engine.parallelRanges(rows) { copy($1) } }
            }
        }
        x.data.withUnsafeBufferPointer { px in
            weight.data.withUnsafeBufferPointer { pw in
                sgemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                      a: px.baseAddress!, lda: inFeatures, b: pw.baseAddress!, ldb: inFeatures,
                      beta: bias == nil ? 0 : 1, c: py, ldc: outFeatures)
            }
        }
    }
    var inputs = [x, weight]
    if let bias { inputs.append(bias) }
    return Autograd.record(out, inputs: inputs) { gradOut in
        var dX: Tensor?, dW: Tensor?, dB: Tensor?
        gradOut.data.withUnsafeBufferPointer { pg in
            let g = pg.baseAddress!
            if x.tracksGradient {
                dX = Tensor(shape: x.shape) { d in
                    weight.data.withUnsafeBufferPointer { pw in
                        sgemm(m: rows, n: inFeatures, k: outFeatures, a: g, lda: outFeatures,
                              b: pw.baseAddress!, ldb: inFeatures, c: d.baseAddress!, ldc: inFeatures)
                    }
                }
            }
            if weight.tracksGradient {
                dW = Tensor(shape: weight.shape) { d in
                    x.data.withUnsafeBufferPointer { px in
                        sgemm(transposeA: true, m: outFeatures, n: inFeatures, k: rows, a: g, lda: outFeatures,
                              b: px.baseAddress!, ldb: inFeatures, c: d.baseAddress!, ldc: inFeatures)
                    }
                }
            }
            if let bias, bias.tracksGradient {
                dB = Tensor(shape: [outFeatures]) { columnSums(g, rows: rows, columns: outFeatures, into: $0.baseAddress!) }
            }
        }
        return bias == nil ? [dX, dW] : [dX, dW, dB]
    }
}

/// out[j] = the sum over rows of x[r·columns + j]: each worker sums a band of rows, and the bands'
/// sums are added in band order.
func columnSums(_ x: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
    out.initialize(repeating: 0, count: columns)
    let workers = rows * columns < parallelGrain ? 1 : min(Engine.threads, rows)
    guard workers > 1 else {
        inspectd_add_column_sums(x, rows, columns, out)
        return
    }
    let partials = UnsafeMutablePointer<Float>.allocate(capacity: workers * columns)
    defer { partials.deallocate() }
    partials.initialize(repeating: 0, count: workers * columns)
    Engine.parallelRanges(rows) { worker, band in
        inspectd_add_column_sums(x + band.lowerBound * columns, band.count, columns, partials + worker * columns)
    }
    inspectd_add_column_sums(partials, workers, columns, out)
}
