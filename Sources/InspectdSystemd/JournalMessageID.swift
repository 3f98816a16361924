import Logging

/// The journal's MESSAGE_ID of each event inspectd reports, so operators and alerting can select an
/// event kind with `journalctl MESSAGE_ID=...` whatever the wording of the message, and
/// `journalctl -x` shows the explanation in `systemd/inspectd.catalog`.
///
/// The ids were generated at random once and must never change: they are the contract with the
/// catalog and with whatever filters the journal. The raw value is the id (32 lower-case hex digits),
/// the case name the event.
public enum JournalMessageID: String, CaseIterable, Sendable {
    /// A frame was scored NG (defective).
    case ngVerdict = "0396e6f8dd8f4bf0931c194f1eb614c7"
    /// A frame could not be decoded and was quarantined.
    case frameError = "9898e72b67884fcd9324ceb008b63c2a"
    /// The inotify queue overflowed; the camera folders were rescanned in full.
    case rescan = "6bfb2480118e459585ee319f1f00bb29"
    /// A model folder was loaded and is scoring.
    case modelLoaded = "8ea7a3fc7bec4aeea346134365d04a7f"
    /// The configuration was reloaded (SIGHUP).
    case configurationReloaded = "edbbcc130f8f44f28da5d0fead2d2645"
    /// The daemon started and is ready.
    case daemonStarted = "63c9c8a49df24ba594a5f06d2ec13d60"
    /// The daemon is shutting down.
    case daemonStopping = "c657e985db2546a69f54b75de7d76324"
    /// A new product's images were queued for training.
    case productQueued = "3947208097bc41acaa07d5bc32fad272"
    /// A new product's folder was rejected; REJECTED.txt in it gives every reason.
    case productRejected = "bc8b9e321989489dbac0750226ed5eb0"
    /// Training of an increment began.
    case trainingStarted = "040f86430a5246d381bdd3c42adbbc5a"
    /// Training of an increment finished and produced a candidate model.
    case trainingFinished = "4fb930850ef4478ab578a7229597ecb9"
    /// A trained increment was rejected because it regressed products learnt before.
    case trainingRejected = "2ef6bc2fff29476db3a9d2c81cb78ed8"
    /// The scoring model was replaced by a newly trained one.
    case modelSwapped = "b02a36d2bcd6487ba3ea731b96ebc1f5"
    /// The spool could not be written (full, read-only, gone): the daemon stopped taking frames.
    case spoolBlocked = "e67564ce599247a39157543737816519"
    /// The spool is writable again and the frames that waited are being scored.
    case spoolResumed = "3c7860555aed4756956d787b7b4d3a36"

    /// The id as the journal stores it.
    public var id: String { rawValue }

    /// The event's name, as in the catalog's comments and the tests.
    public var name: String { String(describing: self) }

    /// Metadata that tags a log record with this id, e.g.
    /// `logger.warning("NG", metadata: JournalMessageID.ngVerdict.metadata.merging(...))`.
    public var metadata: Logger.Metadata { [JournalField.messageID: .string(rawValue)] }
}

/// Names of the journal fields inspectd attaches to its records (as metadata keys; the journal
/// handler passes these through unchanged).
public enum JournalField {
    /// journald's own field that identifies the event kind; see ``JournalMessageID``.
    public static let messageID = "MESSAGE_ID"
    /// OK, NG or ERROR.
    public static let verdict = "INSPECT_VERDICT"
    /// The frame's normalised anomaly score (0 to 1; the product's threshold is 0.5).
    public static let score = "INSPECT_SCORE"
    /// The product the frame was scored as.
    public static let product = "INSPECT_PRODUCT"
    /// The camera (watched folder) the frame came from.
    public static let camera = "INSPECT_CAMERA"
    /// The frame's path.
    public static let file = "INSPECT_FILE"
    /// The path of the frame's heatmap.
    public static let heatmap = "INSPECT_HEATMAP"
    /// The model folder (or its version) that scored the frame.
    public static let model = "INSPECT_MODEL"
    /// Why something failed, for errors.
    public static let reason = "INSPECT_REASON"
}
