import Foundation
import InspectdConfig
import InspectdDetector
import InspectdFiles
import InspectdImage
import InspectdSystemd
import InspectdWatch
import Logging

/// Turns found frames into exactly one verdict each: checks the index, hashes, decodes, scores,
/// delivers the spool files, alerts, records the frame and applies the camera's `after` rule.
/// Frames handed over together are read and decoded one by one and scored in one call; each is
/// then delivered as if it had been alone. Synchronous and single-threaded on purpose: the daemon
/// runs it on its scoring thread.
struct FrameProcessor: Sendable {
    let configuration: Configuration
    let scorer: FrameScorer?
    let spool: Spool
    let quarantine: Quarantine
    let index: FrameIndex
    let metrics: DaemonMetrics
    let logger: Logger
    /// How long a frame must have been left alone before an undecodable one counts as corrupt.
    var settle: Duration = .seconds(2)

    enum Outcome: Equatable {
        /// Already processed (same path and content), or gone before its turn.
        case skipped
        /// No model yet: the frame stays untouched and is found again after the model loads.
        case waitingForModel
        /// Undecodable but written moments ago: a writer that closes and reopens a file (or
        /// creates it empty first) may still be at work. Offer it again after `settle`.
        case retry
        /// Scored, but its verdict could not be written (a full disk, a read-only or removed
        /// spool): not recorded, so it must be offered again once the spool takes files.
        case spoolUnwritable(reason: String)
        case decided(Verdict.Outcome)
    }

    /// A frame read and hashed, on its way to its verdict.
    struct Pending {
        let arrival: FrameArrival
        let camera: Camera
        let stamp: FileStamp
        let sha256: String
        let basename: String
        var verdict: Verdict
        /// Where an undecodable frame goes once its verdict is in the spool.
        var quarantineTarget: RawPath?
        /// Decoded, of a product named: what the scorer is asked. Nil for a frame already decided
        /// (an ERROR verdict).
        var request: FrameRequest?
    }

    enum Admission {
        case done(Outcome)
        case pending(Pending)
    }

    /// One outcome per arrival, in their order.
    func process(_ arrivals: [FrameArrival]) -> [Outcome] {
        var outcomes = [Outcome](repeating: .skipped, count: arrivals.count)
        var toScore: [(index: Int, frame: Pending, request: FrameRequest)] = []
        for (i, arrival) in arrivals.enumerated() {
            switch admit(arrival) {
            case .done(let outcome): outcomes[i] = outcome
            case .pending(let frame):
                if let request = frame.request {
                    toScore.append((i, frame, request))
                } else {
                    // Decided already (undecodable, or no product): its verdict need not wait for the others'.
                    outcomes[i] = deliver(frame, pictures: [])
                }
            }
        }
        guard let scorer, !toScore.isEmpty else { return outcomes }
        let results = score(toScore.map(\.request), with: scorer)
        for ((i, frame, request), result) in zip(toScore, results) {
            outcomes[i] = finish(frame, request: request, result)
        }
        return outcomes
    }

    /// Reads, hashes and decodes a frame; `.done` for one that gets no verdict now.
    func admit(_ arrival: FrameArrival) -> Admission {
        let path = arrival.path
        guard let camera = configuration.cameras.first(where: { $0.name == arrival.camera }) else { return .done(.skipped) }
        guard let stamp = FileStamp(path: path) else { return .done(.skipped) }  // gone before its turn
        // A rescan offers every file again; unchanged ones are known by size and mtime, unhashed.
        if index.knownHash(path: path, stamp: stamp) != nil { return .done(.skipped) }

        let decodeStart = ContinuousClock.now
        let bytes: [UInt8]
        do {
            bytes = try RawFile.read(path)
        } catch {
            // Unreadable now (permissions, a share that went away): leave it for the next scan.
            logger.error("cannot read frame \(path): \(error)", metadata: [
                "MESSAGE_ID": "\(JournalMessageID.frameError.id)", JournalField.file: "\(path)", JournalField.camera: "\(camera.name)"])
            return .done(.skipped)
        }
        let sha256 = SHA256.hex(bytes)
        // Rewritten while being read: its close event brings it again, whole.
        guard FileStamp(path: path) == stamp else { return .done(.skipped) }
        if index.contains(path: path, sha256: sha256) { return .done(.skipped) }
        let basename = Spool.basename(camera: camera.name, frame: path, sha256: sha256)
        // Killed between writing the verdict and recording the frame: the verdict is the record,
        // and what was to follow it (quarantine, the `after` rule) is done now.
        if let delivered = spool.deliveredVerdict(basename) {
            logger.info("\(path) already has its verdict \(basename).json in the spool (from before a restart): not scored again")
            finishDelivered(arrival, camera: camera, verdict: delivered)
            record(path, sha256: sha256, stamp: stamp)
            return .done(.skipped)
        }

        var frame = Pending(
            arrival: arrival, camera: camera, stamp: stamp, sha256: sha256,
            basename: basename,
            verdict: Verdict(frame: path.description, frameBase64: path.string == nil ? Data(path.bytes).base64EncodedString() : nil,
                             sha256: sha256, camera: camera.name, product: nil, model: scorer?.version,
                             precision: scorer?.precision.rawValue, rawScore: nil, normalisedScore: nil, threshold: nil, normalisedThreshold: nil,
                             verdict: .error, error: nil, quarantinedTo: nil, outputs: [:],
                             frameModified: Verdict.timestamp(stamp.mtime), decidedAt: "",
                             timings: .init(totalMs: 0, queueMs: milliseconds(arrival.seenAt, decodeStart),
                                            decodeMs: 0, scoreMs: 0, picturesMs: 0, batchFrames: 0)))
        switch productName(for: arrival, camera: camera) {
        case .failure(let reason):
            frame.verdict.error = reason.description
        case .success(let product):
            frame.verdict.product = product
            let image: Image
            do {
                image = try Image(decoding: bytes, name: path.description)
            } catch {
                if Date().timeIntervalSince(stamp.mtime) < settle.inSeconds { return .done(.retry) }
                frame.verdict.error = "\(error)"
                do {
                    // Moved after its verdict is in the spool: a kill in between leaves the frame
                    // where it was, and the next start finds the verdict and moves it then.
                    let target = try quarantine.place(for: path, camera: camera.name)
                    frame.verdict.quarantinedTo = target.description
                    frame.quarantineTarget = target
                } catch {
                    frame.verdict.error! += "; and it could not be quarantined: \(error)"
                }
                break
            }
            frame.verdict.timings.decodeMs = milliseconds(decodeStart, .now)
            guard scorer != nil else { return .done(.waitingForModel) }
            frame.request = FrameRequest(frame: image, product: product,
                                         normalisedThreshold: Float(configuration.settings(forProduct: product).threshold))
        }
        return .pending(frame)
    }

    /// A frame's score or error, with the time of the call that scored it and how many frames
    /// that call scored.
    struct Scored {
        let score: Result<FrameScore, any Error>
        let ms: Double
        let together: Int
    }

    /// One `Scored` per request. Several frames go in one call; if that call fails, each frame is
    /// scored alone, so that one frame the batch cannot take does not cost the others their scores.
    func score(_ requests: [FrameRequest], with scorer: FrameScorer) -> [Scored] {
        metrics.recordBatch(frames: requests.count)
        func alone(_ request: FrameRequest) -> Scored {
            let start = ContinuousClock.now
            let score = Result { try scorer.score(request.frame, product: request.product, normalisedThreshold: request.normalisedThreshold) }
            return Scored(score: score, ms: milliseconds(start, .now), together: 1)
        }
        guard requests.count > 1 else { return requests.map(alone) }
        let start = ContinuousClock.now
        do {
            let scores = try scorer.score(requests)
            guard scores.count == requests.count else {
                throw BatchMismatch(description: "the scorer gave \(scores.count) scores for \(requests.count) frames")
            }
            let ms = milliseconds(start, .now)
            return scores.map { Scored(score: .success($0), ms: ms, together: requests.count) }
        } catch {
            metrics.recordBatchFallback()
            logger.warning("scoring \(requests.count) frames together failed, so each is scored alone: \(error)")
            return requests.map(alone)
        }
    }

    struct BatchMismatch: Error, CustomStringConvertible { let description: String }

    /// Fills in a scored frame's verdict and pictures and delivers it.
    func finish(_ frame: Pending, request: FrameRequest, _ scored: Scored) -> Outcome {
        var verdict = frame.verdict
        var pictures: [(name: String, bytes: [UInt8])] = []
        verdict.timings.scoreMs = scored.ms
        verdict.timings.batchFrames = scored.together
        do {
            let score = try scored.score.get()
            verdict.rawScore = Double(score.raw)
            verdict.normalisedScore = Double(score.normalised)
            verdict.threshold = Double(score.threshold)
            verdict.normalisedThreshold = Double(request.normalisedThreshold)
            verdict.verdict = score.isAnomalous ? .ng : .ok
            if score.confirmedInFloat32 {
                verdict.confirmedInFp32 = true
                metrics.recordConfirmation()
            }
            if configuration.daemon.heatmaps {
                let picturesStart = ContinuousClock.now
                for (kind, picture) in score.pictures() {
                    let name = Spool.pictureName(frame.basename, kind: kind)
                    pictures.append((name, try Heatmap.png(picture)))
                    verdict.outputs[kind] = name
                }
                verdict.timings.picturesMs = milliseconds(picturesStart, .now)
            }
        } catch {
            verdict.verdict = .error
            verdict.error = "\(error)"
        }
        var done = frame
        done.verdict = verdict
        return deliver(done, pictures: pictures)
    }

    /// Writes the verdict and its pictures into the spool, records the frame, alerts, counts it,
    /// and applies the camera's `after` rule.
    func deliver(_ frame: Pending, pictures: [(name: String, bytes: [UInt8])]) -> Outcome {
        let path = frame.arrival.path
        var verdict = frame.verdict
        verdict.decidedAt = Verdict.timestamp(Date())
        verdict.timings.totalMs = milliseconds(frame.arrival.seenAt, .now)
        do {
            let encoded = try verdict.encoded()
            do {
                try spool.deliver(basename: frame.basename, pictures: pictures, verdict: encoded)
            } catch {
                // The spool is made once; if someone removed its folders since, make them again.
                try Spool(root: spool.root).deliver(basename: frame.basename, pictures: pictures, verdict: encoded)
            }
        } catch {
            // Not recorded: the daemon holds the frame and offers it again once the spool is writable.
            logger.error("cannot write the verdict of \(path) to the spool: \(error)", metadata: [JournalField.file: "\(path)"])
            return .spoolUnwritable(reason: "\(error)")
        }
        if let target = frame.quarantineTarget {
            moveToQuarantine(path, target: target)
        } else if verdict.verdict != .error {
            applyAfterRule(frame.camera, frame.arrival)
        }
        record(path, sha256: frame.sha256, stamp: frame.stamp)
        announce(verdict, basename: frame.basename)
        metrics.recordFrame(product: verdict.product, verdict: verdict.verdict, latency: verdict.timings.totalMs / 1000)
        return .decided(verdict.verdict)
    }

    func record(_ path: RawPath, sha256: String, stamp: FileStamp) {
        do {
            try index.record(path: path, sha256: sha256, stamp: stamp)
        } catch {
            logger.error("cannot record \(path) in the frame index (it may be scored again after a restart): \(error)")
        }
    }

    func moveToQuarantine(_ path: RawPath, target: RawPath) {
        do {
            try RawFile.move(path, to: target)
            metrics.recordQuarantine()
        } catch {
            logger.error("frame \(path) could not be moved to the quarantine (its ERROR verdict is in the spool): \(error)")
        }
    }

    /// Completes a delivery that a kill cut short: the quarantine move or the `after` rule.
    func finishDelivered(_ arrival: FrameArrival, camera: Camera, verdict: Verdict) {
        if verdict.quarantinedTo != nil {
            do {
                moveToQuarantine(arrival.path, target: try quarantine.place(for: arrival.path, camera: camera.name))
            } catch {
                logger.error("frame \(arrival.path) could not be moved to the quarantine: \(error)")
            }
        } else if verdict.verdict != .error {
            applyAfterRule(camera, arrival)
        }
    }

    /// The product a frame shows: the camera's, or the first folder below the camera folder.
    func productName(for arrival: FrameArrival, camera: Camera) -> Result<String, ProductError> {
        switch camera.product {
        case .fixed(let name): return .success(name)
        case .subfolder:
            guard let sub = arrival.subfolder, !sub.isEmpty else {
                return .failure(ProductError(description: "camera \(camera.name) takes the product from the subfolder, "
                    + "but this frame lies directly in \(camera.folder)"))
            }
            return .success(sub)
        }
    }

    struct ProductError: Error, CustomStringConvertible { let description: String }

    func announce(_ verdict: Verdict, basename: String) {
        var fields: Logger.Metadata = [
            JournalField.verdict: "\(verdict.verdict.rawValue)", JournalField.file: "\(verdict.frame)",
            JournalField.camera: "\(verdict.camera)", JournalField.product: "\(verdict.product ?? "")",
            JournalField.model: "\(verdict.model ?? "")",
        ]
        if let score = verdict.normalisedScore { fields[JournalField.score] = "\(score)" }
        // The overlay shows the defect on the frame, which is what a person opening it wants.
        if let heatmap = verdict.outputs["overlay"] ?? verdict.outputs["heatmap"] { fields[JournalField.heatmap] = "\(spool.incoming.appendingPathComponent(heatmap).path)" }
        switch verdict.verdict {
        case .ng:
            fields["MESSAGE_ID"] = "\(JournalMessageID.ngVerdict.id)"
            logger.warning("NG: \(verdict.product ?? "?") frame \(verdict.frame) scored \(verdict.normalisedScore ?? 0) (threshold \(verdict.normalisedThreshold ?? 0.5))",
                           metadata: fields)
        case .error:
            fields["MESSAGE_ID"] = "\(JournalMessageID.frameError.id)"
            fields[JournalField.reason] = "\(verdict.error ?? "")"
            let moved = verdict.quarantinedTo.map { "; moved to \($0)" } ?? ""
            logger.error("frame \(verdict.frame) could not be scored: \(verdict.error ?? "")\(moved)", metadata: fields)
        case .ok:
            logger.debug("OK: \(verdict.frame) scored \(verdict.normalisedScore ?? 0)", metadata: fields)
        }
    }

    /// Leave, archive or delete the source frame once its verdict is safely in the spool.
    func applyAfterRule(_ camera: Camera, _ arrival: FrameArrival) {
        do {
            switch camera.after {
            case .leave: return
            case .delete: try RawFile.remove(arrival.path)
            case .archive(let directory):
                let folder = RawPath(URL(fileURLWithPath: camera.folder).standardizedFileURL)
                let relative = arrival.path.relative(to: folder) ?? arrival.path.lastComponent
                let target = RawPath(URL(fileURLWithPath: directory)).appending(relative)
                try RawFile.createFolders(target.parent)
                try RawFile.remove(target)
                try RawFile.move(arrival.path, to: target)
            }
        } catch {
            logger.error("frame \(arrival.path) was scored but could not be \(camera.after == .delete ? "deleted" : "archived"): \(error)")
        }
    }
}

func milliseconds(_ from: ContinuousClock.Instant, _ to: ContinuousClock.Instant) -> Double {
    (to - from).inMilliseconds.rounded(toPlaces: 2)
}

extension Double {
    func rounded(toPlaces digits: Int) -> Double {
        let scale = pow(10, Double(digits))
        return (self * scale).rounded() / scale
    }
}
