import ArgumentParser
import Foundation
import InspectdConfig
import InspectdDetector
import InspectdProducts

/// `inspectd products`: where every product offered by folder stands.
struct Products: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lists the products offered in the products folder and where each stands (queued, training, learnt, refused).",
        discussion: "With --scan, ready folders not yet answered are checked first, as the daemon checks them: a good one is copied into the queue and gets QUEUED.txt, a bad one gets REJECTED.txt with every reason.")

    @Option(help: "The configuration file.")
    var config = "/etc/inspectd/inspectd.toml"

    @Flag(help: "Check the ready folders now.")
    var scan = false

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Queue a refused product again (its images are kept in the queue).")
    var retry: String?

    func run() throws {
        let configuration = try loadConfiguration(config)
        let daemon = configuration.daemon
        let intake = ProductIntake(configuration: configuration)
        if scan {
            let model = ModelFolder(URL(fileURLWithPath: daemon.modelDirectory).resolvingSymlinksInPath())
            let known = model.exists ? Set(try model.readManifest().products.keys) : []
            let (outcomes, failures) = try intake.scan(known: known)
            for outcome in outcomes {
                switch outcome {
                case .queued(let record): note("\(record.name): queued, \(record.images) images")
                case .rejected(let name, let reasons): note("\(name): rejected: \(reasons.joined(separator: "; "))")
                }
            }
            for failure in failures { note("warning: \(failure)") }
        }
        if let retry {
            do { try intake.queue.retry(retry) } catch { throw ValidationError("\(error)") }
            note("\(retry): queued again")
        }
        let records = try intake.queue.products()
        let status = TrainingStatus.read(stateDirectory: daemon.stateDirectory)
        func progress(_ record: QueuedProduct) -> (step: Int, steps: Int)? {
            guard record.state == .training, status.phase == .training, status.product == record.name,
                  let step = status.step, let steps = status.steps else { return nil }
            return (step, steps)
        }
        let rejected = try intake.rejections()
        if json {
            printJSONLine(["products": records.map { r -> [String: Any] in
                ["name": r.name, "state": r.state.rawValue, "display_name": r.displayName, "labelled_by": r.labelledBy,
                 "images": r.images, "update": r.update, "queued": r.queued, "version": r.version as Any,
                 "figures": r.figures, "reason": r.reason as Any, "source": r.source,
                 "step": progress(r)?.step as Any, "steps": progress(r)?.steps as Any]
            } + rejected.map { ["name": $0.name, "state": "rejected", "reasons": $0.reasons] }])
            return
        }
        if records.isEmpty && rejected.isEmpty { print("no products offered in \(daemon.productsDirectory)") }
        for r in records {
            let detail = r.version.map { " in \($0)" } ?? r.reason.map { ": \($0)" }
                ?? progress(r).map { ", step \($0.step) of \($0.steps)" } ?? ""
            print("\(r.name)  \(r.state.rawValue)\(detail)  \(r.images) images  \"\(r.displayName)\" by \(r.labelledBy), \(r.queued)")
        }
        for (name, reasons) in rejected { print("\(name)  rejected: \(reasons.joined(separator: "; "))") }
    }
}
