import InspectdImage
import Testing

@Suite struct CropConvertTests {
    @Test func cropCopiesTheRegion() throws {
        let image = randomImage(width: 10, height: 8, format: .rgb, seed: 6)
        let crop = try image.cropped(x: 3, y: 2, width: 4, height: 5)
        #expect(crop.width == 4 && crop.height == 5 && crop.format == .rgb)
        for y in 0..<5 {
            for x in 0..<4 {
                for c in 0..<3 { #expect(crop[x, y, c] == image[x + 3, y + 2, c]) }
            }
        }
        #expect(try image.cropped(x: 0, y: 0, width: 10, height: 8) == image)
    }

    @Test(arguments: [(-1, 0, 2, 2), (9, 0, 2, 2), (0, 7, 1, 2), (0, 0, 0, 3), (2, 2, 3, -1)])
    func cropOutsideTheImageThrows(region: (Int, Int, Int, Int)) {
        let image = randomImage(width: 10, height: 8, format: .grey, seed: 6)
        #expect(throws: ImageError.self) {
            try image.cropped(x: region.0, y: region.1, width: region.2, height: region.3)
        }
    }

    @Test func greyToColourReplicates() {
        let grey = Image(width: 2, height: 1, format: .grey, pixels: [10, 250])
        #expect(grey.converted(to: .rgb).pixels == [10, 10, 10, 250, 250, 250])
        #expect(grey.converted(to: .rgba).pixels == [10, 10, 10, 255, 250, 250, 250, 255])
        #expect(grey.converted(to: .rgb).converted(to: .grey) == grey)
    }

    @Test func colourToGreyIsBT601Luma() {
        let rgb = Image(width: 4, height: 1, format: .rgb, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255])
        #expect(rgb.converted(to: .grey).pixels == [76, 150, 29, 255])
        let rgba = Image(width: 1, height: 1, format: .rgba, pixels: [255, 0, 0, 3])
        #expect(rgba.converted(to: .grey).pixels == [76])
    }

    @Test func alphaIsDroppedAndAddedOpaque() {
        let rgba = Image(width: 2, height: 1, format: .rgba, pixels: [1, 2, 3, 0, 4, 5, 6, 128])
        let rgb = rgba.converted(to: .rgb)
        #expect(rgb.pixels == [1, 2, 3, 4, 5, 6])
        #expect(rgb.converted(to: .rgba).pixels == [1, 2, 3, 255, 4, 5, 6, 255])
    }
}
