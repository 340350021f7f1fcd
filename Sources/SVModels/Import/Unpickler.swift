/// A restricted, non-executing reader for the pickles inside PyTorch checkpoints (`data.pkl`).
///
/// Written from the opcode descriptions in CPython's `pickletools`: it implements the binary
/// opcodes of protocols 2–5 that `torch.save` emits for state_dicts (containers, numbers, strings,
/// memo, `GLOBAL`/`STACK_GLOBAL`, `REDUCE`, `BUILD`, `NEWOBJ`, `BINPERSID`). Nothing is ever
/// imported or called: a global is looked up in `PickleGlobal.allowList` and becomes an inert
/// value; `REDUCE` on it is *interpreted* (an `OrderedDict()` is an empty dict, a
/// `_rebuild_tensor_v2(...)` is a tensor description). Any other global is
/// `PyTorchCheckpointError.forbiddenGlobal` naming it; text-protocol and extension opcodes are
/// `unsupportedOpcode`.
///
/// Containers are reference boxes (pickle mutates memoised dicts and lists in place). Every box is
/// registered with the unpickler, which empties them all in `deinit`, so cyclic or deeply nested
/// pickles neither leak nor overflow the stack on release.
///
/// Memo references share values, so they cost nothing; the one opcode that builds new data from a
/// shared value (`_codecs.encode` of a memoised string) is charged to the checkpoint's byte budget.
final class Unpickler {
    private let bytes: [UInt8]
    private var position = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var boxes: [PickleBox] = []
    /// The reader's budget, handed back after `load` with what the pickle spent.
    private(set) var budget: PyTorchCheckpoint.DecodeBudget

    /// Largest pickle stack / mark stack / memo accepted (far above any state_dict's needs).
    static let maxStackDepth = 1 << 22

    init(_ bytes: [UInt8], budget: PyTorchCheckpoint.DecodeBudget) {
        self.bytes = bytes
        self.budget = budget
    }

    deinit {
        for box in boxes { box.clear() }
    }

    /// Runs the pickle up to `STOP` and returns its value.
    func load() throws(PyTorchCheckpointError) -> PickleValue {
        while true {
            let opOffset = position
            let op = try readByte()
            switch op {
            case 0x80:  // PROTO
                let version = try readByte()
                guard version <= 5 else { throw malformed(opOffset, "pickle protocol \(version) is newer than 5") }
            case 0x95:  // FRAME (framing is a hint only; the opcodes follow inline)
                _ = try read(8)
            case 0x2E:  // STOP
                let value = try pop(opOffset)
                return value
            case 0x28:  // MARK
                guard marks.count < Self.maxStackDepth else { throw malformed(opOffset, "too many nested marks") }
                marks.append(stack.count)
            case 0x7D: try push(.dict(newDict()), opOffset)  // EMPTY_DICT
            case 0x5D: try push(.list(newList([])), opOffset)  // EMPTY_LIST
            case 0x29: try push(.tuple(newList([])), opOffset)  // EMPTY_TUPLE
            case 0x4E: try push(.none, opOffset)  // NONE
            case 0x88: try push(.bool(true), opOffset)  // NEWTRUE
            case 0x89: try push(.bool(false), opOffset)  // NEWFALSE

            // Numbers
            case 0x4A:  // BININT (4-byte signed)
                let b = try read(4)
                try push(.int(Int(Int32(bitPattern: UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24))), opOffset)
            case 0x4B: try push(.int(Int(try readByte())), opOffset)  // BININT1
            case 0x4D:  // BININT2
                let b = try read(2)
                try push(.int(Int(b[0]) | Int(b[1]) << 8), opOffset)
            case 0x8A:  // LONG1
                let n = Int(try readByte())
                try push(Self.long(try read(n)), opOffset)
            case 0x8B:  // LONG4
                let n = try readLength(4, opOffset)
                try push(Self.long(try read(n)), opOffset)
            case 0x47:  // BINFLOAT (8-byte big-endian)
                let b = try read(8)
                try push(.float(Double(bitPattern: b.reduce(0) { $0 << 8 | UInt64($1) })), opOffset)

            // Strings and bytes
            case 0x58: try push(.string(try readUTF8(try readLength(4, opOffset))), opOffset)  // BINUNICODE
            case 0x8C: try push(.string(try readUTF8(Int(try readByte()))), opOffset)  // SHORT_BINUNICODE
            case 0x8D: try push(.string(try readUTF8(try readLength(8, opOffset))), opOffset)  // BINUNICODE8
            case 0x42: try push(.bytes(try read(try readLength(4, opOffset))), opOffset)  // BINBYTES
            case 0x43: try push(.bytes(try read(Int(try readByte()))), opOffset)  // SHORT_BINBYTES
            case 0x8E: try push(.bytes(try read(try readLength(8, opOffset))), opOffset)  // BINBYTES8
            case 0x54:  // BINSTRING (Python 2 str: bytes read as Latin-1)
                try push(.string(Self.latin1(try read(try readLength(4, opOffset)))), opOffset)
            case 0x55: try push(.string(Self.latin1(try read(Int(try readByte())))), opOffset)  // SHORT_BINSTRING

            // Tuples, lists, dicts
            case 0x74: try push(.tuple(newList(try popToMark(opOffset))), opOffset)  // TUPLE
            case 0x85:  // TUPLE1
                let a = try pop(opOffset)
                try push(.tuple(newList([a])), opOffset)
            case 0x86:  // TUPLE2
                let b = try pop(opOffset), a = try pop(opOffset)
                try push(.tuple(newList([a, b])), opOffset)
            case 0x87:  // TUPLE3
                let c = try pop(opOffset), b = try pop(opOffset), a = try pop(opOffset)
                try push(.tuple(newList([a, b, c])), opOffset)
            case 0x6C: try push(.list(newList(try popToMark(opOffset))), opOffset)  // LIST
            case 0x61:  // APPEND
                let item = try pop(opOffset)
                guard case .list(let list) = try top(opOffset) else { throw malformed(opOffset, "APPEND to a non-list") }
                list.items.append(item)
            case 0x65:  // APPENDS
                let items = try popToMark(opOffset)
                guard case .list(let list) = try top(opOffset) else { throw malformed(opOffset, "APPENDS to a non-list") }
                list.items.append(contentsOf: items)
            case 0x64:  // DICT
                let items = try popToMark(opOffset)
                let dict = newDict()
                try setItems(items, in: dict, opOffset)
                try push(.dict(dict), opOffset)
            case 0x73:  // SETITEM
                let value = try pop(opOffset), key = try pop(opOffset)
                guard case .dict(let dict) = try top(opOffset) else { throw malformed(opOffset, "SETITEM on a non-dict") }
                try dict.set(Self.key(key, opOffset), value)
            case 0x75:  // SETITEMS
                let items = try popToMark(opOffset)
                guard case .dict(let dict) = try top(opOffset) else { throw malformed(opOffset, "SETITEMS on a non-dict") }
                try setItems(items, in: dict, opOffset)

            // Stack and memo
            case 0x30: _ = try pop(opOffset)  // POP
            case 0x31: _ = try popToMark(opOffset)  // POP_MARK
            case 0x32: try push(try top(opOffset), opOffset)  // DUP
            case 0x71: memo[Int(try readByte())] = try top(opOffset)  // BINPUT
            case 0x72: memo[try readLength(4, opOffset)] = try top(opOffset)  // LONG_BINPUT
            case 0x94: memo[memo.count] = try top(opOffset)  // MEMOIZE
            case 0x68: try push(try memoValue(Int(try readByte()), opOffset), opOffset)  // BINGET
            case 0x6A: try push(try memoValue(try readLength(4, opOffset), opOffset), opOffset)  // LONG_BINGET

            // Globals and object construction (interpreted, never executed)
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try readLine(opOffset), name = try readLine(opOffset)
                try push(.global(try PickleGlobal.resolve(module: module, name: name)), opOffset)
            case 0x93:  // STACK_GLOBAL
                let name = try pop(opOffset), module = try pop(opOffset)
                guard case .string(let n) = name, case .string(let m) = module else {
                    throw malformed(opOffset, "STACK_GLOBAL needs two strings")
                }
                try push(.global(try PickleGlobal.resolve(module: m, name: n)), opOffset)
            case 0x52:  // REDUCE
                let args = try pop(opOffset), callable = try pop(opOffset)
                guard case .global(let global) = callable else { throw malformed(opOffset, "REDUCE on a \(callable.kind), not a global") }
                guard case .tuple(let tuple) = args else { throw malformed(opOffset, "REDUCE arguments are a \(args.kind), not a tuple") }
                try push(try call(global, tuple.items, opOffset), opOffset)
            case 0x81:  // NEWOBJ cls.__new__(cls, *args)
                let args = try pop(opOffset), cls = try pop(opOffset)
                guard case .global(.orderedDict) = cls, case .tuple = args else {
                    throw malformed(opOffset, "NEWOBJ is only understood for collections.OrderedDict, got a \(cls.kind)")
                }
                try push(.dict(newDict()), opOffset)
            case 0x62:  // BUILD obj.__setstate__(state)
                let state = try pop(opOffset)
                switch try top(opOffset) {
                case .dict, .tensor: break  // instance attributes (state_dict `_metadata`, tensor hooks): ignored
                case let other: throw malformed(opOffset, "BUILD on a \(other.kind) (state: \(state.kind))")
                }
            case 0x51:  // BINPERSID
                let pid = try pop(opOffset)
                try push(.storage(try Self.storage(pid, opOffset)), opOffset)

            default:
                throw .unsupportedOpcode(opcode: op, name: Self.opcodeName(op), offset: opOffset)
            }
        }
    }

    // MARK: - Interpreting calls

    private func call(_ global: PickleGlobal, _ args: [PickleValue], _ offset: Int) throws(PyTorchCheckpointError) -> PickleValue {
        switch global {
        case .orderedDict:
            guard args.isEmpty else { throw malformed(offset, "collections.OrderedDict called with \(args.count) arguments; only OrderedDict() is understood") }
            return .dict(newDict())
        case .rebuildTensorV2:
            // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard args.count == 6 || args.count == 7 else { throw malformed(offset, "_rebuild_tensor_v2 takes 6 or 7 arguments, got \(args.count)") }
            guard case .storage(let storage) = args[0] else { throw malformed(offset, "_rebuild_tensor_v2: argument 1 is a \(args[0].kind), not a storage") }
            guard case .int(let storageOffset) = args[1], storageOffset >= 0 else { throw malformed(offset, "_rebuild_tensor_v2: storage offset is not a non-negative int") }
            let shape = try intTuple(args[2], "size", offset)
            let stride = try intTuple(args[3], "stride", offset)
            guard shape.count == stride.count else { throw malformed(offset, "_rebuild_tensor_v2: size has \(shape.count) dimensions, stride \(stride.count)") }
            return .tensor(PickledTensor(storage: storage, storageOffset: storageOffset, shape: shape, stride: stride))
        case .rebuildParameter, .rebuildParameterWithState:
            // _rebuild_parameter(data, requires_grad, backward_hooks[, state])
            guard let first = args.first, case .tensor = first else { throw malformed(offset, "_rebuild_parameter: first argument is not a tensor") }
            return first
        case .codecsEncode:
            // _codecs.encode(text, "latin1"): how protocol 2 stores `bytes`.
            guard args.count == 2, case .string(let text) = args[0], case .string(let encoding) = args[1] else {
                throw malformed(offset, "_codecs.encode needs (str, encoding)")
            }
            // A memoised string can be encoded again and again; its UTF-8 size bounds either encoding.
            try budget.spend(bytes: text.utf8.count, at: "in _codecs.encode at pickle byte \(offset): a memoised string encoded again and again")
            switch encoding.lowercased() {
            case "latin1", "latin-1", "iso-8859-1":
                var out: [UInt8] = []
                for scalar in text.unicodeScalars {
                    guard scalar.value < 256 else { throw malformed(offset, "_codecs.encode: U+\(String(scalar.value, radix: 16)) is not Latin-1") }
                    out.append(UInt8(scalar.value))
                }
                return .bytes(out)
            case "utf-8", "utf8": return .bytes(Array(text.utf8))
            default: throw malformed(offset, "_codecs.encode: encoding '\(encoding)' is not understood")
            }
        case .storageType, .dtype:
            throw malformed(offset, "\(global.qualifiedName) cannot be called")
        }
    }

    private func intTuple(_ value: PickleValue, _ what: String, _ offset: Int) throws(PyTorchCheckpointError) -> [Int] {
        guard case .tuple(let t) = value else { throw malformed(offset, "_rebuild_tensor_v2: \(what) is a \(value.kind), not a tuple") }
        var out: [Int] = []
        for item in t.items {
            guard case .int(let v) = item, v >= 0 else { throw malformed(offset, "_rebuild_tensor_v2: \(what) holds a non-int or negative value") }
            out.append(v)
        }
        return out
    }

    /// `('storage', <StorageType global>, key, location, numel)`, as torch's persistent_id writes it.
    private static func storage(_ pid: PickleValue, _ offset: Int) throws(PyTorchCheckpointError) -> PickledStorage {
        guard case .tuple(let t) = pid, t.items.count == 5, case .string("storage") = t.items[0] else {
            throw .malformedPickle(offset: offset, problem: "persistent id is not ('storage', type, key, location, numel)")
        }
        guard case .global(.storageType(let type, _)) = t.items[1] else {
            throw .malformedPickle(offset: offset, problem: "persistent id: \(t.items[1].kind) is not a torch storage type")
        }
        guard case .string(let key) = t.items[2] else { throw .malformedPickle(offset: offset, problem: "persistent id: storage key is not a string") }
        guard case .int(let count) = t.items[4], count >= 0 else {
            throw .malformedPickle(offset: offset, problem: "persistent id: element count of storage '\(key)' is not a non-negative int")
        }
        return PickledStorage(key: key, type: type, elementCount: count)
    }

    // MARK: - Stack, memo, boxes

    private func newList(_ items: [PickleValue]) -> PickleList {
        let list = PickleList(items)
        boxes.append(list)
        return list
    }

    private func newDict() -> PickleDict {
        let dict = PickleDict()
        boxes.append(dict)
        return dict
    }

    private func setItems(_ items: [PickleValue], in dict: PickleDict, _ offset: Int) throws(PyTorchCheckpointError) {
        guard items.count % 2 == 0 else { throw malformed(offset, "odd number of items (\(items.count)) for a dict") }
        var i = 0
        while i < items.count {
            try dict.set(Self.key(items[i], offset), items[i + 1])
            i += 2
        }
    }

    private static func key(_ value: PickleValue, _ offset: Int) throws(PyTorchCheckpointError) -> PickleKey {
        switch value {
        case .string(let s): return .string(s)
        case .int(let i): return .int(i)
        case .bool(let b): return .int(b ? 1 : 0)
        case .none: return .other("None")
        case .float(let f): return .other("\(f)")
        case .global(let g): return .other(g.qualifiedName)
        default: throw .malformedPickle(offset: offset, problem: "a \(value.kind) cannot be a dict key")
        }
    }

    private func push(_ value: PickleValue, _ offset: Int) throws(PyTorchCheckpointError) {
        guard stack.count < Self.maxStackDepth else { throw malformed(offset, "stack deeper than \(Self.maxStackDepth)") }
        stack.append(value)
    }

    private func pop(_ offset: Int) throws(PyTorchCheckpointError) -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw malformed(offset, "stack underflow") }
        return stack.removeLast()
    }

    private func top(_ offset: Int) throws(PyTorchCheckpointError) -> PickleValue {
        guard stack.count > (marks.last ?? 0), let last = stack.last else { throw malformed(offset, "stack underflow") }
        return last
    }

    private func popToMark(_ offset: Int) throws(PyTorchCheckpointError) -> [PickleValue] {
        guard let mark = marks.popLast() else { throw malformed(offset, "no MARK on the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func memoValue(_ index: Int, _ offset: Int) throws(PyTorchCheckpointError) -> PickleValue {
        guard let value = memo[index] else { throw malformed(offset, "memo entry \(index) was never stored") }
        return value
    }

    // MARK: - Reading the byte stream

    private func readByte() throws(PyTorchCheckpointError) -> UInt8 {
        guard position < bytes.count else { throw .malformedPickle(offset: position, problem: "ends without STOP") }
        defer { position += 1 }
        return bytes[position]
    }

    private func read(_ count: Int) throws(PyTorchCheckpointError) -> [UInt8] {
        guard count >= 0, count <= bytes.count - position else {
            throw .malformedPickle(offset: position, problem: "\(count) bytes requested, \(bytes.count - position) left")
        }
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    /// An unsigned little-endian length of `width` bytes that must fit in what is left of the pickle.
    private func readLength(_ width: Int, _ offset: Int) throws(PyTorchCheckpointError) -> Int {
        let b = try read(width)
        var v: UInt64 = 0
        for (i, byte) in b.enumerated() { v |= UInt64(byte) << (8 * UInt64(i)) }
        guard v <= UInt64(bytes.count) else { throw malformed(offset, "length or index \(v) exceeds the pickle's size") }
        return Int(v)
    }

    private func readUTF8(_ count: Int) throws(PyTorchCheckpointError) -> String {
        String(decoding: try read(count), as: UTF8.self)
    }

    /// A text line ending in "\n" (GLOBAL's module and name).
    private func readLine(_ offset: Int) throws(PyTorchCheckpointError) -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A), end - position <= 256 else {
            throw malformed(offset, "GLOBAL name is not a newline-terminated line of at most 256 bytes")
        }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    private static func long(_ b: [UInt8]) -> PickleValue {
        guard !b.isEmpty else { return .int(0) }
        guard b.count <= 8 else {
            // Beyond 64 bits unless it is a sign extension of a smaller value; never a size or stride.
            let fill: UInt8 = b.last! & 0x80 != 0 ? 0xFF : 0
            guard b[8...].allSatisfy({ $0 == fill }), (b[7] & 0x80 != 0) == (fill == 0xFF) else { return .bigInt(byteCount: b.count) }
            return long(Array(b[0..<8]))
        }
        var v: UInt64 = 0
        for (i, byte) in b.enumerated() { v |= UInt64(byte) << (8 * UInt64(i)) }
        if b.count < 8, b.last! & 0x80 != 0 { v |= ~0 << (8 * UInt64(b.count)) }
        return .int(Int(Int64(bitPattern: v)))
    }

    private static func latin1(_ b: [UInt8]) -> String {
        String(String.UnicodeScalarView(b.map { Unicode.Scalar($0) }))
    }

    private func malformed(_ offset: Int, _ problem: String) -> PyTorchCheckpointError {
        .malformedPickle(offset: offset, problem: problem)
    }

    static func opcodeName(_ op: UInt8) -> String {
        switch op {
        case 0x63: return "GLOBAL"
        case 0x69: return "INST"
        case 0x6F: return "OBJ"
        case 0x92: return "NEWOBJ_EX"
        case 0x82, 0x83, 0x84: return "EXT"
        case 0x50: return "PERSID"
        case 0x49: return "INT"
        case 0x4C: return "LONG"
        case 0x46: return "FLOAT"
        case 0x53: return "STRING"
        case 0x56: return "UNICODE"
        case 0x70: return "PUT"
        case 0x67: return "GET"
        case 0x8F: return "EMPTY_SET"
        case 0x90: return "ADDITEMS"
        case 0x91: return "FROZENSET"
        case 0x96: return "BYTEARRAY8"
        case 0x97: return "NEXT_BUFFER"
        case 0x98: return "READONLY_BUFFER"
        default: return "0x" + String(op, radix: 16)
        }
    }
}

// MARK: - Values

/// What the restricted unpickler produces: plain data, inert references to allowed globals, and
/// descriptions of storages and tensors (their bytes are read later, from the archive).
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits (only ever skipped).
    case bigInt(byteCount: Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PickleList)
    case list(PickleList)
    case dict(PickleDict)
    case global(PickleGlobal)
    case storage(PickledStorage)
    case tensor(PickledTensor)

    /// A short type name for messages and the skipped-entry list.
    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global(let g): return g.qualifiedName
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

class PickleBox {
    func clear() {}
}

final class PickleList: PickleBox {
    var items: [PickleValue]
    init(_ items: [PickleValue]) { self.items = items }
    override func clear() { items = [] }
}

enum PickleKey: Hashable {
    case string(String)
    case int(Int)
    case other(String)

    var text: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .other(let s): return s
        }
    }
}

/// An insertion-ordered dict (pickled dicts and OrderedDicts keep their order).
final class PickleDict: PickleBox {
    private(set) var entries: [(key: PickleKey, value: PickleValue)] = []
    private var index: [PickleKey: Int] = [:]

    func set(_ key: PickleKey, _ value: PickleValue) {
        if let i = index[key] { entries[i].value = value } else {
            index[key] = entries.count
            entries.append((key, value))
        }
    }

    override func clear() {
        entries = []
        index = [:]
    }
}

/// A storage named by a persistent id: bytes in `<root>/data/<key>`.
struct PickledStorage: Equatable {
    let key: String
    let type: PickleGlobal.StorageType
    let elementCount: Int
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view (offset, sizes and strides in
/// elements) of a storage.
struct PickledTensor: Equatable {
    let storage: PickledStorage
    let storageOffset: Int
    let shape: [Int]
    let stride: [Int]
}

// MARK: - The allow-list

/// The only globals a checkpoint may name. Each is data to the reader, never code.
enum PickleGlobal: Equatable {
    enum StorageType: Equatable {
        case typed(TensorDType)
        case untyped
    }

    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    case rebuildParameterWithState
    case codecsEncode
    case storageType(StorageType, name: String)
    case dtype(TensorDType, name: String)

    var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .rebuildTensorV2: return "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: return "torch._utils._rebuild_parameter_with_state"
        case .codecsEncode: return "_codecs.encode"
        case .storageType(_, let name), .dtype(_, let name): return name
        }
    }

    static let storageTypes: [String: TensorDType] = [
        "FloatStorage": .f32, "DoubleStorage": .f64, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool,
    ]

    static let dtypes: [String: TensorDType] = [
        "float32": .f32, "float": .f32, "float64": .f64, "double": .f64, "float16": .f16, "half": .f16,
        "bfloat16": .bf16, "int64": .i64, "long": .i64, "int32": .i32, "int": .i32, "int16": .i16,
        "short": .i16, "int8": .i8, "uint8": .u8, "bool": .bool,
    ]

    /// Every accepted `module.name`, for documentation and error messages.
    static var allowList: [String] {
        ["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
         "torch._utils._rebuild_parameter_with_state", "_codecs.encode",
         "torch.UntypedStorage", "torch.storage.UntypedStorage"]
            + storageTypes.keys.sorted().map { "torch.\($0)" } + dtypes.keys.sorted().map { "torch.\($0)" }
    }

    static func resolve(module: String, name: String) throws(PyTorchCheckpointError) -> PickleGlobal {
        let qualified = module + "." + name
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
        case ("_codecs", "encode"): return .codecsEncode
        case ("torch", "UntypedStorage"), ("torch.storage", "UntypedStorage"): return .storageType(.untyped, name: qualified)
        case ("torch", _):
            if let dtype = storageTypes[name] { return .storageType(.typed(dtype), name: qualified) }
            if let dtype = dtypes[name] { return .dtype(dtype, name: qualified) }
        default: break
        }
        throw .forbiddenGlobal(module: module, name: name)
    }
}
