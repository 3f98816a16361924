import Foundation
import InspectdConfig
import InspectdDetector
import XCTest
@testable import InspectdDaemon

final class MetricsTests: XCTestCase {
    func testCountersAndCumulativeHistogram() {
        let metrics = DaemonMetrics()
        metrics.recordFrame(product: "bottle", verdict: .ok, latency: 0.08)
        metrics.recordFrame(product: "bottle", verdict: .ok, latency: 0.4)
        metrics.recordFrame(product: "bottle", verdict: .ng, latency: 3)
        for frames in [1, 8, 3] { metrics.recordBatch(frames: frames) }
        metrics.recordBatchFallback()
        metrics.recordConfirmation()
        metrics.recordRescan()
        metrics.recordQuarantine()
        metrics.setQueue(depth: 4, capacity: 256)
        metrics.setModel("abc\"123", precision: "int8")
        let text = metrics.render()
        let lines = Set(text.split(separator: "\n").map(String.init))
        for expected in [
            "inspectd_frames_total{product=\"bottle\",verdict=\"OK\"} 2",
            "inspectd_frames_total{product=\"bottle\",verdict=\"NG\"} 1",
            "inspectd_frame_latency_seconds_bucket{le=\"0.05\"} 0",
            "inspectd_frame_latency_seconds_bucket{le=\"0.1\"} 1",
            "inspectd_frame_latency_seconds_bucket{le=\"0.5\"} 2",
            "inspectd_frame_latency_seconds_bucket{le=\"5.0\"} 3",
            "inspectd_frame_latency_seconds_bucket{le=\"+Inf\"} 3",
            "inspectd_frame_latency_seconds_count 3",
            "inspectd_scoring_batch_frames_bucket{le=\"1\"} 1",
            "inspectd_scoring_batch_frames_bucket{le=\"2\"} 1",
            "inspectd_scoring_batch_frames_bucket{le=\"4\"} 2",
            "inspectd_scoring_batch_frames_bucket{le=\"8\"} 3",
            "inspectd_scoring_batch_frames_bucket{le=\"+Inf\"} 3",
            "inspectd_scoring_batch_frames_sum 12",
            "inspectd_scoring_batch_frames_count 3",
            "inspectd_scoring_batch_fallbacks_total 1",
            "inspectd_confirmed_in_fp32_total 1",
            "inspectd_queue_depth 4",
            "inspectd_rescans_total 1",
            "inspectd_quarantined_total 1",
            "inspectd_training_state{state=\"idle\"} 1",
            "inspectd_model_info{version=\"abc\\\"123\",precision=\"int8\"} 1",
        ] {
            XCTAssertTrue(lines.contains(expected), "missing: \(expected)\n\(text)")
        }
        // Every sample belongs to a family declared with HELP and TYPE.
        let families = Set(lines.filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] })
        for line in lines where !line.hasPrefix("#") {
            let name = line.prefix { $0 != "{" && $0 != " " }
            let family = ["_bucket", "_sum", "_count"].reduce(String(name)) { n, s in
                families.contains(Substring(n)) ? n : (n.hasSuffix(s) ? String(n.dropLast(s.count)) : n)
            }
            XCTAssertTrue(families.contains(Substring(family)), "no TYPE for \(line)")
        }
    }
}

/// The configuration cannot see the detector, so its default confirmation band is written out
/// again there; this keeps the two equal.
final class ConfirmationDefaultTests: XCTestCase {
    func testTheConfigurationsDefaultBandIsTheDetectors() {
        XCTAssertEqual(Float(DaemonSettings().int8ConfirmBand), Inspector.defaultConfirmationBand)
    }
}
