/// The spkv `__metadata__` of a model file (all values strings; structured ones are JSON objects
/// in a string, decoded by their owners: `spkv.config` by the architecture, `spkv.features` by the
/// front end, `spkv.scoring` by the scoring back end). See `models/FORMAT.md`.
///
/// `entries` keeps every key, including ones this version does not know, so they survive a
/// read → write. `spkv.data_crc32` is not kept here: it is derived from the tensors, verified on
/// read (see `ModelFile.checksum`) and written by `ModelFile.serialize()`.
public struct ModelMetadata: Sendable, Equatable {
    /// Value of `spkv.format`.
    public static let formatName = "spkv-model"
    /// The major format version this build writes and the newest it reads.
    public static let currentFormatVersion = 1

    /// The metadata keys (see `models/FORMAT.md` for each value's form).
    public enum Key {
        public static let format = "spkv.format"
        public static let formatVersion = "spkv.format_version"
        public static let architecture = "spkv.architecture"
        public static let config = "spkv.config"
        public static let features = "spkv.features"
        public static let scoring = "spkv.scoring"
        public static let quantization = "spkv.quantization"
        public static let producer = "spkv.producer"
        public static let created = "spkv.created"
        public static let training = "spkv.training"
        public static let dataCRC32 = "spkv.data_crc32"

        /// Keys a loadable model must have (besides `spkv.data_crc32`).
        public static let required = [format, formatVersion, architecture, config, features, scoring, quantization]
        /// Keys whose value must be a JSON object.
        public static let jsonObjects = [config, features, scoring, quantization, training]
    }

    /// Default `spkv.scoring`: plain cosine similarity.
    public static let defaultScoring = #"{"kind":"cosine"}"#
    /// Default `spkv.quantization`: float weights.
    public static let defaultQuantization = #"{"scheme":"none","version":1}"#

    /// All key/value pairs, known and unknown (never `spkv.data_crc32`).
    public var entries: [String: String] {
        didSet { entries[Key.dataCRC32] = nil }
    }

    /// Metadata for a new model of the current format version.
    /// - Parameters:
    ///   - architecture: e.g. "ecapa-tdnn".
    ///   - config, features, scoring, quantization, training: JSON objects as text.
    ///   - producer: tool and version or git sha, e.g. "spkv-train 0.3.0 (1a2b3c4)".
    ///   - created: creation date, ISO 8601 (UTC) by convention.
    public init(architecture: String, config: String, features: String,
                scoring: String = ModelMetadata.defaultScoring,
                quantization: String = ModelMetadata.defaultQuantization,
                producer: String? = nil, created: String? = nil, training: String? = nil) {
        entries = [
            Key.format: Self.formatName,
            Key.formatVersion: String(Self.currentFormatVersion),
            Key.architecture: architecture,
            Key.config: config,
            Key.features: features,
            Key.scoring: scoring,
            Key.quantization: quantization,
        ]
        entries[Key.producer] = producer
        entries[Key.created] = created
        entries[Key.training] = training
    }

    /// Metadata from raw entries as found in a file (`spkv.data_crc32` is dropped).
    public init(entries: [String: String]) {
        var entries = entries
        entries[Key.dataCRC32] = nil
        self.entries = entries
    }

    /// Any entry by key.
    public subscript(key: String) -> String? {
        get { entries[key] }
        set { entries[key] = newValue }
    }

    // MARK: - Typed accessors (required keys read "" when absent from an unchecked value)

    public var format: String? { entries[Key.format] }
    /// The major version, or nil if absent or not a decimal integer.
    public var formatVersion: Int? { entries[Key.formatVersion].flatMap { Self.parseVersion($0) } }
    public var architecture: String {
        get { entries[Key.architecture] ?? "" }
        set { entries[Key.architecture] = newValue }
    }
    /// Architecture hyperparameters (JSON object); owned by the architecture's code.
    public var config: String {
        get { entries[Key.config] ?? "" }
        set { entries[Key.config] = newValue }
    }
    /// Front-end configuration (JSON object); owned by SVFeatures.
    public var features: String {
        get { entries[Key.features] ?? "" }
        set { entries[Key.features] = newValue }
    }
    /// Scoring back end (JSON object), e.g. `{"kind":"cosine"}`.
    public var scoring: String {
        get { entries[Key.scoring] ?? "" }
        set { entries[Key.scoring] = newValue }
    }
    /// Quantization scheme (JSON object), e.g. `{"scheme":"none","version":1}`.
    public var quantization: String {
        get { entries[Key.quantization] ?? "" }
        set { entries[Key.quantization] = newValue }
    }
    public var producer: String? {
        get { entries[Key.producer] }
        set { entries[Key.producer] = newValue }
    }
    public var created: String? {
        get { entries[Key.created] }
        set { entries[Key.created] = newValue }
    }
    /// Training provenance (JSON object), e.g. method, epochs, data id.
    public var training: String? {
        get { entries[Key.training] }
        set { entries[Key.training] = newValue }
    }

    // MARK: - Validation

    /// Decimal major version ("1"); nil for anything else (signs, spaces, leading zeros, "1.0").
    static func parseVersion(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 9, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              text == "0" || text.utf8.first != 0x30
        else { return nil }
        return Int(text)
    }

    /// Checks what the loader needs, in this order: spkv.format, spkv.format_version (a newer
    /// major is refused before anything else is interpreted), then the required keys and the form
    /// of the JSON-valued ones.
    static func checkFormat(_ entries: [String: String]) throws(ModelFileError) {
        guard let format = entries[Key.format] else { throw .notSpkvModel(found: nil) }
        guard format == formatName else { throw .notSpkvModel(found: format) }
        guard let versionText = entries[Key.formatVersion] else { throw .missingMetadata(key: Key.formatVersion) }
        guard let version = parseVersion(versionText), version >= 1 else {
            throw .invalidMetadata(key: Key.formatVersion, value: versionText, reason: "expected a positive decimal integer (the major version)")
        }
        guard version <= currentFormatVersion else {
            throw .unsupportedFormatVersion(found: version, supported: currentFormatVersion)
        }
    }

    static func checkRequired(_ entries: [String: String]) throws(ModelFileError) {
        for key in Key.required where entries[key] == nil { throw .missingMetadata(key: key) }
        guard entries[Key.dataCRC32] != nil else { throw .missingMetadata(key: Key.dataCRC32) }
        if entries[Key.architecture]!.isEmpty {
            throw .invalidMetadata(key: Key.architecture, value: "", reason: "expected a non-empty architecture name such as ecapa-tdnn")
        }
        for key in Key.jsonObjects {
            guard let text = entries[key] else { continue }
            let reason: String
            do throws(JSONParseError) {
                if case .object = try JSONParser.parse(text) { continue }
                reason = "expected a JSON object"
            } catch {
                reason = "not JSON (\(error.reason) at offset \(error.offset))"
            }
            throw .invalidMetadata(key: key, value: text, reason: reason)
        }
        let crc = entries[Key.dataCRC32]!
        guard CRC32.parseHex(crc) != nil else {
            throw .invalidMetadata(key: Key.dataCRC32, value: crc, reason: "expected 8 lowercase hex digits")
        }
    }
}
