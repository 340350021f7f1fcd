import SVFiles

/// A safetensors container: string→string metadata and named tensors, with no spkv semantics
/// (those are in `ModelFile`). Layout (see `models/FORMAT.md`):
///
///     u64 LE N | N bytes of UTF-8 JSON header, space-padded | data section
///
/// The reader never traps on any byte sequence: every inconsistency is a `ModelFileError`.
/// The writer is deterministic: `__metadata__` first with keys sorted, then tensors sorted by name
/// (UTF-8 byte order), data offsets in that order, no spaces inside the JSON, header padded with
/// spaces to a multiple of 8 so the data section starts 8-byte aligned. Hence
/// write → read → write is byte-identical.
public struct SafeTensors: Sendable, Equatable {
    /// Largest accepted header, as in the Python `safetensors` library.
    public static let maxHeaderByteCount = 100_000_000

    /// The `__metadata__` map (absent in the file when empty).
    public var metadata: [String: String]
    /// Tensors by name. When writing, the key is the tensor's name in the file.
    public var tensors: [String: StoredTensor]

    public init(metadata: [String: String] = [:], tensors: [StoredTensor]) {
        self.metadata = metadata
        self.tensors = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in
            preconditionFailure("SafeTensors: two tensors named '\(first.name)'")
        })
    }

    // MARK: - Reading

    public static func read(path: String) throws(ModelFileError) -> SafeTensors {
        try read(from: FileByteSource(path: path))
    }

    public static func read(bytes: [UInt8]) throws(ModelFileError) -> SafeTensors {
        try read(from: ByteArraySource(bytes))
    }

    public static func read(from source: some ModelByteSource) throws(ModelFileError) -> SafeTensors {
        let header = try RawHeader.parse(source)
        let entries = try header.validateEntries()
        let loaded = try header.load(entries, from: source, checksum: false)
        return SafeTensors(metadata: header.metadata, tensorsByName: loaded.tensors)
    }

    init(metadata: [String: String], tensorsByName: [String: StoredTensor]) {
        self.metadata = metadata
        self.tensors = tensorsByName
    }

    // MARK: - Writing

    /// Tensor names in file order (sorted by UTF-8 bytes).
    static func sortedNames<V>(_ dictionary: [String: V]) -> [String] {
        dictionary.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The whole file as bytes.
    public func serialize() -> [UInt8] {
        precondition(tensors["__metadata__"] == nil, "SafeTensors: \"__metadata__\" cannot name a tensor")
        let names = Self.sortedNames(tensors)
        var header: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        if !metadata.isEmpty {
            JSONEncoding.appendString("__metadata__", to: &header)
            header.append(contentsOf: Array(":{".utf8))
            for (k, key) in Self.sortedNames(metadata).enumerated() {
                if k > 0 { header.append(UInt8(ascii: ",")) }
                JSONEncoding.appendString(key, to: &header)
                header.append(UInt8(ascii: ":"))
                JSONEncoding.appendString(metadata[key]!, to: &header)
            }
            header.append(UInt8(ascii: "}"))
            first = false
        }
        var offset = 0
        for name in names {
            let t = tensors[name]!
            if !first { header.append(UInt8(ascii: ",")) }
            first = false
            JSONEncoding.appendString(name, to: &header)
            header.append(contentsOf: Array(":{\"dtype\":".utf8))
            JSONEncoding.appendString(t.dtype.rawValue, to: &header)
            header.append(contentsOf: Array(",\"shape\":[".utf8))
            for (d, dim) in t.shape.enumerated() {
                if d > 0 { header.append(UInt8(ascii: ",")) }
                JSONEncoding.appendInt(dim, to: &header)
            }
            header.append(contentsOf: Array("],\"data_offsets\":[".utf8))
            JSONEncoding.appendInt(offset, to: &header)
            header.append(UInt8(ascii: ","))
            offset += t.byteCount
            JSONEncoding.appendInt(offset, to: &header)
            header.append(contentsOf: Array("]}".utf8))
        }
        header.append(UInt8(ascii: "}"))
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }

        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for name in names { tensors[name]!.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// Writes the file atomically (temporary file, fsync, rename).
    public func write(path: String) throws(ModelFileError) {
        do { try AtomicFile.write(serialize(), to: path) } catch {
            throw .io(operation: error.operation, path: error.path, errno: error.errno)
        }
    }
}

// MARK: - Reader internals

/// One validated header entry.
struct TensorEntry {
    var name: String
    var dtype: TensorDType
    var shape: [Int]
    var begin: Int
    var end: Int
}

/// The parsed header, before tensor entries are validated (so that the spkv layer can check the
/// format version first: a newer major may use dtypes or fields this reader does not know).
struct RawHeader {
    var metadata: [String: String]
    var entries: [(name: String, value: JSONValue)]
    /// Offset of the data section in the source (8 + N).
    var dataStart: Int
    var dataSize: Int

    static func parse(_ source: some ModelByteSource) throws(ModelFileError) -> RawHeader {
        let size = source.byteCount
        guard size >= 8 else { throw .fileTooShort(byteCount: size) }
        let prefix = AlignedBytes(count: 8)
        try source.read(at: 0, into: prefix.mutableBuffer)
        let declared = UInt64(littleEndian: prefix.buffer.load(as: UInt64.self))
        guard declared <= UInt64(SafeTensors.maxHeaderByteCount) else {
            throw .headerTooLarge(declared: declared, limit: SafeTensors.maxHeaderByteCount)
        }
        guard declared <= UInt64(size - 8) else { throw .headerBeyondEndOfFile(declared: declared, available: size - 8) }
        let n = Int(declared)

        let headerStorage = AlignedBytes(count: n)
        if n > 0 { try source.read(at: 8, into: headerStorage.mutableBuffer) }
        let headerBytes = headerStorage.buffer.assumingMemoryBound(to: UInt8.self)
        if let bad = firstInvalidUTF8(headerBytes) { throw .headerNotUTF8(offset: bad) }
        let root: JSONValue
        do throws(JSONParseError) {
            root = try JSONParser.parse(headerBytes)
        } catch {
            throw .headerNotJSON(offset: error.offset, reason: error.reason)
        }

        guard case let .object(members) = root else {
            throw .invalidHeader(field: "(top level)", problem: "is \(root.typeName), expected an object")
        }
        var metadata: [String: String] = [:]
        var entries: [(name: String, value: JSONValue)] = []
        for member in members {
            let (key, value) = (member.key, member.value)
            guard key == "__metadata__" else {
                entries.append((key, value))
                continue
            }
            guard case let .object(pairs) = value else {
                throw .invalidHeader(field: "__metadata__", problem: "is \(value.typeName), expected an object of strings")
            }
            for pair in pairs {
                let (k, v) = (pair.key, pair.value)
                guard case let .string(s) = v else {
                    throw .invalidHeader(field: "__metadata__.\(quoted(k))", problem: "is \(v.typeName), expected a string")
                }
                metadata[k] = s
            }
        }
        return RawHeader(metadata: metadata, entries: entries, dataStart: 8 + n, dataSize: size - 8 - n)
    }

    /// Index of the first byte that is not part of valid UTF-8, or nil.
    private static func firstInvalidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var it = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&it) {
            case let .scalarValue(s): offset += UTF8.width(s)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// Checks every tensor entry: JSON types, dtype, shape, byte count, offsets in range, and that
    /// the tensors tile the data section exactly (no overlap, no holes).
    func validateEntries() throws(ModelFileError) -> [TensorEntry] {
        var result: [TensorEntry] = []
        result.reserveCapacity(entries.count)
        for (name, value) in entries {
            let field = quoted(name)
            guard case let .object(fields) = value else {
                throw .invalidHeader(field: field, problem: "is \(value.typeName), expected an object with dtype, shape, data_offsets")
            }
            var dtypeValue: JSONValue?, shapeValue: JSONValue?, offsetsValue: JSONValue?
            for member in fields {
                let (k, v) = (member.key, member.value)
                switch k {
                case "dtype": dtypeValue = v
                case "shape": shapeValue = v
                case "data_offsets": offsetsValue = v
                default: throw .invalidHeader(field: "\(field).\(quoted(k))", problem: "is not a known tensor field (dtype, shape, data_offsets)")
                }
            }
            guard let dtypeValue else { throw .invalidHeader(field: "\(field).dtype", problem: "is missing") }
            guard let shapeValue else { throw .invalidHeader(field: "\(field).shape", problem: "is missing") }
            guard let offsetsValue else { throw .invalidHeader(field: "\(field).data_offsets", problem: "is missing") }

            guard case let .string(dtypeName) = dtypeValue else {
                throw .invalidHeader(field: "\(field).dtype", problem: "is \(dtypeValue.typeName), expected a string")
            }
            guard let dtype = TensorDType(rawValue: dtypeName) else { throw .unknownDType(tensor: name, dtype: dtypeName) }

            let shape = try integers(shapeValue, field: "\(field).shape", allowNegative: true)
            guard let count = shapeElementCount(shape) else {
                let reason = shape.contains { $0 < 0 } ? "negative dimension" : "element count overflows Int"
                throw .invalidShape(tensor: name, shape: shape, reason: reason)
            }
            let (expectedBytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow else { throw .invalidShape(tensor: name, shape: shape, reason: "byte count overflows Int") }

            let offsets = try integers(offsetsValue, field: "\(field).data_offsets", allowNegative: false)
            guard offsets.count == 2 else {
                throw .invalidHeader(field: "\(field).data_offsets", problem: "has \(offsets.count) elements, expected [begin, end]")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end, end <= dataSize else {
                throw .offsetsOutOfRange(tensor: name, begin: begin, end: end, dataSize: dataSize)
            }
            guard end - begin == expectedBytes else {
                throw .byteCountMismatch(tensor: name, dtype: dtype, shape: shape, expected: expectedBytes, actual: end - begin)
            }
            result.append(TensorEntry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }

        // Tiling: sorted by (begin, end), each tensor starts where the previous one ended.
        result.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var position = 0
        var previous: String?
        for e in result {
            if e.begin < position { throw .overlappingTensors(first: previous ?? e.name, second: e.name) }
            if e.begin > position { throw .dataGap(after: previous, before: e.name, start: position, end: e.begin) }
            position = e.end
            previous = e.name
        }
        if position < dataSize { throw .dataGap(after: previous, before: nil, start: position, end: dataSize) }
        return result
    }

    private func integers(_ value: JSONValue, field: String, allowNegative: Bool) throws(ModelFileError) -> [Int] {
        guard case let .array(elements) = value else {
            throw .invalidHeader(field: field, problem: "is \(value.typeName), expected an array of integers")
        }
        var out: [Int] = []
        out.reserveCapacity(elements.count)
        for (i, element) in elements.enumerated() {
            guard let v = element.integer else {
                let what: String
                if case let .number(text) = element { what = "\(text), which is not an integer in Int range" } else { what = element.typeName }
                throw .invalidHeader(field: "\(field)[\(i)]", problem: "is \(what), expected an integer")
            }
            guard allowNegative || v >= 0 else {
                throw .invalidHeader(field: "\(field)[\(i)]", problem: "is \(v), expected a non-negative integer")
            }
            out.append(v)
        }
        return out
    }

    /// Copies each tensor into aligned storage. Entries are in data order and tile the data section,
    /// so the CRC over the tensors in that order is the CRC of the whole data section.
    func load(_ entries: [TensorEntry], from source: some ModelByteSource,
              checksum: Bool) throws(ModelFileError) -> (tensors: [String: StoredTensor], crc: UInt32) {
        var tensors: [String: StoredTensor] = [:]
        tensors.reserveCapacity(entries.count)
        var crc = CRC32()
        for e in entries {
            let storage = AlignedBytes(count: e.end - e.begin)
            if storage.count > 0 { try source.read(at: dataStart + e.begin, into: storage.mutableBuffer) }
            if checksum { crc.update(storage.buffer) }
            tensors[e.name] = StoredTensor(name: e.name, dtype: e.dtype, shape: e.shape, storage: storage)
        }
        return (tensors, crc.value)
    }
}

/// A tensor or key name quoted for error messages.
func quoted(_ name: String) -> String { "\"\(name)\"" }
