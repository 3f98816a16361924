import Foundation
import InspectdDetector
import InspectdTensor
import Testing

/// The legacy PyTorch reader on the real backbone checkpoint, found where the daemon finds it
/// (`BackboneLocator`); the reader's own tests, on hand-made pickles, are in the tensor tests.
struct BackboneCheckpointTests {
    @Test(.enabled(if: BackboneLocator.find() != nil, "efficientnet-lite0 .pth not found; set INSPECTD_BACKBONE to its path"))
    func readsEfficientNetLite0Backbone() throws {
        let (tensors, names) = try TorchCheckpoint.readLegacy(from: URL(fileURLWithPath: BackboneLocator.find()!))
        // Reference numbers from Python's own pickle module with an allow-listing Unpickler.
        #expect(tensors.count == 296)
        #expect(names.prefix(3) == ["_conv_stem.weight", "_bn0.weight", "_bn0.bias"])
        #expect(names.suffix(3) == ["_bn1.num_batches_tracked", "_fc.weight", "_fc.bias"])
        #expect(names.filter { $0.hasSuffix("num_batches_tracked") }.count == 49)
        #expect(tensors.values.reduce(0) { $0 + $1.count } == 4_694_073)

        // Both weights are stored as non-contiguous views (channels-last and transposed).
        let stem = try #require(tensors["_conv_stem.weight"])
        #expect(stem.shape == [32, 3, 3, 3])
        #expect(Array(stem.data.prefix(3)) == [-1.1103360652923584, -1.3087704181671143, -0.010156914591789246])
        #expect(stem.data[863] == 2.2351741790771484e-08)  // [31, 2, 2, 2]

        let fc = try #require(tensors["_fc.weight"])
        #expect(fc.shape == [1000, 1280])
        #expect(fc.data[0] == -0.04561043530702591)
        #expect(fc.data[999 * 1280 + 1279] == 0.04085797071456909)
        #expect(fc.data[500 * 1280 + 640] == -0.03609856963157654)
        #expect(tensors["_fc.bias"]?.data.first == 0.032053910195827484)
        #expect(tensors["_fc.bias"]?.data.last == 0.03138429671525955)
        #expect(tensors["_bn0.running_var"]?.data.first == 1.631428599357605)
        #expect(tensors["_bn0.num_batches_tracked"]?.shape == [])
        #expect(tensors["_bn0.num_batches_tracked"]?.data == [0])
    }
}
