import Foundation
import SpeakerVerification

/// A frozen spkv model's embedding of every whole clean training utterance, L2-normalised, computed once and cached
/// in the run folder (keyed by the model's checksum and the corpus id, so another model or a changed corpus
/// recomputes it), never per epoch. Reference-guided SSPS (`ssps.reference_model`, cache `ssps-reference.safetensors`)
/// takes ŷ from it; distillation (`distill.teacher_model`, cache `distill-teacher.safetensors`) its targets.
public struct FrozenEmbeddingTable: Sendable {
    public let dimension: Int
    public let modelChecksum: String
    /// (utterances × dimension), unit rows, in the corpus's training order (the batch indices).
    public let rows: [Float]
    /// Whether `load` read the cache instead of embedding the corpus.
    public let fromCache: Bool

    /// What the table is for: its config key (named in errors) and its cache file in the run folder.
    public enum Role: String, Sendable {
        case sspsReference = "ssps.reference_model", distillTeacher = "distill.teacher_model"
        var cacheName: String { self == .sspsReference ? "ssps-reference.safetensors" : "distill-teacher.safetensors" }
    }

    /// Embeds (or reads from the cache) every training utterance of `corpus` with the model at `modelPath`.
    public static func load(modelPath: String, corpus: TrainingCorpus, runDirectory: String, threads: Int, role: Role = .sspsReference,
                            log: @escaping @Sendable (String) -> Void = { _ in }) throws(TrainingError) -> FrozenEmbeddingTable {
        let model: SpeakerModel
        do { model = try SpeakerModel.load(path: modelPath) } catch {
            throw .config(key: role.rawValue, reason: "\(error)")
        }
        let cache = "\(runDirectory)/\(role.cacheName)"
        let n = corpus.train.count
        if let cached = try MagNetOInputs.readCache(path: cache, modelChecksum: model.checksum, corpusID: corpus.id, count: n) {
            return FrozenEmbeddingTable(dimension: cached.embeddingSize, modelChecksum: model.checksum, rows: cached.unitEmbeddings,
                                      fromCache: true)
        }
        let start = Date()
        let inputs = try MagNetOInputs.extract(paths: corpus.train.map { corpus.wavPath($0.path) }, model: model, threads: threads) { done, total in
            if done % 1000 == 0 || done == total { log("\(role.rawValue): embedded \(done)/\(total)") }
        }
        try inputs.write(path: cache, modelChecksum: model.checksum, corpusID: corpus.id)
        log(String(format: "\(role.rawValue): %d utterances embedded by %@ (%@, %d values) in %.0f s; cached in %@", n, modelPath,
                   model.encoder.architecture, inputs.embeddingSize, Date().timeIntervalSince(start), cache))
        return FrozenEmbeddingTable(dimension: inputs.embeddingSize, modelChecksum: model.checksum, rows: inputs.unitEmbeddings, fromCache: false)
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
