import Foundation
import SpeakerVerification

/// Reference-guided SSPS (`ssps.reference_model`): ŷ of every training utterance is a frozen model's embedding of
/// the whole clean utterance, L2-normalised, computed once and cached in the run folder
/// (`ssps-reference.safetensors`, keyed by the model's checksum and the corpus id, so another model or a changed
/// corpus recomputes it), never per epoch. The student's SSPS then clusters and searches neighbours in this space.
public struct SSPSReferenceTable: Sendable {
    public let dimension: Int
    public let modelChecksum: String
    /// (utterances × dimension), unit rows, in the corpus's training order (the batch indices).
    public let rows: [Float]
    /// Whether `load` read the cache instead of embedding the corpus.
    public let fromCache: Bool

    static let cacheName = "ssps-reference.safetensors"

    /// Embeds (or reads from the cache) every training utterance of `corpus` with the model at `modelPath`.
    public static func load(modelPath: String, corpus: TrainingCorpus, runDirectory: String, threads: Int,
                            log: @escaping @Sendable (String) -> Void = { _ in }) throws(TrainingError) -> SSPSReferenceTable {
        let model: SpeakerModel
        do { model = try SpeakerModel.load(path: modelPath) } catch {
            throw .config(key: "ssps.reference_model", reason: "\(error)")
        }
        let cache = "\(runDirectory)/\(cacheName)"
        let n = corpus.train.count
        if let cached = try MagNetOInputs.readCache(path: cache, modelChecksum: model.checksum, corpusID: corpus.id, count: n) {
            return SSPSReferenceTable(dimension: cached.embeddingSize, modelChecksum: model.checksum, rows: cached.unitEmbeddings,
                                      fromCache: true)
        }
        let start = Date()
        let inputs = try MagNetOInputs.extract(paths: corpus.train.map { corpus.wavPath($0.path) }, model: model, threads: threads) { done, total in
            if done % 1000 == 0 || done == total { log("ssps reference: embedded \(done)/\(total)") }
        }
        try inputs.write(path: cache, modelChecksum: model.checksum, corpusID: corpus.id)
        log(String(format: "ssps reference: %d utterances embedded by %@ (%@, %d values) in %.0f s; cached in %@", n, modelPath,
                   model.encoder.architecture, inputs.embeddingSize, Date().timeIntervalSince(start), cache))
        return SSPSReferenceTable(dimension: inputs.embeddingSize, modelChecksum: model.checksum, rows: inputs.unitEmbeddings, fromCache: false)
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
