import Foundation
import InspectdFiles
import InspectdImage

/// Pictures of anomaly maps for operators: a colour map, the colour map over the frame, and the
/// thresholded defect mask.
///
/// Colours come from a 256-entry table of the published polynomial fit of Google's Turbo
/// (near black, blue, cyan, green, yellow, red, dark red): perceptually ordered like viridis but with
/// more contrast at both ends, where "normal" and "clearly defective" sit. Scores are placed on
/// the table by a fixed `range` (for example the calibrated normal scores up to the threshold
/// and beyond), never by each map's own minimum and maximum, so the same colour means the same
/// score on every frame.
public struct Heatmap: Sendable {
    /// Scores at the two ends of the colour map; scores outside are clamped to the ends.
    public let range: ClosedRange<Float>

    public init(range: ClosedRange<Float> = 0...1) {
        precondition(range.upperBound > range.lowerBound, "heatmap range \(range) is empty")
        self.range = range
    }

    /// The colour table, R G B per entry, from the low end to the high end.
    public static let palette: [SIMD3<UInt8>] = (0..<256).map { index in
        let t = Double(index) / 255
        func channel(_ c: [Double]) -> UInt8 {
            let value = c[0] + t * (c[1] + t * (c[2] + t * (c[3] + t * (c[4] + t * c[5]))))
            return UInt8((min(max(value, 0), 1) * 255).rounded())
        }
        return SIMD3(channel([0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943]),
                     channel([0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604]),
                     channel([0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973]))
    }

    /// The map's scores as colours, an RGB image the size of the map.
    public func colourised(_ map: AnomalyMap) -> Image {
        let palette = Self.palette, count = map.width * map.height
        let (offset, scale) = paletteScale
        let pixels = [UInt8](unsafeUninitializedCapacity: 3 * count) { out, initialised in
            map.values.withUnsafeBufferPointer { values in
                for i in 0..<count {
                    let colour = palette[Self.paletteIndex(values[i], offset: offset, scale: scale)]
                    out[3 * i] = colour.x
                    out[3 * i + 1] = colour.y
                    out[3 * i + 2] = colour.z
                }
            }
            initialised = out.count
        }
        return Image(width: map.width, height: map.height, format: .rgb, pixels: pixels)
    }

    /// The colour map blended over the frame at the frame's resolution: `opacity` 0 gives the
    /// frame (as RGB), 1 the colour map. A map of another size is resized to the frame
    /// bilinearly first (`AnomalyMap.resized`), which is how a model-resolution map is shown
    /// over a full camera frame.
    public func overlay(_ map: AnomalyMap, on frame: Image, opacity: Float = 0.5) -> Image {
        precondition((0...1).contains(opacity), "overlay opacity \(opacity) is outside 0...1")
        let fitted = map.resized(width: frame.width, height: frame.height)
        let rgb = frame.converted(to: .rgb), palette = Self.palette, count = frame.width * frame.height
        let (offset, scale) = paletteScale
        // Blended in 8.8 fixed point: exact at both ends (weights 0 and 256).
        let colourWeight = UInt32((opacity * 256).rounded()), frameWeight = 256 - colourWeight
        let pixels = [UInt8](unsafeUninitializedCapacity: 3 * count) { out, initialised in
            rgb.pixels.withUnsafeBufferPointer { source in
                fitted.values.withUnsafeBufferPointer { values in
                    for i in 0..<count {
                        let colour = SIMD3<UInt32>(truncatingIfNeeded: palette[Self.paletteIndex(values[i], offset: offset, scale: scale)])
                        let under = SIMD3<UInt32>(UInt32(source[3 * i]), UInt32(source[3 * i + 1]), UInt32(source[3 * i + 2]))
                        let blended = (under &* frameWeight &+ colour &* colourWeight &+ 128) &>> 8
                        out[3 * i] = UInt8(truncatingIfNeeded: blended.x)
                        out[3 * i + 1] = UInt8(truncatingIfNeeded: blended.y)
                        out[3 * i + 2] = UInt8(truncatingIfNeeded: blended.z)
                    }
                }
            }
            initialised = out.count
        }
        return Image(width: frame.width, height: frame.height, format: .rgb, pixels: pixels)
    }

    /// A grey image the size of the map: 255 where the score is above `threshold`, 0 elsewhere.
    public static func mask(_ map: AnomalyMap, threshold: Float) -> Image {
        Image(width: map.width, height: map.height, format: .grey, pixels: map.values.map { $0 > threshold ? 255 : 0 })
    }

    /// Default zlib level for pictures. Level 1, not `PNG.encode`'s 3: a 900x900 overlay of a
    /// camera frame took 42 ms at level 1 against 70-98 ms at 3, for a file 7% larger (904 vs
    /// 845 KiB; 2-core box, release).
    public static let defaultCompressionLevel = 1

    /// PNG bytes of `image`; `compressionLevel` is zlib's, 0 (fastest) to 9 (smallest).
    public static func png(_ image: Image, compressionLevel: Int = defaultCompressionLevel) throws -> [UInt8] {
        try PNG.encode(image, compressionLevel: compressionLevel)
    }

    /// Writes `image` as a PNG at `url` so that readers see the old file or the whole new one:
    /// the bytes go to a temporary file in the same folder, which is then renamed over `url`.
    /// No fsync: a heatmap lost to a power cut is redrawn, and the daemon must not stall on disk.
    public static func write(_ image: Image, to url: URL, compressionLevel: Int = defaultCompressionLevel) throws {
        try AtomicFile.write(try png(image, compressionLevel: compressionLevel), to: url)
    }

    /// Offset and scale that put `range` onto palette indices 0...255.
    private var paletteScale: (offset: Float, scale: Float) {
        (range.lowerBound, 255 / (range.upperBound - range.lowerBound))
    }

    @inline(__always)
    private static func paletteIndex(_ value: Float, offset: Float, scale: Float) -> Int {
        // NaN (a broken map) lands on the low end rather than trapping the conversion.
        let position = (value - offset) * scale + 0.5
        return position >= 255 ? 255 : (position > 0 ? Int(position) : 0)
    }
}
