/// Durations as plain numbers, for JSON, metrics and Foundation APIs that take seconds.
/// (Lives with the other leaf utilities so that the watcher, the daemon and the CLI share it.)
extension Duration {
    public var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    public var inMilliseconds: Double { inSeconds * 1000 }
}
