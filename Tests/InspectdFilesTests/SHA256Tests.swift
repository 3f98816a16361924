import Foundation
import InspectdFiles
import Testing

@Suite struct SHA256Tests {
    // Test vectors of FIPS 180-4's examples (and the empty message).
    @Test func knownDigests() {
        #expect(SHA256.hex(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func streamingEqualsOneShotAcrossBlockBoundaries() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for cut in [0, 1, 55, 56, 63, 64, 65, 500] {
            var hasher = SHA256()
            hasher.update(data[..<cut])
            hasher.update(data[cut...])
            #expect(hasher.finalize().map { String(format: "%02x", $0) }.joined() == SHA256.hex(data))
        }
    }

    @Test func fileDigestEqualsBytesDigest() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: url) }
        let data = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try Data(data).write(to: url)
        #expect(try SHA256.hex(ofFile: url) == SHA256.hex(data))
    }
}
