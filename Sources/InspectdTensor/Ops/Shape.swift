/// Ops that move elements without arithmetic: reshape, broadcast, permute, concat, slice, stack.
/// Each materialises its result (tensors are always contiguous); reshape alone shares storage.

/// `axis` counted from the end when negative, checked against `rank`.
func normalizedAxis(_ axis: Int, rank: Int) -> Int {
    precondition(axis >= -rank && axis < rank, "axis \(axis) out of range for rank \(rank)")
    return axis < 0 ? axis + rank : axis
}

// MARK: - Reshape

/// The same elements in row-major order under a new shape; one entry may be -1 and is inferred.
public func reshaped(_ x: Tensor, _ shape: [Int]) -> Tensor {
    let unknown = shape.indices.filter { shape[$0] == -1 }
    precondition(unknown.count <= 1 && shape.allSatisfy { $0 >= -1 }, "bad target shape \(shape) for reshape")
    var resolved = shape
    if let axis = unknown.first {
        let known = shape.enumerated().filter { $0.offset != axis }.reduce(1) { $0 * $1.element }
        precondition(known > 0 && x.count % known == 0, "cannot reshape \(x.shape) to \(shape)")
        resolved[axis] = x.count / known
    }
    precondition(resolved.reduce(1, *) == x.count, "cannot reshape \(x.shape) (\(x.count) elements) to \(shape)")
    // Arrays are copy-on-write, so sharing storage is safe even if either tensor is later written.
    let out = Tensor(shape: resolved, data: x.data)
    return Autograd.record(out, inputs: [x]) { g in [Tensor(shape: x.shape, data: g.data)] }
}

// MARK: - Broadcast

/// Copies `x` out to `shape`, which must be a broadcast of x's shape.
func expandKernel(_ x: Tensor, to shape: [Int]) -> Tensor {
    precondition(broadcastShape(x.shape, shape) == shape, "cannot broadcast \(x.shape) to \(shape)")
    if x.shape == shape { return x.detached() }
    let loop = StridedLoop(shape: shape, strides: [broadcastStrides(x.shape, to: shape)])
    let walks = loop.innerStride(0) == 1
    return Tensor(shape: shape) { out in
        x.data.withUnsafeBufferPointer { px in
            loop.forEachRun { rows, columns in
                var cursor = loop.cursor(at: rows.lowerBound)
                for row in rows {
                    let dst = out.baseAddress! + row * loop.inner + columns.lowerBound
                    let src = px.baseAddress! + cursor.offset0
                    if walks {
                        dst.update(from: src + columns.lowerBound, count: columns.count)
                    } else {
                        dst.update(repeating: src.pointee, count: columns.count)
                    }
                    cursor.advance()
                }
            }
        }
    }
}

/// `x` stretched to `shape` by NumPy's rules; the gradient sums back over the stretched axes.
public func broadcast(_ x: Tensor, to shape: [Int]) -> Tensor {
    let out = expandKernel(x, to: shape)
    return Autograd.record(out, inputs: [x]) { g in [reduceToShape(g, to: x.shape)] }
}

// MARK: - Permute

/// out[b][c][r] = x[b][r][c] for `batch` matrices of rows × cols, in tiles so that both the
/// reads and the strided writes stay in cache.
private func transposeKernel(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                             batch: Int, rows: Int, cols: Int) {
    let tile = 32
    let rowTiles = (rows + tile - 1) / tile
    Engine.parallelFor(batch * rowTiles, minChunk: max(1, parallelGrain / (tile * max(1, cols)))) { task in
        let b = task / rowTiles, r0 = (task % rowTiles) * tile, r1 = min(rows, r0 + tile)
        let src = x + b * rows * cols, dst = out + b * rows * cols
        var c0 = 0
        while c0 < cols {
            let c1 = min(cols, c0 + tile)
            for r in r0..<r1 {
                for c in c0..<c1 { dst[c * rows + r] = src[r * cols + c] }
            }
            c0 = c1
        }
    }
}

/// `x` with its axes reordered: output axis i is input axis `perm[i]`.
func permuteKernel(_ x: Tensor, _ perm: [Int]) -> Tensor {
    let outShape = perm.map { x.shape[$0] }
    // Drop size-1 axes and fuse input axes that stay neighbours, in order, in the output. What is
    // left is the move that really happens: NCHW→NHWC is [N, C, H·W] → [N, H·W, C], a batched transpose.
    let moving = (0..<x.rank).filter { x.shape[$0] != 1 }
    var groups: [[Int]] = []   // runs of consecutive moving-axis positions, in output order
    for axis in perm where x.shape[axis] != 1 {
        let position = moving.firstIndex(of: axis)!
        if let last = groups.last?.last, last == position - 1 {
            groups[groups.count - 1].append(position)
        } else {
            groups.append([position])
        }
    }
    let inputOrder = groups.indices.sorted { groups[$0][0] < groups[$1][0] }
    let inSizes = inputOrder.map { groups[$0].reduce(1) { $0 * x.shape[moving[$1]] } }
    let order = groups.indices.map { g in inputOrder.firstIndex(of: g)! }   // reduced permutation

    if order == Array(order.indices) { return Tensor(shape: outShape, data: x.data) }
    return Tensor(shape: outShape) { out in
        x.data.withUnsafeBufferPointer { px in
            let src = px.baseAddress!
            if order == [1, 0] {
                transposeKernel(src, out.baseAddress!, batch: 1, rows: inSizes[0], cols: inSizes[1])
            } else if order == [0, 2, 1] {
                transposeKernel(src, out.baseAddress!, batch: inSizes[0], rows: inSizes[1], cols: inSizes[2])
            } else {
                let inStrides = Tensor.strides(of: inSizes)
                let loop = StridedLoop(shape: order.map { inSizes[$0] }, strides: [order.map { inStrides[$0] }])
                let step = loop.innerStride(0)
                loop.forEachRun { rows, columns in
                    var cursor = loop.cursor(at: rows.lowerBound)
                    for row in rows {
                        let dst = out.baseAddress! + row * loop.inner
                        let from = src + cursor.offset0
                        for i in columns { dst[i] = from[i * step] }
                        cursor.advance()
                    }
                }
            }
        }
    }
}

/// `x` with its axes reordered (negative axes allowed): output axis i is input axis `axes[i]`.
/// The result is materialised; the gradient applies the inverse permutation.
public func permuted(_ x: Tensor, _ axes: [Int]) -> Tensor {
    let perm = axes.map { normalizedAxis($0, rank: x.rank) }
    precondition(perm.sorted() == Array(0..<x.rank), "\(axes) is not a permutation of the axes of \(x.shape)")
    var inverse = perm
    for (i, axis) in perm.enumerated() { inverse[axis] = i }
    let out = permuteKernel(x, perm)
    return Autograd.record(out, inputs: [x]) { g in [permuteKernel(g, inverse)] }
}

/// `x` with axes `a` and `b` swapped.
public func transposed(_ x: Tensor, _ a: Int, _ b: Int) -> Tensor {
    var perm = Array(0..<x.rank)
    perm.swapAt(normalizedAxis(a, rank: x.rank), normalizedAxis(b, rank: x.rank))
    return permuted(x, perm)
}

// MARK: - Concat, slice, stack

/// Copies `rows` runs of `width` elements between two row strides.
private func copyRows(_ src: UnsafePointer<Float>, stride srcStride: Int,
                      _ dst: UnsafeMutablePointer<Float>, stride dstStride: Int, rows: Int, width: Int) {
    guard width > 0 else { return }
    Engine.parallelFor(rows, minChunk: max(1, parallelGrain / width)) { r in
        (dst + r * dstStride).update(from: src + r * srcStride, count: width)
    }
}

/// Elements before and after `axis`: x is [outer, shape[axis], inner].
private func split(_ shape: [Int], at axis: Int) -> (outer: Int, inner: Int) {
    (shape[..<axis].reduce(1, *), shape[(axis + 1)...].reduce(1, *))
}

func sliceKernel(_ x: Tensor, axis: Int, range: Range<Int>) -> Tensor {
    let (outer, inner) = split(x.shape, at: axis)
    var shape = x.shape
    shape[axis] = range.count
    return Tensor(shape: shape) { out in
        x.data.withUnsafeBufferPointer { px in
            copyRows(px.baseAddress! + range.lowerBound * inner, stride: x.shape[axis] * inner,
                     out.baseAddress!, stride: range.count * inner, rows: outer, width: range.count * inner)
        }
    }
}

/// The elements of `x` whose index along `axis` lies in `range`; the gradient scatters into zeros.
public func slice(_ x: Tensor, axis: Int, range: Range<Int>) -> Tensor {
    let axis = normalizedAxis(axis, rank: x.rank)
    precondition(range.lowerBound >= 0 && range.upperBound <= x.shape[axis],
                 "slice \(range) out of bounds for axis \(axis) of \(x.shape)")
    let out = sliceKernel(x, axis: axis, range: range)
    return Autograd.record(out, inputs: [x]) { g in
        let (outer, inner) = split(x.shape, at: axis)
        let dx = Tensor(zeros: x.shape)
        dx.data.withUnsafeMutableBufferPointer { d in
            g.data.withUnsafeBufferPointer { pg in
                copyRows(pg.baseAddress!, stride: range.count * inner,
                         d.baseAddress! + range.lowerBound * inner, stride: x.shape[axis] * inner,
                         rows: outer, width: range.count * inner)
            }
        }
        return [dx]
    }
}

/// The tensors joined along `axis`; all other axes must agree.
public func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concat of no tensors")
    let first = tensors[0]
    let axis = normalizedAxis(axis, rank: first.rank)
    for t in tensors {
        precondition(t.rank == first.rank && t.shape.indices.allSatisfy { $0 == axis || t.shape[$0] == first.shape[$0] },
                     "concat along axis \(axis): \(t.shape) does not match \(first.shape)")
    }
    let (outer, inner) = split(first.shape, at: axis)
    let lengths = tensors.map { $0.shape[axis] }
    let total = lengths.reduce(0, +)
    var shape = first.shape
    shape[axis] = total
    let out = Tensor(shape: shape) { out in
        var start = 0
        for (t, length) in zip(tensors, lengths) {
            t.data.withUnsafeBufferPointer { src in
                copyRows(src.baseAddress!, stride: length * inner,
                         out.baseAddress! + start * inner, stride: total * inner, rows: outer, width: length * inner)
            }
            start += length
        }
    }
    return Autograd.record(out, inputs: tensors) { g in
        var start = 0
        return zip(tensors, lengths).map { t, length in
            defer { start += length }
            return t.tracksGradient ? sliceKernel(g, axis: axis, range: start..<(start + length)) : nil
        }
    }
}

/// The tensors, all of one shape, joined along a new axis at `axis` (negative counts from the end
/// of the result's axes).
public func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
    precondition(!tensors.isEmpty, "stack of no tensors")
    let shape = tensors[0].shape
    let axis = normalizedAxis(axis, rank: shape.count + 1)
    for t in tensors { precondition(t.shape == shape, "stack: \(t.shape) differs from \(shape)") }
    var expanded = shape
    expanded.insert(1, at: axis)
    return concat(tensors.map { reshaped($0, expanded) }, axis: axis)
}
