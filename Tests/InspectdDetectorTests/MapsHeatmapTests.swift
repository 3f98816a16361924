import Foundation
import InspectdFiles
import InspectdImage
import InspectdTesting
import Testing
@testable import InspectdDetector

@Suite struct MapsHeatmapTests {
    @Test func rangeEndsGetTheColourMapEndsAndOutsideIsClamped() {
        let heatmap = Heatmap(range: 2...6)
        let map = AnomalyMap(width: 4, height: 1, values: [2, 6, -100, 100])
        let image = heatmap.colourised(map)
        let (low, high) = (Heatmap.palette[0], Heatmap.palette[255])
        #expect(image.format == .rgb && image.width == 4 && image.height == 1)
        #expect(image.pixels == [low.x, low.y, low.z, high.x, high.y, high.z, low.x, low.y, low.z, high.x, high.y, high.z])
        // Turbo runs from near black through blue, green and yellow to dark red.
        #expect(Int(low.x) + Int(low.y) + Int(low.z) < 120)
        #expect(high.x > 2 * high.y && high.x > 2 * high.z)
        #expect(Heatmap.palette[40].z > 200 && Heatmap.palette[128].y > 200)
    }

    @Test func overlayBlendsAtTheFrameResolution() {
        var random = TestRandom(seed: 5)
        let frame = Image(width: 90, height: 60, format: .rgb, pixels: random.bytes(90 * 60 * 3))
        let map = AnomalyMap(width: 32, height: 32, values: (0..<1024).map { Float($0) / 1023 })
        let heatmap = Heatmap()
        #expect(heatmap.overlay(map, on: frame, opacity: 0) == frame)
        #expect(heatmap.overlay(map, on: frame, opacity: 1) == heatmap.colourised(map.resized(width: 90, height: 60)))
        let half = heatmap.overlay(map, on: frame, opacity: 0.5)
        let colours = heatmap.colourised(map.resized(width: 90, height: 60))
        for i in stride(from: 0, to: half.pixels.count, by: 97) {
            let expected = (Int(frame.pixels[i]) + Int(colours.pixels[i]) + 1) / 2
            #expect(abs(Int(half.pixels[i]) - expected) <= 1)
        }
        let grey = frame.converted(to: .grey)
        #expect(heatmap.overlay(map, on: grey, opacity: 0) == grey.converted(to: .rgb))
    }

    @Test func maskIsWhiteStrictlyAboveTheThreshold() {
        let map = AnomalyMap(width: 2, height: 2, values: [0.1, 0.5, 0.9, 0.50001])
        let mask = Heatmap.mask(map, threshold: 0.5)
        #expect(mask.format == .grey && mask.pixels == [0, 0, 255, 255])
    }

    @Test func writesAPNGInPlaceWithoutLeftovers() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("inspectd-heatmap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let target = folder.appendingPathComponent("frame.png")
        let first = Heatmap().colourised(AnomalyMap(width: 3, height: 2, values: [0, 0.2, 0.4, 0.6, 0.8, 1]))
        let second = Heatmap.mask(AnomalyMap(width: 3, height: 2, values: [0, 0.2, 0.4, 0.6, 0.8, 1]), threshold: 0.5)
        try Heatmap.write(first, to: target)
        try Heatmap.write(second, to: target)
        #expect(try Image(contentsOfFile: target.path) == second)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["frame.png"])
        #expect(throws: AtomicFile.Failure.self) {
            try Heatmap.write(first, to: folder.appendingPathComponent("missing/frame.png"))
        }
    }
}
