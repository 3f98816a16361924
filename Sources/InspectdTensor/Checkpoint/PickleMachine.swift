/// A minimal, safe interpreter for Python pickles (protocols 2 to 5, binary opcodes only).
///
/// It rebuilds Python's plain data (numbers, strings, tuples, lists, dicts) by itself and never runs
/// code: every opcode that would name or call a Python object (GLOBAL, REDUCE, BUILD, BINPERSID) is
/// handed to a `PickleResolver`, which decides from an allow-list what such an object means.
/// Malformed input throws; nothing is read past the buffer, and memory stays proportional to it.
enum Pickle {
    /// Container nesting limit. State dicts nest two or three levels; the limit keeps the recursive
    /// release of a hostile, deeply nested value from exhausting the stack.
    static let maximumDepth = 100

    /// Runs one pickle from the reader's position through its STOP opcode and returns the result.
    static func load<Resolver: PickleResolver>(_ reader: inout ByteReader, resolver: inout Resolver) throws -> PickleValue {
        var machine = Machine()
        while true {
            let start = reader.position
            let byte = try reader.byte()
            do {
                guard let opcode = Opcode(rawValue: byte) else {
                    throw PickleRejection("unsupported opcode 0x\(String(byte, radix: 16))")
                }
                if let result = try machine.execute(opcode, reader: &reader, resolver: &resolver) {
                    return result
                }
            } catch let rejection as PickleRejection {
                throw reader.error("pickle at byte \(start): \(rejection.reason)")
            }
        }
    }
}

/// Why a pickle was refused; `Pickle.load` adds the file and byte position.
struct PickleRejection: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// What the pickle's code-naming opcodes mean. Every default refuses, so a resolver allows only
/// what it implements.
protocol PickleResolver {
    /// GLOBAL / STACK_GLOBAL: the value standing for `module.name`, or a rejection.
    func global(module: String, name: String) throws -> PickleValue
    /// REDUCE: `callable(*arguments)`.
    mutating func call(_ callable: PickleValue, arguments: [PickleValue]) throws -> PickleValue
    /// BINPERSID: the object an out-of-band id refers to.
    mutating func persistentLoad(_ id: PickleValue) throws -> PickleValue
    /// BUILD: `object` after `__setstate__(state)`.
    mutating func build(_ object: PickleValue, state: PickleValue) throws -> PickleValue
}

extension PickleResolver {
    func global(module: String, name: String) throws -> PickleValue {
        throw PickleRejection("global '\(module).\(name)' is not allowed here")
    }
    mutating func call(_ callable: PickleValue, arguments: [PickleValue]) throws -> PickleValue {
        throw PickleRejection("calls are not allowed here")
    }
    mutating func persistentLoad(_ id: PickleValue) throws -> PickleValue {
        throw PickleRejection("persistent ids are not allowed here")
    }
    mutating func build(_ object: PickleValue, state: PickleValue) throws -> PickleValue {
        throw PickleRejection("BUILD is not allowed here")
    }
}

/// A resolver for pickles of plain data only.
struct PlainDataResolver: PickleResolver {}

/// A value on the pickle stack.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer beyond 64 bits, as its minimal little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    case global(module: String, name: String)
    /// Something a resolver built; the machine only carries it around.
    case object(AnyObject)

    /// A short noun for error messages.
    var kind: String {
        switch self {
        case .none: "None"
        case .bool: "a bool"
        case .int, .bigInt: "an int"
        case .float: "a float"
        case .string: "a str"
        case .bytes: "bytes"
        case .tuple: "a tuple"
        case .list: "a list"
        case .dict: "a dict"
        case .global(let module, let name): "\(module).\(name)"
        case .object(let object): "a \(type(of: object))"
        }
    }

    var depth: Int {
        switch self {
        case .tuple(let tuple): tuple.depth
        case .list(let container as PickleContainer), .dict(let container as PickleContainer): container.depth
        default: 0
        }
    }

    fileprivate var container: PickleContainer? {
        switch self {
        case .list(let list): list
        case .dict(let dict): dict
        default: nil
        }
    }
}

struct PickleTuple {
    let items: [PickleValue]
    let depth: Int

    init(_ items: [PickleValue]) throws {
        var depth = 0
        for item in items {
            item.container?.isNested = true
            depth = max(depth, item.depth)
        }
        guard depth < Pickle.maximumDepth else {
            throw PickleRejection("containers nested deeper than \(Pickle.maximumDepth) levels")
        }
        self.items = items
        self.depth = depth + 1
    }
}

/// Lists and dicts are shared through the memo and filled after creation, as in Python, so they are
/// reference types. Once one is stored inside another container it is frozen: that forbids reference
/// cycles and keeps each container's recorded depth exact. Pickles written by Python always finish
/// filling a container before using it.
class PickleContainer {
    fileprivate(set) var depth = 1
    fileprivate(set) var isNested = false

    fileprivate func admit(_ children: [PickleValue]) throws {
        guard !isNested else {
            throw PickleRejection("a list or dict is modified after being stored in another container")
        }
        for child in children {
            guard child.container !== self else { throw PickleRejection("a container cannot contain itself") }
            child.container?.isNested = true
            depth = max(depth, child.depth + 1)
        }
        guard depth <= Pickle.maximumDepth else {
            throw PickleRejection("containers nested deeper than \(Pickle.maximumDepth) levels")
        }
    }
}

final class PickleList: PickleContainer {
    private(set) var items: [PickleValue] = []

    fileprivate func append(_ values: [PickleValue]) throws {
        try admit(values)
        items.append(contentsOf: values)
    }
}

/// An insertion-ordered dict (Python dicts and OrderedDicts alike) with hashable plain keys.
final class PickleDict: PickleContainer {
    private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    private var positions: [Key: Int] = [:]

    private enum Key: Hashable {
        case none, int(Int), bigInt([UInt8]), string(String), bytes([UInt8])
    }

    private static func key(_ value: PickleValue) throws -> Key {
        switch value {
        case .none: .none
        // Python's True == 1, so they are one key.
        case .bool(let flag): .int(flag ? 1 : 0)
        case .int(let n): .int(n)
        case .bigInt(let bytes): .bigInt(bytes)
        case .string(let text): .string(text)
        case .bytes(let bytes): .bytes(bytes)
        default: throw PickleRejection("unsupported dict key type: \(value.kind)")
        }
    }

    fileprivate func set(_ pairs: [(PickleValue, PickleValue)]) throws {
        try admit(pairs.flatMap { [$0.0, $0.1] })
        for (key, value) in pairs {
            let hashed = try Self.key(key)
            if let position = positions[hashed] {
                entries[position].value = value
            } else {
                positions[hashed] = entries.count
                entries.append((key, value))
            }
        }
    }

    subscript(key: String) -> PickleValue? {
        positions[.string(key)].map { entries[$0].value }
    }
}

private enum Opcode: UInt8 {
    case mark = 0x28, stop = 0x2E, pop = 0x30, popMark = 0x31, dup = 0x32
    case binFloat = 0x47, binInt = 0x4A, binInt1 = 0x4B, binInt2 = 0x4D, none = 0x4E
    case binPersistentID = 0x51, reduce = 0x52, binString = 0x54, shortBinString = 0x55, binUnicode = 0x58
    case binBytes = 0x42, shortBinBytes = 0x43
    case emptyList = 0x5D, append = 0x61, build = 0x62, global = 0x63, dict = 0x64, appends = 0x65
    case binGet = 0x68, longBinGet = 0x6A, list = 0x6C, binPut = 0x71, longBinPut = 0x72
    case setItem = 0x73, tuple = 0x74, setItems = 0x75, emptyDict = 0x7D, emptyTuple = 0x29
    case proto = 0x80, tuple1 = 0x85, tuple2 = 0x86, tuple3 = 0x87, newTrue = 0x88, newFalse = 0x89
    case long1 = 0x8A, long4 = 0x8B, shortBinUnicode = 0x8C, binUnicode8 = 0x8D, binBytes8 = 0x8E
    case stackGlobal = 0x93, memoize = 0x94, frame = 0x95
}

private struct Machine {
    var stack: [PickleValue] = []
    /// Stack heights at each open MARK; nothing may pop below the innermost one.
    var marks: [Int] = []
    var memo: [Int: PickleValue] = [:]

    var fence: Int { marks.last ?? 0 }

    mutating func push(_ value: PickleValue) { stack.append(value) }

    mutating func pop() throws -> PickleValue {
        guard stack.count > fence else { throw PickleRejection("stack underflow") }
        return stack.removeLast()
    }

    func top() throws -> PickleValue {
        guard stack.count > fence else { throw PickleRejection("stack underflow") }
        return stack[stack.count - 1]
    }

    mutating func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw PickleRejection("no MARK to pop to") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    mutating func tuple(_ items: [PickleValue]) throws { push(.tuple(try PickleTuple(items))) }

    mutating func append(_ values: [PickleValue]) throws {
        guard case .list(let list) = try top() else { throw PickleRejection("APPEND to \(try top().kind), not a list") }
        try list.append(values)
    }

    mutating func setItems(_ flat: [PickleValue]) throws {
        guard flat.count.isMultiple(of: 2) else { throw PickleRejection("SETITEMS with an odd number of values") }
        guard case .dict(let dict) = try top() else { throw PickleRejection("SETITEM on \(try top().kind), not a dict") }
        try dict.set(stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) })
    }

    mutating func get(_ index: Int) throws {
        guard let value = memo[index] else { throw PickleRejection("memo entry \(index) is not defined") }
        push(value)
    }

    mutating func put(_ index: Int) throws { memo[index] = try top() }

    /// Executes one opcode; returns the pickle's value at STOP.
    mutating func execute<Resolver: PickleResolver>(_ opcode: Opcode, reader: inout ByteReader,
                                                     resolver: inout Resolver) throws -> PickleValue? {
        switch opcode {
        case .proto:
            let version = try reader.byte()
            guard version <= 5 else { throw PickleRejection("unsupported pickle protocol \(version)") }
        case .frame:
            // Frames only group opcodes for buffered readers; the whole file is in memory already.
            let length = try reader.integer(UInt64.self)
            guard length <= UInt64(reader.remaining) else { throw PickleRejection("frame of \(length) bytes passes the end of file") }
        case .stop:
            guard marks.isEmpty, stack.count == 1 else {
                throw PickleRejection("pickle stopped with \(stack.count) values and \(marks.count) open marks on the stack")
            }
            return stack[0]

        case .mark: marks.append(stack.count)
        case .pop: _ = try pop()
        case .popMark: _ = try popToMark()
        case .dup: push(try top())

        case .binPut: try put(Int(try reader.byte()))
        case .longBinPut: try put(Int(try reader.integer(UInt32.self)))
        case .memoize: try put(memo.count)
        case .binGet: try get(Int(try reader.byte()))
        case .longBinGet: try get(Int(try reader.integer(UInt32.self)))

        case .none: push(.none)
        case .newTrue: push(.bool(true))
        case .newFalse: push(.bool(false))
        case .binInt: push(.int(Int(try reader.integer(Int32.self))))
        case .binInt1: push(.int(Int(try reader.byte())))
        case .binInt2: push(.int(Int(try reader.integer(UInt16.self))))
        case .long1: push(Self.long(try reader.take(Int(try reader.byte()))))
        case .long4:
            let count = try reader.integer(Int32.self)
            guard count >= 0 else { throw PickleRejection("negative LONG4 length") }
            push(Self.long(try reader.take(Int(count))))
        case .binFloat: push(.float(Double(bitPattern: UInt64(bigEndian: try reader.take(8).loadUnaligned(as: UInt64.self)))))

        case .shortBinUnicode, .shortBinString: push(.string(try Self.text(try reader.take(Int(try reader.byte())))))
        case .binUnicode: push(.string(try Self.text(try reader.take(Int(try reader.integer(UInt32.self))))))
        case .binString:
            let count = try reader.integer(Int32.self)
            guard count >= 0 else { throw PickleRejection("negative BINSTRING length") }
            push(.string(try Self.text(try reader.take(Int(count)))))
        case .binUnicode8: push(.string(try Self.text(try reader.take(try Self.length64(&reader)))))
        case .shortBinBytes: push(.bytes(Array(try reader.take(Int(try reader.byte())))))
        case .binBytes: push(.bytes(Array(try reader.take(Int(try reader.integer(UInt32.self))))))
        case .binBytes8: push(.bytes(Array(try reader.take(try Self.length64(&reader)))))

        case .emptyTuple: try tuple([])
        case .tuple1: try tuple([try pop()])
        case .tuple2:
            let second = try pop()
            try tuple([try pop(), second])
        case .tuple3:
            let third = try pop(), second = try pop()
            try tuple([try pop(), second, third])
        case .tuple: try tuple(try popToMark())
        case .emptyList: push(.list(PickleList()))
        case .list:
            let list = PickleList()
            try list.append(try popToMark())
            push(.list(list))
        case .emptyDict: push(.dict(PickleDict()))
        case .dict:
            let items = try popToMark()
            push(.dict(PickleDict()))
            try setItems(items)
        case .append: try append([try pop()])
        case .appends: try append(try popToMark())
        case .setItem:
            let value = try pop()
            try setItems([try pop(), value])
        case .setItems: try setItems(try popToMark())

        case .global:
            let module = try Self.text(try reader.line())
            let name = try Self.text(try reader.line())
            push(try resolver.global(module: module, name: name))
        case .stackGlobal:
            guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                throw PickleRejection("STACK_GLOBAL needs two strings")
            }
            push(try resolver.global(module: module, name: name))
        case .reduce:
            guard case .tuple(let arguments) = try pop() else { throw PickleRejection("REDUCE arguments are not a tuple") }
            let callable = try pop()
            push(try resolver.call(callable, arguments: arguments.items))
        case .build:
            let state = try pop()
            push(try resolver.build(try pop(), state: state))
        case .binPersistentID:
            push(try resolver.persistentLoad(try pop()))
        }
        return nil
    }

    static func text(_ bytes: UnsafeRawBufferPointer) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw PickleRejection("string is not valid UTF-8") }
        return text
    }

    static func length64(_ reader: inout ByteReader) throws -> Int {
        let length = try reader.integer(UInt64.self)
        guard length <= UInt64(reader.remaining) else { throw PickleRejection("length \(length) passes the end of file") }
        return Int(length)
    }

    /// A little-endian two's-complement integer of any width (LONG1/LONG4).
    static func long(_ raw: UnsafeRawBufferPointer) -> PickleValue {
        var bytes = Array(raw)
        // Drop sign-extension bytes so each number has one representation.
        while bytes.count > 1 {
            let last = bytes[bytes.count - 1], signOfNext = bytes[bytes.count - 2] & 0x80
            guard (last == 0x00 && signOfNext == 0) || (last == 0xFF && signOfNext != 0) else { break }
            bytes.removeLast()
        }
        guard bytes.count <= 8 else { return .bigInt(bytes) }
        var pattern: UInt64 = bytes.last.map { $0 & 0x80 != 0 } == true ? .max : 0
        for (index, byte) in bytes.enumerated() {
            pattern &= ~(0xFF << (8 * index))
            pattern |= UInt64(byte) << (8 * index)
        }
        return .int(Int(Int64(bitPattern: pattern)))
    }
}
