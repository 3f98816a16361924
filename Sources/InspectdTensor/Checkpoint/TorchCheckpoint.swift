import Foundation

/// Reads state dicts saved by `torch.save` in the legacy (pre-1.6, non-zip) format.
///
/// Such a file is a run of pickles: a magic number, the protocol version 1001, a dict describing the
/// writer (byte order, type sizes), the state dict itself — whose tensors point at storages through
/// persistent ids — and the list of storage keys. The raw storages follow in that order, each as a
/// little-endian int64 element count and the elements. Only the globals a state dict needs are
/// accepted, so loading a checkpoint can never run code.
public enum TorchCheckpoint {
    /// Tensors by name, and the names in the order the state dict holds them (module order).
    public static func readLegacy(from url: URL) throws -> (tensors: [String: Tensor], names: [String]) {
        return try decodeLegacy(try mappedContents(of: url), source: url.path)
    }

    /// Decodes a complete legacy checkpoint held in memory; `source` names it in errors.
    public static func decodeLegacy(_ bytes: some ContiguousBytes,
                                    source: String = "<memory>") throws -> (tensors: [String: Tensor], names: [String]) {
        try bytes.withUnsafeBytes { raw in
            var reader = ByteReader(raw, source: source)
            let records = try readStructure(&reader)
            // Keys are unique: the pickle dict already merged repeated ones, as Python would.
            let tensors = Dictionary(uniqueKeysWithValues: records.map { ($0.name, $0.record.materialize(from: raw)) })
            return (tensors, records.map(\.name))
        }
    }

    /// 0x1950a86a20f9469cfc6c, the first pickle of every legacy file, as little-endian bytes.
    private static let magicNumber: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    private static let protocolVersion = 1001

    /// Parses every pickle and locates every storage, so that all validation is done before any
    /// tensor memory is allocated.
    private static func readStructure(_ reader: inout ByteReader) throws -> [(name: String, record: TensorRecord)] {
        if reader.bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            throw reader.error("this is a zip-format torch checkpoint (torch >= 1.6); only the legacy format is supported")
        }
        var plain = PlainDataResolver()
        let magic: PickleValue
        do {
            magic = try Pickle.load(&reader, resolver: &plain)
        } catch let error as CheckpointError {
            throw reader.error("not a legacy torch checkpoint: \(error.reason)")
        }
        guard case .bigInt(magicNumber) = magic else {
            throw reader.error("not a legacy torch checkpoint: the magic number is missing")
        }
        guard case .int(protocolVersion) = try Pickle.load(&reader, resolver: &plain) else {
            throw reader.error("unsupported legacy checkpoint protocol (expected \(protocolVersion))")
        }
        guard case .dict(let systemInfo) = try Pickle.load(&reader, resolver: &plain) else {
            throw reader.error("the writer description is not a dict")
        }
        guard case .bool(true)? = systemInfo["little_endian"] else {
            throw reader.error("checkpoint was written on a big-endian machine; not supported")
        }

        var resolver = StateDictResolver()
        let root = try Pickle.load(&reader, resolver: &resolver)

        guard case .list(let keyList) = try Pickle.load(&reader, resolver: &plain) else {
            throw reader.error("the storage key list is not a list")
        }
        for item in keyList.items {
            guard case .string(let key) = item else { throw reader.error("storage key \(item.kind) is not a str") }
            guard let storage = resolver.storages[key] else {
                throw reader.error("data section lists storage '\(key)', which no tensor uses")
            }
            guard storage.byteOffset == nil else { throw reader.error("storage '\(key)' appears twice in the data section") }
            let count = try reader.integer(Int64.self)
            // Checked against the bytes left before anything is sized from the count.
            guard count >= 0, count <= reader.remaining / storage.type.byteSize else {
                throw reader.error("storage '\(key)' claims \(count) elements, more than the \(reader.remaining) bytes left in the file")
            }
            guard count == storage.count else {
                throw reader.error("storage '\(key)' has \(count) elements in the data section, \(storage.count) in the state dict")
            }
            storage.byteOffset = reader.position
            _ = try reader.take(Int(count) * storage.type.byteSize)
        }
        if let missing = resolver.storages.values.first(where: { $0.byteOffset == nil }) {
            throw reader.error("storage '\(missing.key)' has no data in the file")
        }
        guard reader.isAtEnd else { throw reader.error("\(reader.remaining) unexpected bytes after the last storage") }

        guard case .dict(let stateDict) = root else {
            throw reader.error("the checkpoint holds \(root.kind), expected a state dict")
        }
        return try stateDict.entries.map { key, value in
            guard case .string(let name) = key else { throw reader.error("state dict key \(key.kind) is not a str") }
            guard case .object(let object) = value, let record = object as? TensorRecord else {
                throw reader.error("state dict entry '\(name)' is \(value.kind), not a tensor")
            }
            return (name, record)
        }
    }
}

/// A storage named by a persistent id; `byteOffset` is where its elements start in the file.
private final class StorageRecord {
    let key: String
    let type: ElementType
    let count: Int
    var byteOffset: Int?

    init(key: String, type: ElementType, count: Int) {
        self.key = key
        self.type = type
        self.count = count
    }
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view into a storage.
private final class TensorRecord {
    let storage: StorageRecord
    let offset: Int
    let size: [Int]
    let stride: [Int]
    let requiresGrad: Bool

    init(storage: StorageRecord, offset: Int, size: [Int], stride: [Int], requiresGrad: Bool) {
        self.storage = storage
        self.offset = offset
        self.size = size
        self.stride = stride
        self.requiresGrad = requiresGrad
    }

    /// Checks that the view stays inside its storage. A view may not hold more elements than the
    /// storage (expanded, stride-0 views), which bounds the memory a file can make us allocate.
    func validate() throws {
        var count = 1, last = offset
        for (extent, step) in zip(size, stride) {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw PickleRejection("tensor size \(size) is too large") }
            count = product
            if extent > 0 {
                let (reach, overflow) = (extent - 1).multipliedReportingOverflow(by: step)
                let (sum, overflow2) = last.addingReportingOverflow(reach)
                guard !overflow, !overflow2 else { throw PickleRejection("tensor stride \(stride) is too large") }
                last = sum
            }
        }
        guard count == 0 || last < storage.count else {
            throw PickleRejection("view (offset \(offset), size \(size), stride \(stride)) passes the end of storage '\(storage.key)' of \(storage.count) elements")
        }
        guard count <= storage.count else {
            throw PickleRejection("view of \(count) elements over storage '\(storage.key)' of \(storage.count) repeats elements; expanded views are not supported")
        }
    }

    /// The view copied into a dense row-major tensor.
    func materialize(from file: UnsafeRawBufferPointer) -> Tensor {
        let count = size.reduce(1, *)
        let data = [Float](unsafeUninitializedCapacity: count) { out, initialized in
            if count > 0 {
                storage.type.gather(from: file.baseAddress! + storage.byteOffset!, offset: offset, size: size, stride: stride,
                                    into: out.baseAddress!)
            }
            initialized = count
        }
        return Tensor(shape: size, data: data, requiresGrad: requiresGrad)
    }
}

/// The allow-list: what a state dict may name, and what each name builds.
private struct StateDictResolver: PickleResolver {
    private(set) var storages: [String: StorageRecord] = [:]

    static let storageTypes: [String: ElementType] = [
        "FloatStorage": .float32, "HalfStorage": .float16, "BFloat16Storage": .bfloat16,
        "DoubleStorage": .float64, "LongStorage": .int64, "IntStorage": .int32,
    ]

    func global(module: String, name: String) throws -> PickleValue {
        switch (module, name) {
        case ("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"):
            return .global(module: module, name: name)
        case ("torch", _) where Self.storageTypes[name] != nil:
            return .global(module: module, name: name)
        case ("torch", _) where name.hasSuffix("Storage"):
            throw PickleRejection("torch.\(name) is not supported (readable: \(Self.storageTypes.keys.sorted().joined(separator: ", ")))")
        default:
            throw PickleRejection("global '\(module).\(name)' is not allowed in a state dict")
        }
    }

    mutating func call(_ callable: PickleValue, arguments: [PickleValue]) throws -> PickleValue {
        switch callable {
        case .global("collections", "OrderedDict"):
            guard arguments.isEmpty else { throw PickleRejection("OrderedDict with arguments is not supported") }
            return .dict(PickleDict())
        case .global("torch._utils", "_rebuild_tensor_v2"):
            return .object(try rebuildTensor(arguments))
        case .global("torch._utils", "_rebuild_parameter"):
            guard arguments.count == 3, case .object(let object) = arguments[0], let tensor = object as? TensorRecord,
                  case .bool(let requiresGrad) = arguments[1]
            else { throw PickleRejection("_rebuild_parameter expects (tensor, requires_grad, hooks)") }
            return .object(TensorRecord(storage: tensor.storage, offset: tensor.offset, size: tensor.size,
                                        stride: tensor.stride, requiresGrad: requiresGrad))
        default:
            throw PickleRejection("\(callable.kind) cannot be called")
        }
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    /// Hooks and metadata cannot be restored outside Python and do not affect the values.
    private func rebuildTensor(_ arguments: [PickleValue]) throws -> TensorRecord {
        guard arguments.count == 6 || arguments.count == 7,
              case .object(let object) = arguments[0], let storage = object as? StorageRecord,
              case .int(let offset) = arguments[1], offset >= 0,
              let size = Self.naturals(arguments[2]), let stride = Self.naturals(arguments[3]), size.count == stride.count,
              case .bool(let requiresGrad) = arguments[4]
        else {
            throw PickleRejection("_rebuild_tensor_v2 expects (storage, offset, size, stride, requires_grad, hooks)")
        }
        let record = TensorRecord(storage: storage, offset: offset, size: size, stride: stride, requiresGrad: requiresGrad)
        try record.validate()
        return record
    }

    private static func naturals(_ value: PickleValue) -> [Int]? {
        guard case .tuple(let tuple) = value else { return nil }
        var result: [Int] = []
        for item in tuple.items {
            guard case .int(let n) = item, n >= 0 else { return nil }
            result.append(n)
        }
        return result
    }

    /// `('storage', torch.XStorage, key, location, element_count[, view_metadata])`. The location
    /// (cpu, cuda:0) is irrelevant: everything loads into host memory.
    mutating func persistentLoad(_ id: PickleValue) throws -> PickleValue {
        guard case .tuple(let tuple) = id, tuple.items.count == 5 || tuple.items.count == 6,
              case .string("storage") = tuple.items[0],
              case .global("torch", let typeName) = tuple.items[1], let type = Self.storageTypes[typeName],
              case .string(let key) = tuple.items[2],
              case .string = tuple.items[3],
              case .int(let count) = tuple.items[4], count >= 0
        else { throw PickleRejection("persistent id is not a ('storage', type, key, location, count) tuple") }
        if tuple.items.count == 6 {
            guard case .none = tuple.items[5] else { throw PickleRejection("storage views (view_metadata) are not supported") }
        }
        if let existing = storages[key] {
            guard existing.type == type, existing.count == count else {
                throw PickleRejection("storage '\(key)' is declared twice with different types or sizes")
            }
            return .object(existing)
        }
        let storage = StorageRecord(key: key, type: type, count: count)
        storages[key] = storage
        return .object(storage)
    }

    /// OrderedDict state (its `_metadata` attribute of module versions) carries no weights.
    mutating func build(_ object: PickleValue, state: PickleValue) throws -> PickleValue {
        guard case .dict = object, case .dict = state else {
            throw PickleRejection("BUILD of \(object.kind) with \(state.kind) is not supported")
        }
        return object
    }
}
