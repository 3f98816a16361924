/// The element encodings a checkpoint may store, all turned into the engine's Float32 on load.
///
/// Conversions are generic over the stored scalar so each one compiles to its own tight loop; the
/// switch on the element type happens once per tensor, not per element.
enum ElementType {
    case float32, float16, bfloat16, float64, int64, int32

    var byteSize: Int {
        switch self {
        case .float32, .int32: 4
        case .float16, .bfloat16: 2
        case .float64, .int64: 8
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
        }
    }

    /// Copies the strided view `size`/`stride` starting `offset` elements into `raw`, in row-major
    /// order, into `out`. The caller has checked that every addressed element lies inside `raw`.
    func gather(from raw: UnsafeRawPointer, offset: Int, size: [Int], stride: [Int], into out: UnsafeMutablePointer<Float>) {
        switch self {
        case .float32: Self.gather(Float.self, from: raw, offset: offset, size: size, stride: stride, into: out)
        case .float16: Self.gather(Float16.self, from: raw, offset: offset, size: size, stride: stride, into: out)
        case .bfloat16: Self.gather(BFloat16.self, from: raw, offset: offset, size: size, stride: stride, into: out)
        case .float64: Self.gather(Double.self, from: raw, offset: offset, size: size, stride: stride, into: out)
        case .int64: Self.gather(Int64.self, from: raw, offset: offset, size: size, stride: stride, into: out)
        case .int32: Self.gather(Int32.self, from: raw, offset: offset, size: size, stride: stride, into: out)
        }
    }

    private static func convert<E: StoredScalar>(_: E.Type, from raw: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            out[i] = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<E>.size, as: E.self).floatValue
        }
    }

    /// Walks the view with an odometer over the outer axes and a strided run along the last one.
    private static func gather<E: StoredScalar>(_: E.Type, from raw: UnsafeRawPointer, offset: Int, size: [Int], stride: [Int],
                                               into out: UnsafeMutablePointer<Float>) {
        guard let innerAxis = size.indices.last else {
            out[0] = raw.loadUnaligned(fromByteOffset: offset * MemoryLayout<E>.size, as: E.self).floatValue
            return
        }
        guard !size.contains(0) else { return }
        let innerCount = size[innerAxis]
        let innerStride = stride[innerAxis]
        var index = [Int](repeating: 0, count: innerAxis)
        var start = offset
        var written = 0
        while true {
            for i in 0..<innerCount {
                let element = start + i * innerStride
                out[written + i] = raw.loadUnaligned(fromByteOffset: element * MemoryLayout<E>.size, as: E.self).floatValue
            }
            written += innerCount
            var axis = innerAxis - 1
            while axis >= 0 {
                index[axis] += 1
                start += stride[axis]
                if index[axis] < size[axis] { break }
                start -= stride[axis] * size[axis]
                index[axis] = 0
                axis -= 1
            }
            if axis < 0 { return }
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

/// bfloat16 is the upper half of a Float32's bit pattern; Swift has no type for it.
struct BFloat16: StoredScalar {
    let bits: UInt16
    var floatValue: Float { Float(bitPattern: UInt32(bits) << 16) }
}
