import Foundation
import SVModels

/// Embeddings of audio files stored between runs of `spkv score` (`--embeddings FILE`): a
/// safetensors file with one (N, D) tensor and, in its metadata, the model's checksum and each
/// file's path, size and modification time, so an entry is used only while its audio is unchanged
/// and only with the model that made it.
///
/// A cache is read back only when it checks out: the index's format version, the CRC-32 of the
/// table (as `zlib.crc32`), D equal to the model's embedding size, and every value finite. A bad
/// cache is an `EmbeddingCacheError` naming the file, never a trap later in scoring.
public struct EmbeddingCache: Sendable {
    public struct Key: Hashable, Codable, Sendable {
        public var path: String
        public var size: Int
        public var modified: Double

        /// The key of the file as it is now on disk, or nil when it cannot be read.
        public static func current(path: String) -> Key? {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  let size = attributes[.size] as? Int, let date = attributes[.modificationDate] as? Date else { return nil }
            return Key(path: path, size: size, modified: date.timeIntervalSince1970)
        }
    }

    public let modelChecksum: String
    public private(set) var entries: [Key: [Float]] = [:]

    public init(modelChecksum: String) { self.modelChecksum = modelChecksum }

    public subscript(key: Key) -> [Float]? {
        get { entries[key] }
        set { entries[key] = newValue }
    }

    static let metadataKey = "spkv.embedding_cache"
    static let tensorName = "embeddings"
    /// 2 added `version` and `crc32` to the index; a version-1 index has neither.
    static let formatVersion = 2

    struct Index: Codable {
        /// Absent in version 1.
        var version: Int?
        var modelChecksum: String
        var dimension: Int
        var keys: [Key]
        /// CRC-32 of the table's bytes, 8 hex digits; absent in version 1.
        var crc32: String?
    }

    /// Reads a cache file made with the model whose checksum and embedding size are given. A cache of
    /// another model or format, a damaged table, rows of another length or non-finite values are errors.
    public static func read(path: String, modelChecksum: String,
                            embeddingDimension: Int) throws(EmbeddingCacheError) -> EmbeddingCache {
        let file: SafeTensors
        do { file = try SafeTensors.read(path: path) } catch { throw .unreadable(path: path, reason: error.description) }
        guard let json = file.metadata[metadataKey],
              let index = try? JSONDecoder().decode(Index.self, from: Data(json.utf8)) else {
            throw .unreadable(path: path, reason: "not an spkv embedding cache")
        }
        guard index.modelChecksum == modelChecksum else {
            throw .otherModel(path: path, cacheModel: index.modelChecksum, model: modelChecksum)
        }
        // Refused rather than rebuilt: the library has no channel to say it replaced a user's file.
        guard index.version == formatVersion else { throw .unsupportedFormat(path: path, version: index.version ?? 1) }
        guard let storedCRC = index.crc32 else { throw .unreadable(path: path, reason: "its index has no CRC-32 of the embeddings (damaged); \(EmbeddingCacheError.rebuildHint)") }
        var cache = EmbeddingCache(modelChecksum: modelChecksum)
        guard !index.keys.isEmpty else { return cache }
        // Same checksum yet another length means a damaged or hand-made index; the rows would
        // otherwise meet the model's own embeddings in a cosine and trap there.
        guard index.dimension == embeddingDimension else {
            throw .dimensionMismatch(path: path, cacheDimension: index.dimension, modelDimension: embeddingDimension)
        }
        guard let tensor = file.tensors[tensorName], tensor.shape == [index.keys.count, index.dimension],
              let values = try? tensor.floats() else {
            throw .unreadable(path: path, reason: "the embedding table does not match its index")
        }
        let computedCRC = CRC32.hex(CRC32.checksum(tensor.bytes))
        guard computedCRC == storedCRC else {
            throw .checksumMismatch(path: path, stored: storedCRC, computed: computedCRC)
        }
        for (row, key) in index.keys.enumerated() {
            let embedding = Array(UnsafeBufferPointer(start: values.pointer + row * index.dimension, count: index.dimension))
            guard embedding.allSatisfy(\.isFinite) else { throw .nonFiniteEmbedding(path: path, audio: key.path) }
            cache.entries[key] = embedding
        }
        return cache
    }

    /// Writes the cache atomically.
    public func write(path: String) throws(EmbeddingCacheError) {
        let keys = entries.keys.sorted { ($0.path, $0.size, $0.modified) < ($1.path, $1.size, $1.modified) }
        let dimension = keys.first.map { entries[$0]!.count } ?? 0
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            let table = try StoredTensor(name: Self.tensorName, shape: [keys.count, dimension], floats: keys.flatMap { entries[$0]! })
            let index = Index(version: Self.formatVersion, modelChecksum: modelChecksum, dimension: dimension, keys: keys,
                              crc32: CRC32.hex(CRC32.checksum(table.bytes)))
            let json = String(decoding: try encoder.encode(index), as: UTF8.self)
            try SafeTensors(metadata: [Self.metadataKey: json], tensors: [table]).write(path: path)
        } catch let error as ModelFileError {
            throw .unwritable(path: path, reason: error.description)
        } catch {
            throw .unwritable(path: path, reason: "\(error)")
        }
    }
}

public enum EmbeddingCacheError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case otherModel(path: String, cacheModel: String, model: String)
    /// Written in another cache format (version 1 had no CRC of its table).
    case unsupportedFormat(path: String, version: Int)
    /// Rows of another length than the model's embeddings.
    case dimensionMismatch(path: String, cacheDimension: Int, modelDimension: Int)
    /// The table's CRC-32 differs from the one in the index.
    case checksumMismatch(path: String, stored: String, computed: String)
    /// The embedding cached for `audio` holds a NaN or an infinity.
    case nonFiniteEmbedding(path: String, audio: String)
    case unwritable(path: String, reason: String)

    static let rebuildHint = "delete it and the next `spkv score --embeddings` builds a new one"

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): cannot use the embedding cache: \(reason)"
        case .otherModel(let path, let cacheModel, let model):
            return "\(path) holds embeddings of model \(cacheModel), not of this model (\(model)); use another --embeddings file or delete it"
        case let .unsupportedFormat(path, version) where version < EmbeddingCache.formatVersion:
            return "\(path): embedding cache format \(version), from an older spkv, has no checksum of its embeddings, so it is not used; \(Self.rebuildHint)"
        case let .unsupportedFormat(path, version):
            return "\(path): embedding cache format \(version) is newer than this spkv reads (\(EmbeddingCache.formatVersion)); use a newer spkv, or \(Self.rebuildHint)"
        case let .dimensionMismatch(path, cacheDimension, modelDimension):
            return "\(path): the embedding cache holds \(cacheDimension)-dimensional embeddings, but this model's are \(modelDimension)-dimensional; the cache is damaged: \(Self.rebuildHint)"
        case let .checksumMismatch(path, stored, computed):
            return "\(path): the embedding cache is corrupt: its table has CRC-32 \(computed), its index says \(stored); \(Self.rebuildHint)"
        case let .nonFiniteEmbedding(path, audio):
            return "\(path): the embedding cache holds a non-finite value (NaN or infinity) in the embedding of \(audio); \(Self.rebuildHint)"
        case .unwritable(let path, let reason): return "cannot write the embedding cache \(path): \(reason)"
        }
    }
}
