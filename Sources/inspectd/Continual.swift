import ArgumentParser
import Foundation
import InspectdContinual
import InspectdDetector

struct Continual: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The continual benchmark: learn products one at a time, evaluate every product seen after each increment, measure forgetting.",
        discussion: "Resumable: started again with the same arguments, it continues where it stopped.")

    @Option(help: "Root of the evaluation sets (MVTec layout: <set>/train/good, <set>/test, <set>/ground_truth).")
    var data: String

    @Option(help: "Comma-separated sets, in the order they arrive.")
    var sequence: String

    @Option(help: "Folder for the models, the replay buffer and state.json.")
    var out: String

    @Option(help: "projected, finetune, replay, joint or isolated.")
    var mode: String = "projected"

    @Option(help: "How the bases are computed (projected mode): covariance or isvd.")
    var basis: String = "covariance"

    @Option(help: "quick or standard.")
    var profile: String = "standard"

    @Option(help: "Training steps per product (joint: this times the number of products, in one run).")
    var stepsPerProduct: Int = 1000

    @Option(help: "Images per earlier product in the replay buffer.")
    var replayImages: Int = 16

    @Flag(help: "Each product keeps the levels and threshold fitted in its own increment, and no increment reads an earlier product's images (by default an increment refits the products it already knew from their training folders).")
    var keepLevels = false

    @Option(help: "The --out folder of an isolated run of the same sequence, to show each product's figure beside it.")
    var isolated: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    @OptionGroup var engine: EngineOptions

    var products: [String] { sequence.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }

    func validate() throws {
        guard ContinualRun.Mode(rawValue: mode) != nil else {
            throw ValidationError("--mode must be one of \(ContinualRun.Mode.allCases.map(\.rawValue).joined(separator: ", ")), not '\(mode)'")
        }
        guard BasisMethod(rawValue: basis) != nil else {
            throw ValidationError("--basis must be one of \(BasisMethod.allCases.map(\.rawValue).joined(separator: ", ")), not '\(basis)'")
        }
        guard TrainingProfile.named(profile) != nil else {
            throw ValidationError("--profile must be one of \(TrainingProfile.all.map(\.name).joined(separator: ", ")), not '\(profile)'")
        }
        guard !products.isEmpty, Set(products).count == products.count, products.allSatisfy({ !$0.isEmpty }) else {
            throw ValidationError("--sequence needs distinct comma-separated set names, got '\(sequence)'")
        }
        guard stepsPerProduct >= 1, replayImages >= 1 else { throw ValidationError("--steps-per-product and --replay-images must be at least 1") }
    }

    func run() throws {
        engine.apply()
        let (backbone, record) = try loadBackbone()
        let plan = ContinualRun.Plan(mode: ContinualRun.Mode(rawValue: mode)!, sequence: products, profile: profile,
                                     stepsPerProduct: stepsPerProduct, basis: BasisMethod(rawValue: basis)!, replayImages: replayImages,
                                     keepLevels: keepLevels)
        let runner = ContinualRun(data: URL(fileURLWithPath: data), out: URL(fileURLWithPath: out), plan: plan,
                                  backbone: backbone, backboneRecord: record, log: note)
        var progress: ProgressLine?
        runner.onStep = { report in
            if progress == nil || report.step <= 1 { progress = ProgressLine(totalSteps: report.totalSteps, startStep: report.step) }
            progress!.report(step: report.step, loss: report.loss, force: report.step == report.totalSteps)
        }
        let summary = ContinualSummary(try runner.run())
        let isolatedFigures = try isolated.map { folder -> ContinualSummary in
            let file = URL(fileURLWithPath: folder).appendingPathComponent("state.json")
            do {
                return ContinualSummary(try JSONDecoder().decode(ContinualRun.State.self, from: Data(contentsOf: file)))
            } catch {
                throw ValidationError("--isolated: \(file.path) is not a continual run's state (\(error.localizedDescription))")
            }
        }
        if json {
            printJSONLine(report(summary, isolated: isolatedFigures))
        } else {
            print(table(summary, isolated: isolatedFigures))
        }
    }

    func report(_ summary: ContinualSummary, isolated: ContinualSummary?) -> [String: Any] {
        func json(_ value: Double?) -> Any { value.map { ($0 * 10).rounded() / 10 } ?? NSNull() }
        func matrix(_ m: [[Double?]]) -> [[Any]] { m.map { $0.map(json) } }
        let plan = summary.state.plan
        var out: [String: Any] = [
            "mode": plan.mode.rawValue, "sequence": plan.sequence, "profile": plan.profile,
            "steps_per_product": plan.stepsPerProduct, "basis": plan.mode == .projected ? plan.basis.rawValue : NSNull(),
            "image_auroc_matrix": matrix(summary.matrix(\.imageAUROC)),
            "pixel_auroc_matrix": matrix(summary.matrix(\.pixelAUROC)),
            "final_mean_image_auroc": json(summary.finalMean(\.imageAUROC)),
            "final_mean_pixel_auroc": json(summary.finalMean(\.pixelAUROC)),
            "forgetting_image_auroc": json(summary.forgetting(\.imageAUROC)),
            "forgetting_pixel_auroc": json(summary.forgetting(\.pixelAUROC)),
            "backward_transfer_image_auroc": json(summary.backwardTransfer(\.imageAUROC)),
            "backward_transfer_pixel_auroc": json(summary.backwardTransfer(\.pixelAUROC)),
            "just_after_image_auroc": summary.justAfter(\.imageAUROC),
            "just_after_pixel_auroc": summary.justAfter(\.pixelAUROC),
            "basis_occupancy": summary.basisOccupancy,
            "training_seconds": summary.state.increments.map { ($0.trainingSeconds * 10).rounded() / 10 },
            "basis_seconds": summary.state.increments.map { json($0.basisSeconds) },
            "evaluation_seconds": summary.state.increments.map { ($0.evaluationSeconds * 10).rounded() / 10 },
            "increments_done": summary.state.increments.count,
        ]
        if let isolated {
            out["isolated_image_auroc"] = isolated.justAfter(\.imageAUROC)
            out["isolated_pixel_auroc"] = isolated.justAfter(\.pixelAUROC)
        }
        return out
    }

    func table(_ summary: ContinualSummary, isolated: ContinualSummary?) -> String {
        let plan = summary.state.plan
        func cell(_ v: Double?) -> String { v.map { String(format: "%6.1f", $0) } ?? "     -" }
        var lines: [String] = ["mode \(plan.mode.rawValue), \(plan.profile), \(plan.stepsPerProduct) steps per product"
                               + (plan.mode == .projected ? ", bases by \(plan.basis.rawValue)" : "")]
        for (title, metric) in [("image AUROC", \ContinualRun.Increment.imageAUROC), ("pixel AUROC", \ContinualRun.Increment.pixelAUROC)] {
            lines.append("")
            lines.append("\(title): row = after increment, column = product")
            lines.append("after \\ of".padding(toLength: 16, withPad: " ", startingAt: 0)
                         + plan.sequence.map { String($0.prefix(6)).padding(toLength: 7, withPad: " ", startingAt: 0) }.joined())
            for (i, row) in summary.matrix(metric).enumerated() {
                let name = summary.state.increments[i].trained.count == 1 ? summary.state.increments[i].trained[0] : "all"
                lines.append(String(name.prefix(15)).padding(toLength: 16, withPad: " ", startingAt: 0)
                             + row.map { cell($0) + " " }.joined())
            }
            lines.append("final mean \(cell(summary.finalMean(metric)))   forgetting FM \(cell(summary.forgetting(metric)))   "
                         + "backward transfer \(cell(summary.backwardTransfer(metric)))")
            let after = summary.justAfter(metric)
            let beside = isolated?.justAfter(metric)
            lines.append("right after its own increment" + (beside != nil ? " (isolated model beside it)" : "") + ": "
                         + plan.sequence.map { p in "\(p) \(cell(after[p]).trimmingCharacters(in: .whitespaces))"
                             + (beside.map { " (\(cell($0[p]).trimmingCharacters(in: .whitespaces)))" } ?? "") }.joined(separator: ", "))
        }
        let occupancy = summary.basisOccupancy
        if !occupancy.isEmpty {
            lines.append("")
            lines.append("basis occupancy, % of each layer's input dimension, after each increment:")
            for layer in occupancy.keys.sorted() {
                lines.append("  " + layer.padding(toLength: 40, withPad: " ", startingAt: 0)
                             + occupancy[layer]!.map { String(format: "%5.1f", $0) }.joined(separator: " "))
            }
        }
        return lines.joined(separator: "\n")
    }
}
