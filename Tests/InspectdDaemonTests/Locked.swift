import Foundation

/// A value shared between a test and the threads or handlers it starts.
final class Locked<Value>: @unchecked Sendable {
    // Sendable by its lock: `value` is only touched inside it.
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    var current: Value { lock.withLock { value } }

    func update<Result>(_ body: (inout Value) -> Result) -> Result { lock.withLock { body(&value) } }
}
