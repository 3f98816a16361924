/// The element encodings a checkpoint may store, all turned into the engine's Float32 on load.
///
/// Conversions are generic over the stored scalar so each one compiles to its own tight loop; the
/// switch on the element type happens once per tensor, not per element.
enum ElementType {
    case float32, float16, bfloat16, float64, int64, int32, int8

    var byteSize: Int {
        switch self {
        case .float32, .int32: 4
        case .float16, .bfloat16: 2
        case .float64, .int64: 8
        case .int8: 1
        }
    }

    /// Converts `count` consecutive little-endian elements at `raw` (any alignment) into `out`.
    func convert(from raw: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        switch self {
        case .float32: UnsafeMutableRawPointer(out).copyMemory(from: raw, byteCount: count * 4)
        case .float16: Self.convert(Float16.self, from: raw, count: count, into: out)
        case .bfloat16: Self.convert(BFloat16.self, from: raw, count: count, into: out)
        case .float64: Self.convert(Double.self, from: raw, count: count, into: out)
        case .int64: Self.convert(Int64.self, from: raw, count: count, into: out)
        case .int32: Self.convert(Int32.self, from: raw, count: count, into: out)
        case .int8: Self.convert(Int8.self, from: raw, count: count, into: out)
        }
    }

    /// Copies the strided view `size`/`stride` starting `offset` elements into `raw`, in row-major
    /// order, into `out`. The caller has checked that every addressed element lies inside `raw`.
    func gather(from raw: UnsafeRawPointer, offset: Int, size: [Int], stride: [Int], into out: UnsafeMutablePointer<Float>) {
        guard !size.contains(0) else { return }
        // Axes of extent 1 never move the index, and an axis whose stride spans the whole next axis
        // forms one longer axis with it: dropping and merging them leaves the fewest, longest loops,
        // and a contiguous view becomes one run.
        var axes: [(size: Int, stride: Int)] = []
        for (extent, step) in zip(size, stride) where extent != 1 {
            if let outer = axes.last, outer.stride == step * extent {
                axes[axes.count - 1] = (outer.size * extent, step)
            } else {
                axes.append((extent, step))
            }
        }
        if axes.isEmpty || (axes.count == 1 && axes[0].stride == 1) {
            convert(from: raw + offset * byteSize, count: axes.first?.size ?? 1, into: out)
            return
        }
        let size = axes.map(\.size), stride = axes.map(\.stride)
        switch self {
        case .float32: Self.gather(Float.self, from: raw, offset: offset, size: size, stride: stride, into: out)
        case .float16: Self.gather(Float16.self, from: raw, offset: offset, size: size, stride: stride, into: out)
        case .bfloat16: Self.gather(BFloat16.self, from: raw, offset: offset, size: size, stride: stride, into: out)
        case .float64: Self.gather(Double.self, from: raw, offset: offset, size: size, stride: stride, into: out)
        case .int64: Self.gather(Int64.self, from: raw, offset: offset, size: size, stride: stride, into: out)
        case .int32: Self.gather(Int32.self, from: raw, offset: offset, size: size, stride: stride, into: out)
        case .int8: Self.gather(Int8.self, from: raw, offset: offset, size: size, stride: stride, into: out)
        }
    }

    private static func convert<E: StoredScalar>(_: E.Type, from raw: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            out[i] = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<E>.size, as: E.self).floatValue
        }
    }

    /// Side of the square tiles a transposing copy moves at once: 32 source rows and 32 destination
    /// rows of 32 elements stay within L1 while the tile is copied.
    private static let tile = 32

    /// Walks the view with an odometer over the outer axes and copies the innermost part as a row or,
    /// for transposed layouts (the usual channels-last and `.t()` weights), as a tiled plane.
    /// `size` has at least one axis, none of extent 0 or 1.
    private static func gather<E: StoredScalar>(_: E.Type, from raw: UnsafeRawPointer, offset: Int, size: [Int], stride: [Int],
                                               into out: UnsafeMutablePointer<Float>) {
        func load(_ element: Int) -> Float {
            raw.loadUnaligned(fromByteOffset: element * MemoryLayout<E>.size, as: E.self).floatValue
        }
        let last = size.count - 1
        var outStride = [Int](repeating: 1, count: size.count)
        for axis in Swift.stride(from: last - 1, through: 0, by: -1) { outStride[axis] = outStride[axis + 1] * size[axis + 1] }

        // The axis the source is densest along. When it is not the last one, copying row by row would
        // read each element from a different cache line; copying (column x last) tiles reads along it
        // while writing only `tile` rows at a time.
        let column = size.indices.reversed().min { stride[$0] < stride[$1] }!
        let outer = size.indices.filter { $0 != last && $0 != column }
        let rowCount = size[last], rowStride = stride[last]

        var index = [Int](repeating: 0, count: outer.count)
        var source = offset, destination = 0
        while true {
            if column == last {
                for i in 0..<rowCount { out[destination + i] = load(source + i * rowStride) }
            } else {
                // i runs along the column axis (dense in the source), j along the last axis (dense in `out`).
                let columnCount = size[column], columnStride = stride[column], columnOutStride = outStride[column]
                for iStart in Swift.stride(from: 0, to: columnCount, by: tile) {
                    let iEnd = min(iStart + tile, columnCount)
                    for jStart in Swift.stride(from: 0, to: rowCount, by: tile) {
                        for j in jStart..<min(jStart + tile, rowCount) {
                            for i in iStart..<iEnd {
                                out[destination + i * columnOutStride + j] = load(source + i * columnStride + j * rowStride)
                            }
                        }
                    }
                }
            }
            var position = outer.count - 1
            while position >= 0 {
                let axis = outer[position]
                index[position] += 1
                source += stride[axis]
                destination += outStride[axis]
                if index[position] < size[axis] { break }
                source -= stride[axis] * size[axis]
                destination -= outStride[axis] * size[axis]
                index[position] = 0
                position -= 1
            }
            if position < 0 { return }
        }
    }
}

/// A scalar as stored in a checkpoint, readable from unaligned bytes.
protocol StoredScalar: BitwiseCopyable {
    var floatValue: Float { get }
}

extension Float: StoredScalar { var floatValue: Float { self } }
extension Float16: StoredScalar { var floatValue: Float { Float(self) } }
extension Double: StoredScalar { var floatValue: Float { Float(self) } }
extension Int64: StoredScalar { var floatValue: Float { Float(self) } }
extension Int32: StoredScalar { var floatValue: Float { Float(self) } }
extension Int8: StoredScalar { var floatValue: Float { Float(self) } }

/// bfloat16 is the upper half of a Float32's bit pattern; Swift has no type for it.
struct BFloat16: StoredScalar {
    let bits: UInt16
    var floatValue: Float { Float(bitPattern: UInt32(bits) << 16) }
}
