import Foundation
import InspectdContinual
import InspectdFiles
import InspectdImage
import InspectdModel

/// The continual benchmark: products arrive one at a time, and after each increment every product
/// seen so far is evaluated, giving the matrices R[i][j] (after increment i, product j) of image
/// and pixel AUROC. Modes are the mechanism and its honest baselines, run the same way.
///
/// Everything lives in the output folder, and `state.json` is rewritten after each finished
/// increment, so a run stopped anywhere continues where it stopped: a finished increment is not
/// trained again, an interrupted one resumes from the trainer's checkpoint.
public final class ContinualRun {
    public enum Mode: String, Sendable, CaseIterable, Codable {
        /// Gradient projection, the default way `train` adds a product.
        case projected
        /// No protection at all: the lower bound.
        case finetune
        /// No projection, but each increment mixes in a small stored buffer of earlier products.
        case replay
        /// One model on all products at once, with the same total steps: the upper bound.
        case joint
        /// One model per product: zero forgetting by construction, N models.
        case isolated
    }

    public struct Plan: Codable, Sendable, Equatable {
        public var mode: Mode
        public var sequence: [String]
        public var profile: String
        public var stepsPerProduct: Int
        public var basis: BasisMethod
        /// Images per earlier product kept for `replay`.
        public var replayImages: Int
        /// Each product keeps the levels and threshold fitted in its own increment, and a later
        /// increment reads no earlier product's images (`IncrementOptions.refitKnownProducts` off).
        public var keepLevels: Bool

        public init(mode: Mode, sequence: [String], profile: String, stepsPerProduct: Int, basis: BasisMethod, replayImages: Int = 16,
                    keepLevels: Bool = false) {
            self.mode = mode
            self.sequence = sequence
            self.profile = profile
            self.stepsPerProduct = stepsPerProduct
            self.basis = basis
            self.replayImages = replayImages
            self.keepLevels = keepLevels
        }

        enum CodingKeys: String, CodingKey { case mode, sequence, profile, stepsPerProduct, basis, replayImages, keepLevels }

        // A run started before `keepLevels` existed refitted nothing only if it predates refitting
        // altogether; its state has no key, and it goes on as it started, refitting.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(mode: try c.decode(Mode.self, forKey: .mode), sequence: try c.decode([String].self, forKey: .sequence),
                      profile: try c.decode(String.self, forKey: .profile), stepsPerProduct: try c.decode(Int.self, forKey: .stepsPerProduct),
                      basis: try c.decode(BasisMethod.self, forKey: .basis), replayImages: try c.decode(Int.self, forKey: .replayImages),
                      keepLevels: try c.decodeIfPresent(Bool.self, forKey: .keepLevels) ?? false)
        }
    }

    /// What was measured after one increment.
    public struct Increment: Codable, Sendable, Equatable {
        /// The product(s) this increment trained.
        public var trained: [String]
        /// Metrics in percent of every product evaluated after it, by product.
        public var imageAUROC: [String: Double]
        public var pixelAUROC: [String: Double]
        public var trainingSeconds: Double
        public var basisSeconds: Double?
        public var evaluationSeconds: Double
        /// Share of each protected layer's input dimension its basis occupies (projected mode).
        public var basisOccupancy: [String: Double]?
    }

    public struct State: Codable, Sendable {
        public var plan: Plan
        public var increments: [Increment]
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let data: URL
    public let out: URL
    public let plan: Plan
    let backbone: EfficientNetLite0
    let backboneRecord: BackboneRecord
    let log: (String) -> Void
    /// Progress of the training inside an increment (the CLI draws its progress line from it).
    public var onStep: ((Trainer.StepReport) -> Void)?

    public init(data: URL, out: URL, plan: Plan, backbone: EfficientNetLite0, backboneRecord: BackboneRecord,
                log: @escaping (String) -> Void) {
        self.data = data
        self.out = out
        self.plan = plan
        self.backbone = backbone
        self.backboneRecord = backboneRecord
        self.log = log
    }

    var stateURL: URL { out.appendingPathComponent("state.json") }

    /// The state so far: a fresh one, or the one on disk if it was made by the same plan.
    public func loadState() throws -> State {
        guard let bytes = try? Data(contentsOf: stateURL) else { return State(plan: plan, increments: []) }
        let state: State
        do {
            state = try JSONDecoder().decode(State.self, from: bytes)
        } catch {
            throw Failure(description: "\(stateURL.path): not a continual run's state (\(error))")
        }
        guard state.plan == plan else {
            throw Failure(description: "\(stateURL.path): made by another plan (\(state.plan.mode.rawValue) over "
                          + "\(state.plan.sequence.joined(separator: ",")), \(state.plan.stepsPerProduct) steps per product, "
                          + "\(state.plan.profile), \(state.plan.basis.rawValue)); use another --out or remove it")
        }
        return state
    }

    /// Runs (or continues) every increment of the plan and returns the finished state.
    public func run() throws -> State {
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        var state = try loadState()
        guard let profile = TrainingProfile.named(plan.profile) else {
            throw Failure(description: "no training profile '\(plan.profile)'")
        }
        let increments = plan.mode == .joint ? [plan.sequence] : plan.sequence.map { [$0] }
        if !state.increments.isEmpty { log("continuing after \(state.increments.count) of \(increments.count) increments") }
        for index in state.increments.count..<increments.count {
            let products = increments[index]
            log("increment \(index + 1) of \(increments.count): \(products.joined(separator: ", "))")
            let trained = try train(products, index: index, profile: profile)
            let seen = plan.mode == .joint ? plan.sequence : Array(plan.sequence.prefix(index + 1))
            let evaluationStart = Date()
            var image: [String: Double] = [:], pixel: [String: Double] = [:]
            // One load per model folder: sequential modes score every product with the same model.
            var detectors: [URL: Detector] = [:]
            for product in seen {
                // An isolated model is never touched again: its figures stay those it had.
                if plan.mode == .isolated, let earlier = state.increments.last, earlier.imageAUROC[product] != nil {
                    image[product] = earlier.imageAUROC[product]
                    pixel[product] = earlier.pixelAUROC[product]
                    continue
                }
                let folder = modelFolder(for: product).url
                if detectors[folder] == nil { detectors[folder] = try Detector(folder: ModelFolder(folder), backbone: backbone) }
                let result = try evaluate(product, with: detectors[folder]!)
                image[product] = result.imageAUROC.map { ($0 * 1000).rounded() / 10 }
                pixel[product] = result.pixelAUROC.map { ($0 * 1000).rounded() / 10 }
                log("  \(product): image AUROC \(image[product].map { String($0) } ?? "-"), pixel AUROC \(pixel[product].map { String($0) } ?? "-")")
            }
            state.increments.append(Increment(trained: products, imageAUROC: image, pixelAUROC: pixel,
                                              trainingSeconds: trained.seconds, basisSeconds: trained.basisSeconds,
                                              evaluationSeconds: Date().timeIntervalSince(evaluationStart),
                                              basisOccupancy: trained.occupancy))
            try save(state)
        }
        return state
    }

    func save(_ state: State) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(state) + Data("\n".utf8), to: stateURL)
    }

    /// The model folder that holds `product` after its increment.
    func modelFolder(for product: String) -> ModelFolder {
        ModelFolder(plan.mode == .isolated ? out.appendingPathComponent("models/\(product)") : out.appendingPathComponent("model"))
    }

    func trainingFolder(_ product: String) -> String { data.appendingPathComponent("\(product)/train/good").path }

    /// Trains one increment unless the model already holds it (a run stopped between training and
    /// evaluation), and reports what its manifest recorded.
    func train(_ products: [String], index: Int, profile: TrainingProfile)
        throws -> (seconds: Double, basisSeconds: Double?, occupancy: [String: Double]?) {
        let folder = modelFolder(for: products[0])
        let done = try folder.exists && folder.readManifest().products.keys.contains(products[0])
        if !done {
            let trainer = Trainer(folder: folder, backbone: backbone, backboneRecord: backboneRecord, log: log)
            trainer.onStep = onStep
            var options = Trainer.IncrementOptions(projection: plan.mode == .projected, basisMethod: plan.basis,
                                                   refitKnownProducts: !plan.keepLevels)
            if plan.mode == .replay {
                options.replay = try plan.sequence.prefix(index).map { try replayBuffer(for: $0) }
            }
            try trainer.train(products: products.map { Trainer.ProductSource(name: $0, folder: trainingFolder($0)) },
                              profile: profile, steps: plan.stepsPerProduct * products.count, options: options)
        } else {
            log("\(products.joined(separator: ", ")): already trained, evaluating")
        }
        let manifest = try folder.readManifest()
        let run = manifest.training.runs.last { Set($0.products) == Set(products) }
        let occupancy = manifest.continual.map { record in
            record.layers.mapValues { Double($0.rank) / Double($0.dimension) }
        }
        return (run?.seconds ?? 0, run?.basisSeconds, occupancy)
    }

    /// A few of `product`'s training images, spread over its training split, copied once into the
    /// run's folder: all that the replay baseline keeps of an earlier product.
    func replayBuffer(for product: String) throws -> Trainer.ProductSource {
        let folder = out.appendingPathComponent("replay/\(product)")
        if !FileManager.default.fileExists(atPath: folder.path) {
            let split = try ProductImages(product: product, folder: trainingFolder(product))
            let staging = out.appendingPathComponent("replay/.\(product).partial")
            try? FileManager.default.removeItem(at: staging)
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
            let count = min(plan.replayImages, split.training.count)
            for i in 0..<count {
                let source = URL(fileURLWithPath: split.training[i * split.training.count / count])
                try FileManager.default.copyItem(at: source, to: staging.appendingPathComponent(source.lastPathComponent))
            }
            try FileManager.default.moveItem(at: staging, to: folder)
        }
        return Trainer.ProductSource(name: product, folder: folder.path)
    }

    func evaluate(_ product: String, with detector: Detector) throws -> Evaluator.Result {
        let set = try EvaluationSet(root: data.appendingPathComponent(product).path)
        let source = detector.manifest.scoring.source
        return try Evaluator(detector: detector).evaluate(set: set, product: product, sources: [source])[source]!
    }
}

/// The figures a finished (or partial) run is judged by, from its state.
public struct ContinualSummary: Sendable {
    public let state: ContinualRun.State

    public init(_ state: ContinualRun.State) { self.state = state }

    /// R[i][j]: after increment i, product j of the sequence (nil before j was learnt, or without masks).
    public func matrix(_ metric: KeyPath<ContinualRun.Increment, [String: Double]>) -> [[Double?]] {
        state.increments.map { increment in state.plan.sequence.map { increment[keyPath: metric][$0] } }
    }

    /// The last row's mean over the products that have the metric.
    public func finalMean(_ metric: KeyPath<ContinualRun.Increment, [String: Double]>) -> Double? {
        guard let last = matrix(metric).last else { return nil }
        let values = last.compactMap { $0 }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// FM: the mean, over the products learnt before the last increment, of the best figure an
    /// earlier row gave them minus the final one. Nil with a single row (nothing earlier to forget).
    public func forgetting(_ metric: KeyPath<ContinualRun.Increment, [String: Double]>) -> Double? {
        let r = matrix(metric)
        guard r.count >= 2 else { return nil }
        let drops = state.plan.sequence.indices.compactMap { j -> Double? in
            let earlier = r.dropLast().compactMap { $0[j] }
            guard let best = earlier.max(), let final = r.last![j] else { return nil }
            return best - final
        }
        return drops.isEmpty ? nil : drops.reduce(0, +) / Double(drops.count)
    }

    /// Backward transfer: the mean over earlier products of final − right after its own increment.
    public func backwardTransfer(_ metric: KeyPath<ContinualRun.Increment, [String: Double]>) -> Double? {
        let r = matrix(metric)
        guard r.count >= 2 else { return nil }
        let changes = state.plan.sequence.indices.dropLast().compactMap { j -> Double? in
            guard j < r.count - 1, let own = r[j][j], let final = r.last![j] else { return nil }
            return final - own
        }
        return changes.isEmpty ? nil : changes.reduce(0, +) / Double(changes.count)
    }

    /// Each product's figure right after its own increment (the diagonal; the only row for joint).
    public func justAfter(_ metric: KeyPath<ContinualRun.Increment, [String: Double]>) -> [String: Double] {
        var out: [String: Double] = [:]
        for (j, product) in state.plan.sequence.enumerated() {
            let row = state.plan.mode == .joint ? state.increments.first : (j < state.increments.count ? state.increments[j] : nil)
            if let value = row?[keyPath: metric][product] { out[product] = value }
        }
        return out
    }

    /// Per layer, the share of d its basis occupied after each increment (projected mode).
    public var basisOccupancy: [String: [Double]] {
        var out: [String: [Double]] = [:]
        for increment in state.increments {
            for (layer, share) in increment.basisOccupancy ?? [:] { out[layer, default: []].append((share * 1000).rounded() / 10) }
        }
        return out
    }
}
