import Foundation
import InspectdConfig
import InspectdImage
import Testing
@testable import InspectdProducts

/// A products folder and a queue in a fresh temporary folder.
private struct Bench {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("intake-\(UUID().uuidString)")
    var products: URL { root.appendingPathComponent("products") }
    var queue: ProductQueue { ProductQueue(root: root.appendingPathComponent("state/queue")) }

    func intake(_ rules: ProductIntake.Rules = ProductIntake.Rules()) -> ProductIntake {
        ProductIntake(productsDirectory: products, queue: queue, rules: rules)
    }

    /// A product folder with `images` small PNGs, a label and (unless told) READY.
    @discardableResult
    func folder(_ name: String, images: Int, label: String? = "display_name = \"X\"\nlabelled_by = \"op\"\n", ready: Bool = true,
                side: Int = 40) throws -> URL {
        let folder = products.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for i in 0..<images {
            let pixels = (0..<(side * side)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }
            try Data(PNG.encode(Image(width: side, height: side, format: .grey, pixels: pixels)))
                .write(to: folder.appendingPathComponent(String(format: "%03d.png", i)))
        }
        if let label { try Data(label.utf8).write(to: folder.appendingPathComponent("product.toml")) }
        if ready { try Data().write(to: folder.appendingPathComponent("READY")) }
        return folder
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

private func text(_ folder: URL, _ name: String) -> String? {
    try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
}

@Suite struct ProductIntakeTests {
    @Test func aGoodFolderIsQueuedOnceWithItsImagesCopied() throws {
        let bench = Bench()
        defer { bench.remove() }
        let folder = try bench.folder("solar_poly", images: 20,
                                      label: "display_name = \"Solar cell\"\ncameras = [\"cam1\"]\nlabelled_by = \"A. Operator\"\nnote = \"lot 7\"\n")
        try bench.folder("unfinished", images: 20, ready: false)
        let (outcomes, failures) = try bench.intake().scan(known: ["mvtec_bottle"])
        #expect(failures.isEmpty)
        guard case .queued(let record) = try #require(outcomes.first), outcomes.count == 1 else {
            Issue.record("expected one queued product, got \(outcomes)")
            return
        }
        #expect(record.name == "solar_poly" && record.state == .queued && record.images == 20 && record.displayName == "Solar cell"
                && record.cameras == ["cam1"] && record.labelledBy == "A. Operator" && record.note == "lot 7" && !record.update)
        #expect(try bench.queue.products() == [record])
        #expect(try FileManager.default.contentsOfDirectory(atPath: bench.queue.imagesFolder(of: "solar_poly").path).count == 20)
        #expect(text(folder, "QUEUED.txt")?.contains("20 images") == true)
        #expect(text(folder, "REJECTED.txt") == nil)
        // Answered folders are left alone, and the unfinished one waits for READY.
        #expect(try bench.intake().scan(known: []).outcomes.isEmpty)
        // The operator's folder can go: the queue holds the images.
        try FileManager.default.removeItem(at: folder)
        #expect(try bench.queue.product("solar_poly")?.images == 20)
    }

    @Test func aBadFolderIsRejectedWithEveryReason() throws {
        let bench = Bench()
        defer { bench.remove() }
        let folder = try bench.folder("cells", images: 5)
        try Data("not a png".utf8).write(to: folder.appendingPathComponent("broken.png"))
        try Data("x".utf8).write(to: folder.appendingPathComponent("notes.docx"))
        #expect(symlink("/etc/hostname", folder.appendingPathComponent("linked.png").path) == 0)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("more"), withIntermediateDirectories: false)
        let (outcomes, _) = try bench.intake().scan(known: [])
        guard case .rejected(let name, let reasons) = try #require(outcomes.first) else {
            Issue.record("expected a rejection, got \(outcomes)")
            return
        }
        #expect(name == "cells")
        let all = reasons.joined(separator: "\n")
        for expected in ["broken.png cannot be decoded", "notes.docx is not an image", "linked.png is a symbolic link",
                         "more is a folder", "5 usable images; at least 20 are needed"] {
            #expect(all.contains(expected), "missing '\(expected)' in\n\(all)")
        }
        let answer = try #require(text(folder, "REJECTED.txt"))
        for reason in reasons { #expect(answer.contains(reason)) }
        let listed = try bench.intake().rejections()
        #expect(listed.map(\.name) == ["cells"] && listed.first?.reasons == reasons, "the answer is read back for 'inspectd products'")
        #expect(try bench.queue.products().isEmpty, "nothing is queued")
        // Fixed and REJECTED.txt deleted: checked again.
        for entry in ["broken.png", "notes.docx", "linked.png", "more"] { try FileManager.default.removeItem(at: folder.appendingPathComponent(entry)) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("REJECTED.txt"))
        var rules = ProductIntake.Rules()
        rules.minimumImages = 5
        #expect(try bench.intake(rules).scan(known: []).outcomes.count == 1)
        #expect(try bench.queue.product("cells")?.state == .queued)
    }

    @Test func namesLabelsSizesAndKnownProducts() throws {
        let bench = Bench()
        defer { bench.remove() }
        try bench.folder("bad name", images: 20)
        try bench.folder("unlabelled", images: 20, label: nil)
        try bench.folder("mislabelled", images: 20, label: "display_name = \"X\"\n")
        try bench.folder("mvtec_bottle", images: 20)
        try bench.folder("more_bottle", images: 20, label: "display_name = \"X\"\nlabelled_by = \"op\"\nupdate = true\n")
        try bench.folder("huge", images: 20, side: 80)
        var rules = ProductIntake.Rules()
        rules.largestSide = 64
        let (outcomes, failures) = try bench.intake(rules).scan(known: ["mvtec_bottle", "more_bottle"])
        #expect(failures.isEmpty)
        var reasons: [String: String] = [:]
        var queued: [String] = []
        for outcome in outcomes {
            switch outcome {
            case .rejected(let name, let why): reasons[name] = why.joined(separator: "\n")
            case .queued(let record): queued.append(record.name)
            }
        }
        #expect(queued == ["more_bottle"], "a known product with update = true is taken")
        #expect(reasons["bad name"]?.contains("is not a product name") == true)
        #expect(reasons["unlabelled"]?.contains("product.toml is missing") == true)
        #expect(reasons["mislabelled"]?.contains("labelled_by: expected who labelled the images") == true)
        #expect(reasons["mvtec_bottle"]?.contains("the model already knows 'mvtec_bottle': set update = true") == true)
        #expect(reasons["huge"]?.contains("000.png is 80x80: each side must be from 32 to 64 pixels") == true)
        #expect(try bench.queue.product("more_bottle")?.update == true)
    }
}

@Suite struct ProductQueueTests {
    @Test func onlyARefusedProductIsQueuedAgain() throws {
        let bench = Bench()
        defer { bench.remove() }
        try bench.folder("solar_poly", images: 20)
        _ = try bench.intake().scan(known: [])
        #expect(throws: ProductFailure.self) { try bench.queue.retry("solar_poly") }
        #expect(throws: ProductFailure.self) { try bench.queue.retry("ghost") }
        var record = try #require(try bench.queue.product("solar_poly"))
        record.state = .refused
        record.reason = "solar_mono: AUROC dropped"
        record.figures = ["solar_mono.auroc": 0.5]
        try bench.queue.save(record)
        let later = Date().addingTimeInterval(60)
        let again = try bench.queue.retry("solar_poly", now: later)
        #expect(again.state == .queued && again.reason == nil && again.figures.isEmpty && again.queued > record.queued)
        #expect(try bench.queue.product("solar_poly") == again)
    }
}
