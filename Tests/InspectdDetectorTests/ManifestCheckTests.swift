import Foundation
import InspectdModel
import Testing
@testable import InspectdDetector

/// Manifests that decode but describe a model that cannot be built or cannot score are refused when
/// read, with the reason; before, loading them stopped the daemon in a precondition, a division by
/// zero or an out-of-range index (found by Fuzz/Sources/manifest).
@Suite struct ManifestCheckTests {
    /// A manifest as `inspectd train --profile quick` writes it, as JSON objects to edit.
    func quickManifest() throws -> [String: Any] {
        let manifest = ModelManifest(network: .quick, resolution: 256, scoring: TrainingProfile.quick.scoring,
                                     backbone: BackboneRecord(file: "b.pth", sha256: "abc"))
        return try JSONSerialization.jsonObject(with: JSONEncoder().encode(manifest)) as! [String: Any]
    }

    func read(_ json: [String: Any]) throws -> ModelManifest {
        try ModelFolder.manifest(decoding: JSONSerialization.data(withJSONObject: json), path: "/models/v0001/manifest.json")
    }

    @Test func theQuickProfilesManifestIsAccepted() throws {
        #expect(try read(quickManifest()).network == .quick)
    }

    /// (section, key, new value as JSON, what the error says); an empty section is the top level.
    static let refused = [
        // The fuzzer's find: a beta_start above beta_end.
        ("network", "beta_start", "0.02085", "network: bad noise schedule"),
        ("network", "group_norm_groups", "0", "network: 0 group-norm groups"),
        ("network", "amn_heads", "3", "network: 3 heads do not split width 64"),
        ("network", "unet_widths", "[]", "network: bad unetWidths []"),
        ("network", "unet_res_blocks", "-1", "network: bad U-Net depth"),
        ("network", "unet_widths", "[\(Int.max), 64]", "network: size \(Int.max) is above the limit of 65536"),
        ("network", "timesteps", "1000000000000", "network: bad noise schedule"),
        ("", "resolution", "8", "resolution 8 is outside 16...8192"),
        ("scoring", "noise_level", "1000", "3 DDIM steps from noise level 1000 do not fit a schedule of 1000 timesteps"),
        ("scoring", "noise_level", "-5", "noise level -5"),
        ("scoring", "ddim_steps", "0", "0 DDIM steps"),
        ("scoring", "smoothing_sigma", "-1", "smoothing sigma -1.0 is outside 0...256"),
        ("scoring", "smoothing_sigma", "1e30", "smoothing sigma"),
    ]

    @Test(arguments: refused)
    func aManifestThatCannotScoreIsRefusedWithTheReason(_ edit: (String, String, String, String)) throws {
        let (section, key, text, reason) = edit
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)
        var json = try quickManifest()
        if section.isEmpty {
            json[key] = value
        } else {
            var inner = json[section] as! [String: Any]
            inner[key] = value
            json[section] = inner
        }
        #expect { try read(json) } throws: { error in
            "\(error)".hasPrefix("/models/v0001/manifest.json: ") && "\(error)".contains(reason)
        }
    }
}
