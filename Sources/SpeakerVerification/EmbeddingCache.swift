import Foundation
import SVModels

/// Embeddings of audio files stored between runs of `spkv score` (`--embeddings FILE`): a
/// safetensors file with one (N, D) tensor and, in its metadata, the model's checksum and each
/// file's path, size and modification time, so an entry is used only while its audio is unchanged
/// and only with the model that made it.
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

    struct Index: Codable { var modelChecksum: String; var dimension: Int; var keys: [Key] }

    /// Reads a cache file; a cache made with another model is refused.
    public static func read(path: String, modelChecksum: String) throws(EmbeddingCacheError) -> EmbeddingCache {
        let file: SafeTensors
        do { file = try SafeTensors.read(path: path) } catch { throw .unreadable(path: path, reason: error.description) }
        guard let json = file.metadata[metadataKey],
              let index = try? JSONDecoder().decode(Index.self, from: Data(json.utf8)) else {
            throw .unreadable(path: path, reason: "not an spkv embedding cache")
        }
        guard index.modelChecksum == modelChecksum else {
            throw .otherModel(path: path, cacheModel: index.modelChecksum, model: modelChecksum)
        }
        var cache = EmbeddingCache(modelChecksum: modelChecksum)
        guard !index.keys.isEmpty else { return cache }
        guard let tensor = file.tensors[tensorName], tensor.shape == [index.keys.count, index.dimension],
              let values = try? tensor.floats() else {
            throw .unreadable(path: path, reason: "the embedding table does not match its index")
        }
        for (row, key) in index.keys.enumerated() {
            cache.entries[key] = Array(UnsafeBufferPointer(start: values.pointer + row * index.dimension, count: index.dimension))
        }
        return cache
    }

    /// Writes the cache atomically.
    public func write(path: String) throws(EmbeddingCacheError) {
        let keys = entries.keys.sorted { ($0.path, $0.size, $0.modified) < ($1.path, $1.size, $1.modified) }
        let dimension = keys.first.map { entries[$0]!.count } ?? 0
        let index = Index(modelChecksum: modelChecksum, dimension: dimension, keys: keys)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            let json = String(decoding: try encoder.encode(index), as: UTF8.self)
            let table = try Tensor(name: Self.tensorName, shape: [keys.count, dimension], floats: keys.flatMap { entries[$0]! })
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
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): cannot use the embedding cache: \(reason)"
        case .otherModel(let path, let cacheModel, let model):
            return "\(path) holds embeddings of model \(cacheModel), not of this model (\(model)); use another --embeddings file or delete it"
        case .unwritable(let path, let reason): return "cannot write the embedding cache \(path): \(reason)"
        }
    }
}
