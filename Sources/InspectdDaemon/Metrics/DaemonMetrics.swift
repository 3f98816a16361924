import Foundation
import InspectdFiles
import InspectdProducts
import Synchronization

/// The daemon's counters, rendered as a Prometheus text file (node_exporter's textfile
/// collector reads it). Updated by the scoring loop, written atomically on the status tick.
public final class DaemonMetrics: Sendable {
    /// Upper bounds, seconds, of the latency histogram (file closed → verdict in the spool).
    public static let latencyBuckets: [Double] = [0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10, 30, 60]
    /// Upper bounds of the batch histogram (frames scored in one call); `batch_max` is at most 64.
    public static let batchBuckets = [1, 2, 4, 8, 16, 32, 64]

    struct State {
        var frames: [FrameKey: Int] = [:]
        var latencyCounts = [Int](repeating: 0, count: DaemonMetrics.latencyBuckets.count)
        var latencySum = 0.0
        var latencyCount = 0
        var batchCounts = [Int](repeating: 0, count: DaemonMetrics.batchBuckets.count)
        var batchFrames = 0
        var batches = 0
        var batchFallbacks = 0
        var confirmations = 0
        var rescans = 0
        var quarantined = 0
        var queueDepth = 0
        var queueCapacity = 0
        var trainingState = "idle"
        var productsWaiting = 0
        var trainingProgress = 0.0
        var lastIncrementSeconds: Double?
        var model: String?
        var precision = "fp32"
        var spoolBytes: Int64 = 0
        var spoolWritable = true
        var spoolBlockedPauses = 0
        var retentionRemoved = 0
        var recentDecisions: [Double] = []
    }

    struct FrameKey: Hashable {
        let product: String
        let verdict: String
    }

    private let state = Mutex(State())
    private let started = Date()

    public init() {}

    public func recordFrame(product: String?, verdict: Verdict.Outcome, latency: TimeInterval) {
        let now = Date().timeIntervalSince1970
        state.withLock { s in
            s.frames[FrameKey(product: product ?? "", verdict: verdict.rawValue), default: 0] += 1
            for (i, bound) in Self.latencyBuckets.enumerated() where latency <= bound { s.latencyCounts[i] += 1 }
            s.latencySum += latency
            s.latencyCount += 1
            s.recentDecisions.append(now)
            s.recentDecisions.removeAll { now - $0 > 60 }
        }
    }

    /// A scoring call given `frames` frames at once.
    public func recordBatch(frames: Int) {
        state.withLock { s in
            for (i, bound) in Self.batchBuckets.enumerated() where frames <= bound { s.batchCounts[i] += 1 }
            s.batchFrames += frames
            s.batches += 1
        }
    }

    public func recordBatchFallback() { state.withLock { $0.batchFallbacks += 1 } }
    public func recordConfirmation() { state.withLock { $0.confirmations += 1 } }
    public func recordRescan() { state.withLock { $0.rescans += 1 } }
    public func recordQuarantine() { state.withLock { $0.quarantined += 1 } }
    public func setSpoolWritable(_ writable: Bool) {
        state.withLock { s in
            if s.spoolWritable && !writable { s.spoolBlockedPauses += 1 }
            s.spoolWritable = writable
        }
    }
    public func setQueue(depth: Int, capacity: Int) { state.withLock { ($0.queueDepth, $0.queueCapacity) = (depth, capacity) } }
    public func setModel(_ version: String?, precision: String = "fp32") {
        state.withLock {
            $0.model = version
            $0.precision = precision
        }
    }
    /// The trainer's last status and the products waiting for it: "waiting" when some are and it
    /// is not running (outside the window).
    public func setTraining(_ status: TrainingStatus, waiting: Int) {
        state.withLock { s in
            s.trainingState = status.phase == .idle ? (waiting > 0 ? "waiting" : "idle") : status.phase.rawValue
            s.productsWaiting = waiting
            s.trainingProgress = status.phase == .training ? Double(status.step ?? 0) / Double(max(1, status.steps ?? 1)) : 0
            s.lastIncrementSeconds = status.lastSeconds
        }
    }
    public func recordRetention(_ report: Retention.Report) {
        state.withLock { s in
            s.spoolBytes = report.keptBytes
            s.retentionRemoved += report.removedFiles
        }
    }

    /// Frames decided per second over the last minute (for STATUS=).
    public var framesPerSecond: Double {
        let now = Date().timeIntervalSince1970
        return state.withLock { s in Double(s.recentDecisions.filter { now - $0 <= 60 }.count) / 60 }
    }

    public var totalFrames: Int { state.withLock { $0.frames.values.reduce(0, +) } }

    /// The Prometheus text exposition of everything above.
    public func render() -> String {
        let s = state.withLock { $0 }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP inspectd_\(name) \(help)\n# TYPE inspectd_\(name) \(type)\n"
        }
        family("frames_total", "counter", "Frames given a verdict, by product and verdict.")
        for (key, count) in s.frames.sorted(by: { ($0.key.product, $0.key.verdict) < ($1.key.product, $1.key.verdict) }) {
            out += "inspectd_frames_total{product=\"\(Self.escape(key.product))\",verdict=\"\(key.verdict)\"} \(count)\n"
        }
        // Cumulative buckets: each bound counts the observations at or below it.
        func histogram(_ name: String, _ help: String, bounds: [String], counts: [Int], sum: String, count: Int) {
            family(name, "histogram", help)
            for (bound, n) in zip(bounds, counts) { out += "inspectd_\(name)_bucket{le=\"\(bound)\"} \(n)\n" }
            out += "inspectd_\(name)_bucket{le=\"+Inf\"} \(count)\ninspectd_\(name)_sum \(sum)\ninspectd_\(name)_count \(count)\n"
        }
        histogram("frame_latency_seconds", "Seconds from a finished frame file to its verdict in the spool.",
                  bounds: Self.latencyBuckets.map { "\($0)" }, counts: s.latencyCounts, sum: "\(s.latencySum)", count: s.latencyCount)
        histogram("scoring_batch_frames", "Frames scored together in one call: those waiting when scoring became free, up to batch_max.",
                  bounds: Self.batchBuckets.map { "\($0)" }, counts: s.batchCounts, sum: "\(s.batchFrames)", count: s.batches)
        family("scoring_batch_fallbacks_total", "counter", "Batches whose joint scoring failed, so that each of their frames was scored alone.")
        out += "inspectd_scoring_batch_fallbacks_total \(s.batchFallbacks)\n"
        family("confirmed_in_fp32_total", "counter", "Frames whose int8 score fell within the confirmation band of their threshold, so that fp32 scored them again and decided them.")
        out += "inspectd_confirmed_in_fp32_total \(s.confirmations)\n"
        family("queue_depth", "gauge", "Frames found and waiting to be scored.")
        out += "inspectd_queue_depth \(s.queueDepth)\n"
        family("queue_capacity", "gauge", "Capacity of the frame queue.")
        out += "inspectd_queue_capacity \(s.queueCapacity)\n"
        family("rescans_total", "counter", "Full rescans of the camera folders after an inotify overflow or a reload.")
        out += "inspectd_rescans_total \(s.rescans)\n"
        family("quarantined_total", "counter", "Frames moved to the quarantine because they could not be read.")
        out += "inspectd_quarantined_total \(s.quarantined)\n"
        family("training_state", "gauge", "1 for the state the product-learning scheduler is in.")
        for name in ["idle", "waiting", "training", "validating"] {
            out += "inspectd_training_state{state=\"\(name)\"} \(name == s.trainingState ? 1 : 0)\n"
        }
        family("products_waiting", "gauge", "Products queued for training and not yet learnt or refused.")
        out += "inspectd_products_waiting \(s.productsWaiting)\n"
        family("training_progress_ratio", "gauge", "Share of the running increment's training steps done (0 when none runs).")
        out += "inspectd_training_progress_ratio \(s.trainingProgress)\n"
        if let seconds = s.lastIncrementSeconds {
            family("last_increment_seconds", "gauge", "Duration of the last finished increment: training, bases, calibration and the regression guard.")
            out += "inspectd_last_increment_seconds \(seconds)\n"
        }
        family("model_info", "gauge", "The model in use (version = first 12 hex digits of its weights' SHA-256) and what it scores in (precision = fp32 or int8).")
        if let model = s.model { out += "inspectd_model_info{version=\"\(Self.escape(model))\",precision=\"\(s.precision)\"} 1\n" }
        family("spool_bytes", "gauge", "Bytes kept in the spool and quarantine after the last retention pass.")
        out += "inspectd_spool_bytes \(s.spoolBytes)\n"
        family("spool_writable", "gauge", "1 while verdicts can be written into the spool; 0 while inspection is paused because they cannot (disk full, read-only).")
        out += "inspectd_spool_writable \(s.spoolWritable ? 1 : 0)\n"
        family("spool_blocked_total", "counter", "Times inspection was paused because the spool could not be written.")
        out += "inspectd_spool_blocked_total \(s.spoolBlockedPauses)\n"
        family("retention_removed_files_total", "counter", "Files removed by retention.")
        out += "inspectd_retention_removed_files_total \(s.retentionRemoved)\n"
        family("start_time_seconds", "gauge", "Unix time the daemon started.")
        out += "inspectd_start_time_seconds \(Int(started.timeIntervalSince1970))\n"
        return out
    }

    public func write(to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AtomicFile.write(Data(render().utf8), to: url)
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
