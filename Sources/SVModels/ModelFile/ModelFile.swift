import SVFiles

/// An spkv model file: a safetensors container with spkv metadata and a data checksum
/// (`models/FORMAT.md`). Weights are immutable once loaded and can be shared between threads.
///
///     let model = try ModelFile.read(path: "models/ecapa-c512-f32-v1.safetensors")
///     // expectedShapes: [String: [Int]], derived by the architecture from model.metadata.config
///     try model.checkTensorTable(expected: expectedShapes)
///     let w = try model.tensor("blocks.0.conv.weight").floats()
public struct ModelFile: Sendable, Equatable {
    public var metadata: ModelMetadata
    /// Tensors by name; the key is the name written to the file.
    public var tensors: [String: StoredTensor] {
        didSet { verifiedChecksum = nil }
    }
    /// The CRC verified when the file was read, while `tensors` is unchanged since.
    private var verifiedChecksum: UInt32?

    /// A new model; names must be unique.
    public init(metadata: ModelMetadata, tensors: [StoredTensor]) {
        self.metadata = metadata
        self.tensors = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in
            preconditionFailure("ModelFile: two tensors named '\(first.name)'")
        })
    }

    /// Tensor names in file order (sorted by UTF-8 bytes).
    public var tensorNames: [String] { SafeTensors.sortedNames(tensors) }

    /// The tensor called `name`, or `ModelFileError.tensorNotFound`.
    public func tensor(_ name: String) throws(ModelFileError) -> StoredTensor {
        guard let t = tensors[name] else { throw .tensorNotFound(name: name) }
        return t
    }

    /// CRC-32 of the data section as 8 lowercase hex digits: `spkv.data_crc32`, a content
    /// fingerprint for `spkv info` and enrollment profiles. For a file just read it is the verified
    /// stored value; otherwise it is computed over the data section `serialize()` would write.
    public var checksum: String { CRC32.hex(verifiedChecksum ?? computeChecksum()) }

    private func computeChecksum() -> UInt32 {
        var crc = CRC32()
        for name in tensorNames { tensors[name]!.withUnsafeBytes { crc.update($0) } }
        return crc.value
    }

    public static func == (a: ModelFile, b: ModelFile) -> Bool {
        a.metadata == b.metadata && a.tensors == b.tensors
    }

    // MARK: - Reading

    public static func read(path: String) throws(ModelFileError) -> ModelFile {
        try read(from: FileByteSource(path: path))
    }

    public static func read(bytes: [UInt8]) throws(ModelFileError) -> ModelFile {
        try read(from: ByteArraySource(bytes))
    }

    /// Reads and checks a model: container structure, `spkv.format`, the major version, required
    /// metadata, tensor tiling, then the data CRC while copying tensors into aligned storage.
    /// The architecture's tensor table is checked separately (`checkTensorTable`).
    public static func read(from source: some ModelByteSource) throws(ModelFileError) -> ModelFile {
        let header = try RawHeader.parse(source)
        try ModelMetadata.checkFormat(header.metadata)
        let entries = try header.validateEntries()
        try ModelMetadata.checkRequired(header.metadata)
        let stored = header.metadata[ModelMetadata.Key.dataCRC32]!
        let loaded = try header.load(entries, from: source, checksum: true)
        guard CRC32.parseHex(stored) == loaded.crc else {
            throw .checksumMismatch(stored: stored, computed: CRC32.hex(loaded.crc))
        }
        var file = ModelFile(metadata: ModelMetadata(entries: header.metadata), tensorsByName: loaded.tensors)
        file.verifiedChecksum = loaded.crc
        return file
    }

    private init(metadata: ModelMetadata, tensorsByName: [String: StoredTensor]) {
        self.metadata = metadata
        self.tensors = tensorsByName
    }

    // MARK: - Writing

    /// The file's bytes: `spkv.format` and `spkv.format_version` set to this build's format,
    /// `spkv.data_crc32` computed; deterministic (see `SafeTensors.serialize()`).
    public func serialize() -> [UInt8] {
        var entries = metadata.entries
        entries[ModelMetadata.Key.format] = ModelMetadata.formatName
        entries[ModelMetadata.Key.formatVersion] = String(ModelMetadata.currentFormatVersion)
        entries[ModelMetadata.Key.dataCRC32] = CRC32.hex(computeChecksum())
        return SafeTensors(metadata: entries, tensorsByName: tensors).serialize()
    }

    /// Writes the file atomically (temporary file in the same folder, fsync, rename).
    public func write(path: String) throws(ModelFileError) {
        do { try AtomicFile.write(serialize(), to: path) } catch {
            throw .io(operation: error.operation, path: error.path, errno: error.errno)
        }
    }

    // MARK: - Tensor table

    /// Checks the tensors against what the architecture expects (names → shapes). Every problem is
    /// reported at once, sorted by name: tensors the file has but `expected` lacks, tensors
    /// `expected` lists but the file lacks (unless in `optional`), and shape mismatches.
    public func checkTensorTable(expected: [String: [Int]], optional: Set<String> = []) throws(ModelFileError) {
        var problems: [TensorTableProblem] = []
        for (name, tensor) in tensors {
            if let shape = expected[name] {
                if shape != tensor.shape { problems.append(.shapeMismatch(tensor: name, expected: shape, actual: tensor.shape)) }
            } else {
                problems.append(.unexpected(tensor: name, shape: tensor.shape))
            }
        }
        for (name, shape) in expected where tensors[name] == nil && !optional.contains(name) {
            problems.append(.missing(tensor: name, expected: shape))
        }
        guard problems.isEmpty else {
            problems.sort { $0.tensor.utf8.lexicographicallyPrecedes($1.tensor.utf8) }
            throw .tensorTable(problems)
        }
    }
}
