import Foundation
import SpeakerVerification
import SVModels

/// A frozen spkv model's embedding of every whole clean training utterance, L2-normalised, computed once per audio
/// file and model, never per epoch. Reference-guided SSPS (`ssps.reference_model`) takes ŷ from it; distillation
/// (`distill.teacher_model`) its targets.
///
/// The cache is keyed by the model's checksum and each audio file (its real path after symlinks, size and modification
/// time: the `spkv score --embeddings` format), not by corpus: a merged corpus, whose `wav/` links to its sources,
/// reuses what a run on a source embedded, and only new or changed clips are embedded. A run keeps its role's cache in
/// its folder (`ssps-reference.safetensors`, `distill-teacher.safetensors`; a teacher equal to the SSPS reference reads
/// the other's); `sharedCache` (`spkv-train train --embedding-cache DIR`) adds `DIR/<model checksum>.safetensors`,
/// read and extended by every run that names it.
public struct FrozenEmbeddingTable: Sendable {
    public let dimension: Int
    public let modelChecksum: String
    /// (utterances × dimension), unit rows, in the corpus's training order (the batch indices).
    public let rows: [Float]
    /// Whether every row came from a cache (nothing was embedded).
    public let fromCache: Bool

    public init(dimension: Int, modelChecksum: String, rows: [Float], fromCache: Bool) {
        self.dimension = dimension; self.modelChecksum = modelChecksum; self.rows = rows; self.fromCache = fromCache
    }

    /// What the table is for: its config key (named in errors) and its cache file in the run folder.
    public enum Role: String, Sendable, CaseIterable {
        case sspsReference = "ssps.reference_model", distillTeacher = "distill.teacher_model"
        var cacheName: String { self == .sspsReference ? "ssps-reference.safetensors" : "distill-teacher.safetensors" }
    }

    /// Embeds (or reads from the caches) every training utterance of `corpus` with the model at `modelPath`, saving the
    /// run's cache every `saveEvery` embedded files.
    public static func load(modelPath: String, corpus: TrainingCorpus, runDirectory: String, threads: Int, role: Role = .sspsReference,
                            sharedCache: String? = nil, saveEvery: Int = 1000,
                            log: @escaping @Sendable (String) -> Void = { _ in }) throws(TrainingError) -> FrozenEmbeddingTable {
        let model: SpeakerModel
        do { model = try SpeakerModel.load(path: modelPath) } catch {
            throw .config(key: role.rawValue, reason: "\(error)")
        }
        let paths = corpus.train.map { URL(fileURLWithPath: corpus.wavPath($0.path)).resolvingSymlinksInPath().path }
        var keys: [EmbeddingCache.Key] = []
        keys.reserveCapacity(paths.count)
        for (i, path) in paths.enumerated() {
            guard let key = EmbeddingCache.Key.current(path: path) else {
                throw .corpus(path: corpus.path, reason: "wav/\(corpus.train[i].path): cannot read the file")
            }
            keys.append(key)
        }
        let runCache = "\(runDirectory)/\(role.cacheName)"
        // This role's cache first, then the other role's (a teacher that is also the SSPS reference), then the shared one.
        let own = try readRunCache(path: runCache, model: model, corpus: corpus, keys: keys)
        var known = own.cache
        for other in Role.allCases where other != role {
            // The other role's damaged cache is only a missed shortcut; this role's is the run's own and must be mended.
            do {
                let rows = try readRunCache(path: "\(runDirectory)/\(other.cacheName)", model: model, corpus: corpus, keys: keys).cache
                for (key, row) in rows.entries where known[key] == nil { known[key] = row }
            } catch { log("\(error); not used") }
        }
        let sharedPath = sharedCache.map { "\($0)/\(model.checksum).safetensors" }
        if let sharedPath {
            for (key, row) in try readShared(path: sharedPath, model: model).entries where known[key] == nil { known[key] = row }
        }
        // Each missing file once, even when several rows of the corpus name it.
        var seen = Set<EmbeddingCache.Key>()
        let missing = keys.indices.filter { known[keys[$0]] == nil && seen.insert(keys[$0]).inserted }
        // Embedded in chunks, the run's cache saved after each: an interrupted run keeps what it embedded (a
        // teacher over tens of thousands of clips takes many minutes) and the next load embeds only the rest.
        func saveOwn() throws(TrainingError) {
            var rows = EmbeddingCache(modelChecksum: model.checksum)
            for key in keys { if let row = known[key] { rows[key] = row } }
            do {
                try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
                try rows.write(path: runCache)
            } catch { throw .run("\(error)") }
        }
        if !missing.isEmpty {
            let start = Date()
            let chunkSize = max(1, saveEvery)
            for chunk in stride(from: 0, to: missing.count, by: chunkSize) {
                let indices = Array(missing[chunk..<min(missing.count, chunk + chunkSize)])
                let embedded = try MagNetOInputs.extract(paths: indices.map { paths[$0] }, model: model, threads: threads)
                for (r, i) in indices.enumerated() {
                    known[keys[i]] = Array(embedded.embeddings[(r * embedded.embeddingSize)..<((r + 1) * embedded.embeddingSize)])
                }
                try saveOwn()
                log("\(role.rawValue): embedded \(chunk + indices.count)/\(missing.count)")
            }
            log(String(format: "\(role.rawValue): %d of %d utterances embedded by %@ (%@, %d values) in %.0f s, the others cached",
                       missing.count, keys.count, modelPath, model.encoder.architecture, model.embeddingSize, Date().timeIntervalSince(start)))
        } else if !own.current || Set(own.cache.entries.keys) != Set(keys) {
            // The run's own cache holds exactly this corpus; rewritten when it lacked a row or was in another format.
            try saveOwn()
        }
        if let sharedCache, let sharedPath {
            // Read again just before writing, so rows another run added meanwhile are kept (the write is atomic).
            var shared = try readShared(path: sharedPath, model: model)
            if keys.contains(where: { shared[$0] == nil }) {
                for key in keys { shared[key] = known[key] }
                do {
                    try FileManager.default.createDirectory(atPath: sharedCache, withIntermediateDirectories: true)
                    try shared.write(path: sharedPath)
                } catch { throw .run("--embedding-cache: \(error)") }
            }
        }
        let d = model.embeddingSize
        let raw = keys.flatMap { known[$0]! }
        return FrozenEmbeddingTable(dimension: d, modelChecksum: model.checksum,
                                    rows: SphericalKMeans.normalizedRows(raw, count: keys.count, dimension: d), fromCache: missing.isEmpty)
    }

    /// The shared cache of this model (`--embedding-cache`); empty when absent. Damaged: an error naming the file.
    static func readShared(path: String, model: SpeakerModel) throws(TrainingError) -> EmbeddingCache {
        guard FileManager.default.fileExists(atPath: path) else { return EmbeddingCache(modelChecksum: model.checksum) }
        do { return try EmbeddingCache.read(path: path, modelChecksum: model.checksum, embeddingDimension: model.embeddingSize) } catch {
            throw .run("--embedding-cache: \(path) cannot be used (\(error)); delete it and the next run rebuilds it")
        }
    }

    /// The rows a run-folder cache holds for this model, and whether it is in the current format: none when absent or of
    /// another model; the corpus-keyed format of earlier versions is read when it matches this corpus. Damaged: an error
    /// saying how to recover.
    static func readRunCache(path: String, model: SpeakerModel, corpus: TrainingCorpus,
                             keys: [EmbeddingCache.Key]) throws(TrainingError) -> (cache: EmbeddingCache, current: Bool) {
        var cache = EmbeddingCache(modelChecksum: model.checksum)
        guard FileManager.default.fileExists(atPath: path) else { return (cache, false) }
        if let file = try? SafeTensors.read(path: path), file.metadata["format"] == MagNetOInputs.format {
            guard let old = try MagNetOInputs.readCache(path: path, modelChecksum: model.checksum, corpusID: corpus.id, count: keys.count)
            else { return (cache, false) }
            for (i, key) in keys.enumerated() {
                cache[key] = Array(old.embeddings[(i * old.embeddingSize)..<((i + 1) * old.embeddingSize)])
            }
            return (cache, false)
        }
        do {
            return (try EmbeddingCache.read(path: path, modelChecksum: model.checksum, embeddingDimension: model.embeddingSize), true)
        } catch {
            if case .otherModel = error { return (cache, false) }
            throw .run("\(path) is damaged (\(error)); delete it to recompute")
        }
    }

    /// ŷ of the utterances at `indices` (B × dimension).
    public func references(_ indices: [Int]) -> [Float] {
        var out = [Float](repeating: 0, count: indices.count * dimension)
        for (r, i) in indices.enumerated() {
            for k in 0..<dimension { out[r * dimension + k] = rows[i * dimension + k] }
        }
        return out
    }
}
