/// A PyTorch checkpoint (`.ckpt`/`.pt`/`.pth`, the zip format `torch.save` writes since 1.6) read
/// without Python and without executing anything.
///
///     <root>/data.pkl        pickle of the saved object (a state_dict, or a dict holding one)
///     <root>/data/<key>      raw little-endian bytes of each storage
///     <root>/byteorder       "little" (absent in old files)
///
/// The pickle goes through `Unpickler`, which accepts only the globals in `allowList` and calls
/// none of them. Tensors are rebuilt from `_rebuild_tensor_v2`'s storage, offset, size and stride
/// (views with an offset are sliced; other strided views are copied out element by element).
/// Nested dicts are flattened with dots (`{"model": {"fc.weight": …}}` → `model.fc.weight`);
/// non-tensor values are skipped and listed in `skipped`.
///
/// No byte sequence traps: every malformed input is a `PyTorchCheckpointError`. Nor can a small
/// file make the reader build something huge: zip entries may not overlap, and what is decoded
/// (flattened entries and names, storages, tensor copies, `_codecs.encode` output) is charged to
/// one `DecodeBudget`.
public struct PyTorchCheckpoint: Sendable {
    /// A value that was not a tensor (or a dict of them), e.g. `epoch` in a training checkpoint.
    public struct SkippedEntry: Sendable, Equatable, CustomStringConvertible {
        /// Flattened name (`epoch`, `optimizer.param_groups`).
        public let name: String
        /// Python type of the value (`int`, `float`, `str`, `list`, …).
        public let kind: String
        public var description: String { "\(name) (\(kind))" }
    }

    /// Tensors by flattened name; each `Tensor.name` equals its key.
    public let tensors: [String: StoredTensor]
    /// Non-tensor values, in pickle order.
    public let skipped: [SkippedEntry]

    /// The globals a checkpoint's pickle may name (`module.name`); anything else is refused.
    public static var allowList: [String] { PickleGlobal.allowList }
    /// Deepest dict nesting flattened (deeper nesting, or a cycle, is an error).
    public static let maxNestingDepth = 32
    /// Longest flattened name, in UTF-8 bytes.
    public static let maxNameByteCount = 1 << 16
    /// What the reader decodes (all flattened names, storages read, tensors copied, bytes from
    /// `_codecs.encode`) may take at most this many times the file's size. A state_dict takes about
    /// twice: its storages, then its tensors (views of one storage are copied apart, so tied weights
    /// count twice).
    public static let maxExpansion = 8

    /// True when `prefix` starts like a zip archive ("PK"), the format of `torch.save` since 1.6.
    public static func hasZipSignature(_ prefix: some Collection<UInt8>) -> Bool {
        prefix.starts(with: [0x50, 0x4B])
    }

    /// True when `prefix` starts with a pickle `PROTO` opcode: the legacy (pre-1.6, or
    /// `_use_new_zipfile_serialization=False`) format, which this reader does not handle.
    public static func hasLegacyPickleSignature(_ prefix: some Collection<UInt8>) -> Bool {
        prefix.first == 0x80
    }

    // MARK: - Reading

    public static func read(path: String) throws(PyTorchCheckpointError) -> PyTorchCheckpoint {
        let source: FileByteSource
        do { source = try FileByteSource(path: path) } catch { throw .io(error) }
        return try read(from: source)
    }

    public static func read(bytes: [UInt8]) throws(PyTorchCheckpointError) -> PyTorchCheckpoint {
        try read(from: ByteArraySource(bytes))
    }

    public static func read(from source: some ModelByteSource) throws(PyTorchCheckpointError) -> PyTorchCheckpoint {
        let head = try ZipArchive.read(source, at: 0, count: min(4, source.byteCount), what: "file signature")
        if hasLegacyPickleSignature(head) { throw .legacyFormat }
        guard hasZipSignature(head) else { throw .notZipArchive(reason: "the file does not start with a zip signature (\"PK\")") }
        let archive = try ZipArchive(source: source)

        let pickles = archive.entries.filter { e in
            e.name.hasSuffix("/data.pkl") && e.name.utf8.filter { $0 == UInt8(ascii: "/") }.count == 1
        }
        guard let pickle = pickles.first else { throw .missingEntry(name: "<root>/data.pkl") }
        guard pickles.count == 1 else {
            throw .malformedZip("\(pickles.count) pickles (\(pickles.map(\.name).joined(separator: ", "))); expected one <root>/data.pkl")
        }
        let root = String(pickle.name.dropLast("data.pkl".count))
        if let order = archive.entry(named: root + "byteorder") {
            let text = String(decoding: try archive.contents(of: order), as: UTF8.self)
            guard text == "little" else { throw .unsupportedByteOrder(text) }
        }

        let pickleBytes = try archive.contents(of: pickle)
        var budget = DecodeBudget(pickleByteCount: pickleBytes.count, fileByteCount: source.byteCount)
        let unpickler = Unpickler(pickleBytes, budget: budget)
        let value = try unpickler.load()
        budget = unpickler.budget
        var found: [(name: String, tensor: PickledTensor)] = []
        var skipped: [SkippedEntry] = []
        guard case .dict(let top) = value else { throw .notAStateDict(found: value.kind) }
        try flatten(top, prefix: "", depth: 1, budget: &budget, into: &found, skipped: &skipped)

        var storages = StorageCache(archive: archive, root: root)
        var tensors: [String: StoredTensor] = [:]
        tensors.reserveCapacity(found.count)
        for (name, pickled) in found {
            guard tensors[name] == nil else { throw .duplicateTensorName(name) }
            let tensor = try materialise(name: name, pickled, from: &storages, budget: &budget, limit: source.byteCount)
            tensors[name] = tensor
        }
        return PyTorchCheckpoint(tensors: tensors, skipped: skipped)
    }

    // MARK: - Budget

    /// What one checkpoint may make the reader build. Pickles share values through their memo, so a
    /// small file can name one dict, string or storage many times and each use is decoded anew;
    /// every use is charged here as it is decoded, before it is built, and the first overdraft is a
    /// `.tooLarge` error.
    struct DecodeBudget {
        /// Flattened entries: shared sub-dicts could expand exponentially, so about as many as the
        /// pickle has bytes.
        let entryLimit: Int
        /// Bytes decoded: all flattened names, storages read, tensors copied, `_codecs.encode` output.
        let byteLimit: Int
        private(set) var entriesLeft: Int
        private(set) var bytesLeft: Int

        init(pickleByteCount: Int, fileByteCount: Int) {
            entryLimit = pickleByteCount + 64
            let (bytes, overflow) = fileByteCount.multipliedReportingOverflow(by: PyTorchCheckpoint.maxExpansion)
            byteLimit = overflow ? Int.max : bytes
            entriesLeft = entryLimit
            bytesLeft = byteLimit
        }

        static let flattening = "while flattening names: a dict or string shared through the pickle memo repeats in every name under it"

        /// The `what` of the byte budget's `.tooLarge`, naming the step that overdrew it.
        static func what(reachedAt step: String) -> String {
            "the bytes of flattened names, storages and tensor copies (reached \(step))"
        }

        mutating func spendEntry() throws(PyTorchCheckpointError) {
            guard entriesLeft > 0 else { throw .tooLarge(what: "the number of entries after flattening shared dicts", limit: entryLimit) }
            entriesLeft -= 1
        }

        mutating func spend(bytes: Int, at step: @autoclosure () -> String) throws(PyTorchCheckpointError) {
            guard bytes <= bytesLeft else { throw .tooLarge(what: Self.what(reachedAt: step()), limit: byteLimit) }
            bytesLeft -= bytes
        }
    }

    // MARK: - Flattening

    static func flatten(_ dict: PickleDict, prefix: String, depth: Int, budget: inout DecodeBudget,
                        into found: inout [(name: String, tensor: PickledTensor)],
                        skipped: inout [SkippedEntry]) throws(PyTorchCheckpointError) {
        for (key, value) in dict.entries {
            try budget.spendEntry()
            // Sized before it is built: a long shared key must not be copied into many names first.
            let keyText = key.text
            let nameByteCount = prefix.isEmpty ? keyText.utf8.count : prefix.utf8.count + 1 + keyText.utf8.count
            guard nameByteCount <= maxNameByteCount else { throw .tooLarge(what: "a flattened name's length in bytes", limit: maxNameByteCount) }
            try budget.spend(bytes: nameByteCount, at: DecodeBudget.flattening)
            let name = prefix.isEmpty ? keyText : prefix + "." + keyText
            switch value {
            case .tensor(let t): found.append((name, t))
            case .dict(let inner):
                guard depth < maxNestingDepth else { throw .nestingTooDeep(name: name, limit: maxNestingDepth) }
                try flatten(inner, prefix: name, depth: depth + 1, budget: &budget, into: &found, skipped: &skipped)
            default: skipped.append(SkippedEntry(name: name, kind: value.kind))
            }
        }
    }

    // MARK: - Tensors

    /// Storage bytes by key, read from the archive once and size-checked against the persistent id.
    struct StorageCache {
        let archive: ZipArchive
        let root: String
        var bytes: [String: [UInt8]] = [:]

        mutating func bytes(of storage: PickledStorage, for tensor: String,
                            budget: inout DecodeBudget) throws(PyTorchCheckpointError) -> [UInt8] {
            if let cached = bytes[storage.key] { return try checked(cached, storage, tensor) }
            let name = root + "data/" + storage.key
            guard let entry = archive.entry(named: name) else { throw .missingEntry(name: name) }
            try budget.spend(bytes: entry.size, at: "reading storage '\(storage.key)'")
            let data = try archive.contents(of: entry)
            bytes[storage.key] = data
            return try checked(data, storage, tensor)
        }

        private func checked(_ data: [UInt8], _ storage: PickledStorage, _ tensor: String) throws(PyTorchCheckpointError) -> [UInt8] {
            let itemSize: Int
            switch storage.type {
            case .typed(let dtype): itemSize = dtype.byteSize
            case .untyped: itemSize = 1
            }
            let (expected, overflow) = storage.elementCount.multipliedReportingOverflow(by: itemSize)
            guard !overflow, expected == data.count else {
                throw .invalidTensor(name: tensor, problem: "storage '\(storage.key)' holds \(data.count) bytes, but its header says \(storage.elementCount) elements of \(itemSize) bytes")
            }
            return data
        }
    }

    static func materialise(name: String, _ t: PickledTensor, from storages: inout StorageCache,
                            budget: inout DecodeBudget, limit: Int) throws(PyTorchCheckpointError) -> StoredTensor {
        guard case .typed(let dtype) = t.storage.type else {
            throw .invalidTensor(name: name, problem: "it is built on an untyped storage, so its element type is unknown")
        }
        let e = dtype.byteSize
        guard let count = shapeElementCount(t.shape), case (let byteCount, false) = count.multipliedReportingOverflow(by: e),
              byteCount <= limit
        else {
            throw .invalidTensor(name: name, problem: "shape \(t.shape) of \(dtype) is larger than the whole file (\(limit) bytes)")
        }
        func make(_ bytes: [UInt8]) throws(PyTorchCheckpointError) -> StoredTensor {
            do { return try StoredTensor(name: name, dtype: dtype, shape: t.shape, bytes: bytes) } catch {
                throw .invalidTensor(name: name, problem: error.description)
            }
        }
        if count == 0 { return try make([]) }

        // Last element addressed by the view: offset + Σ (size − 1)·stride, all in elements.
        var last = t.storageOffset
        for (size, stride) in zip(t.shape, t.stride) {
            let (step, o1) = (size - 1).multipliedReportingOverflow(by: stride)
            let (sum, o2) = last.addingReportingOverflow(step)
            guard !o1, !o2 else { throw .invalidTensor(name: name, problem: "offset and strides overflow") }
            last = sum
        }
        guard last < t.storage.elementCount else {
            throw .invalidTensor(name: name, problem: "view (offset \(t.storageOffset), size \(t.shape), stride \(t.stride)) reaches element \(last) of storage '\(t.storage.key)', which has \(t.storage.elementCount)")
        }
        let data = try storages.bytes(of: t.storage, for: name, budget: &budget)
        // Views of one storage are copied apart, so each copy is charged.
        try budget.spend(bytes: byteCount, at: "copying tensor '\(name)': views of one storage are copied apart")

        // Row-major contiguous (dimensions of size 1 may carry any stride): one slice.
        var expected = 1, contiguous = true
        for (size, stride) in zip(t.shape, t.stride).reversed() where size != 1 {
            if stride != expected { contiguous = false; break }
            expected *= size
        }
        if contiguous { return try make(Array(data[t.storageOffset * e..<(t.storageOffset + count) * e])) }

        // Any other strided view: gather element by element. Every visited index lies in
        // [offset, last] (bounded above); size-1 dimensions get stride 0 so the odometer's
        // intermediate sums stay small.
        let stride = zip(t.shape, t.stride).map { $0 == 1 ? 0 : $1 }
        var out = [UInt8](repeating: 0, count: byteCount)
        var index = [Int](repeating: 0, count: t.shape.count)
        var source = t.storageOffset
        out.withUnsafeMutableBytes { dst in
            data.withUnsafeBytes { src in
                for k in 0..<count {
                    dst.baseAddress!.advanced(by: k * e).copyMemory(from: src.baseAddress!.advanced(by: source * e), byteCount: e)
                    var d = t.shape.count - 1
                    while d >= 0 {
                        index[d] += 1
                        source &+= stride[d]
                        if index[d] < t.shape[d] { break }
                        source &-= stride[d] &* t.shape[d]
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
        return try make(out)
    }
}

// MARK: - Errors

/// Why a PyTorch checkpoint could not be read. Every description says what failed and how to get
/// the weights in anyway (convert with `tools/convert_checkpoint.py`, which uses
/// `torch.load(weights_only=True)`).
public enum PyTorchCheckpointError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or read.
    case io(ModelFileError)
    /// A legacy (pre-1.6, non-zip) torch.save pickle.
    case legacyFormat
    /// Not a zip archive at all.
    case notZipArchive(reason: String)
    /// A zip feature this reader leaves out (split archives).
    case unsupportedZip(String)
    /// A zip structure is inconsistent (offsets, sizes, signatures).
    case malformedZip(String)
    /// Two entries share bytes of the file (the zip-bomb pattern); torch.save never writes that.
    case overlappingZipEntries(first: String, second: String)
    /// An entry is compressed or encrypted (torch writes stored entries).
    case unsupportedZipEntry(entry: String, reason: String)
    case checksumMismatch(entry: String, stored: String, computed: String)
    /// A required entry (`<root>/data.pkl`, a storage) is absent.
    case missingEntry(name: String)
    /// The `byteorder` entry is not "little".
    case unsupportedByteOrder(String)
    case malformedPickle(offset: Int, problem: String)
    /// An opcode outside the supported binary subset (text protocol, extensions, buffers, …).
    case unsupportedOpcode(opcode: UInt8, name: String, offset: Int)
    /// The pickle names a global outside the allow-list; nothing was executed.
    case forbiddenGlobal(module: String, name: String)
    /// The pickled object is not a dict (e.g. a whole `nn.Module`).
    case notAStateDict(found: String)
    case nestingTooDeep(name: String, limit: Int)
    /// Two entries flatten to the same dotted name.
    case duplicateTensorName(String)
    case invalidTensor(name: String, problem: String)
    /// A resource limit (entries, name length, bytes decoded) was exceeded.
    case tooLarge(what: String, limit: Int)

    /// For a zip error met outside a checkpoint (`ZipArchive` on other archives): what is wrong, without
    /// the checkpoint advice; nil for the pickle and tensor cases.
    public var zipDescription: String? {
        switch self {
        case .io(let e): return "cannot read the archive: \(e)"
        case .notZipArchive(let reason): return "not a zip archive: \(reason)"
        case .unsupportedZip(let what): return "unsupported zip archive: \(what)"
        case .malformedZip(let what): return "damaged zip archive: \(what)"
        case let .overlappingZipEntries(first, second): return "damaged zip archive: entries '\(first)' and '\(second)' overlap in the file"
        case let .unsupportedZipEntry(entry, reason): return "zip entry '\(entry)' cannot be read: \(reason)"
        case let .checksumMismatch(entry, stored, computed): return "zip entry '\(entry)' is corrupt: CRC-32 \(computed), stored \(stored)"
        case .missingEntry(let name): return "the archive has no '\(name)'"
        default: return nil
        }
    }

    static let convertHint = "convert it with `python3 tools/convert_checkpoint.py IN.ckpt OUT.safetensors` and import the .safetensors"

    public var description: String {
        switch self {
        case .io(let e): return "cannot read the checkpoint: \(e)"
        case .legacyFormat:
            return "legacy PyTorch checkpoint (a bare pickle from torch < 1.6 or _use_new_zipfile_serialization=False), which spkv does not read; \(Self.convertHint)"
        case .notZipArchive(let reason):
            return "not a PyTorch zip checkpoint: \(reason); if it is a PyTorch checkpoint, \(Self.convertHint)"
        case .unsupportedZip(let what): return "unsupported zip archive: \(what); \(Self.convertHint)"
        case .malformedZip(let what): return "damaged zip archive: \(what); re-save or re-download the checkpoint"
        case let .overlappingZipEntries(first, second):
            return "damaged or crafted zip archive: entries '\(first)' and '\(second)' overlap in the file, so their bytes would be read once per entry (a zip bomb); torch.save never writes that; re-save or re-download the checkpoint"
        case let .unsupportedZipEntry(entry, reason):
            return "zip entry '\(entry)' cannot be read: \(reason); re-save it with torch.save or \(Self.convertHint)"
        case let .checksumMismatch(entry, stored, computed):
            return "zip entry '\(entry)' is corrupt: CRC-32 \(computed), stored \(stored); re-save or re-download the checkpoint"
        case .missingEntry(let name): return "the archive has no '\(name)'; it is not a complete torch.save checkpoint"
        case .unsupportedByteOrder(let order):
            return "the checkpoint's byte order is '\(order)'; only little-endian checkpoints are read; \(Self.convertHint) on a little-endian machine"
        case let .malformedPickle(offset, problem):
            return "damaged checkpoint pickle (data.pkl) at byte \(offset): \(problem); re-save or re-download the checkpoint"
        case let .unsupportedOpcode(opcode, name, offset):
            return "checkpoint pickle uses opcode \(name) (0x\(String(opcode, radix: 16))) at byte \(offset), outside the subset torch.save emits for state_dicts; \(Self.convertHint)"
        case let .forbiddenGlobal(module, name):
            return "checkpoint pickle references '\(module).\(name)', which is not on spkv's allow-list (tensors, storages, dtypes, OrderedDict); spkv never runs pickled code. If you trust the file, \(Self.convertHint) (add --trust-pickle if it asks)"
        case .notAStateDict(let found):
            return "the checkpoint holds a \(found), not a dict of tensors (state_dict); \(Self.convertHint)"
        case let .nestingTooDeep(name, limit):
            return "dicts nested deeper than \(limit) levels (or a cycle) at '\(name)'; \(Self.convertHint) with --key"
        case .duplicateTensorName(let name):
            return "two entries flatten to the same name '\(name)'; \(Self.convertHint) with --key"
        case let .invalidTensor(name, problem):
            return "tensor '\(name)' in the checkpoint is invalid: \(problem); re-save or re-download the checkpoint"
        case let .tooLarge(what, limit):
            return "the checkpoint exceeds a reader limit: \(what) is over \(limit); \(Self.convertHint) with --key"
        }
    }
}
