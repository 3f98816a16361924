import Foundation

/// One line of training progress on stderr, rewritten in place on a terminal and printed every
/// few seconds otherwise (so that journald and CI logs stay readable).
struct ProgressLine {
    private let totalSteps: Int
    private let started = Date()
    private let startStep: Int
    private var lastPrinted = Date.distantPast
    private let interactive = isatty(STDERR_FILENO) != 0
    private let interval: TimeInterval

    init(totalSteps: Int, startStep: Int = 0, interval: TimeInterval = 10) {
        self.totalSteps = totalSteps
        self.startStep = startStep
        self.interval = interval
    }

    /// The text for a step; `loss` and `extra` are shown as given.
    func text(step: Int, loss: Float, extra: String = "") -> String {
        let elapsed = Date().timeIntervalSince(started)
        let done = step - startStep
        var parts = ["step \(step)/\(totalSteps)", String(format: "loss %.4f", loss)]
        if done > 0 && elapsed > 0 {
            let rate = Double(done) / elapsed
            parts += [String(format: "%.2f steps/s", rate), "ETA \(Self.duration(Double(totalSteps - step) / rate))"]
        }
        if !extra.isEmpty { parts.append(extra) }
        return parts.joined(separator: "  ")
    }

    mutating func report(step: Int, loss: Float, extra: String = "", force: Bool = false) {
        let now = Date()
        guard force || interactive || now.timeIntervalSince(lastPrinted) >= interval else { return }
        lastPrinted = now
        let line = text(step: step, loss: loss, extra: extra)
        let output = interactive ? "\r\u{1B}[2K" + line + (force ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(output.utf8))
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
                         : String(format: "%dm%02ds", s / 60, s % 60)
    }
}
