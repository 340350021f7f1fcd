import Foundation
import SVKernels
import SpeakerVerification
import SVFiles

/// What MagNetO trains on: for every training utterance of a corpus, the frozen encoder's embedding
/// and the pooled statistics it came from (after the pooling batch norm), from the whole utterance.
/// The encoder is frozen in stages 2 and 3, so this is computed once and cached in the run folder.
public struct MagNetOInputs: Sendable {
    public let count: Int
    public let embeddingSize: Int
    public let pooledSize: Int
    /// (count × embeddingSize), the encoder's raw embeddings.
    public let embeddings: [Float]
    /// (count × pooledSize).
    public let pooled: [Float]

    static let format = "spkv-magneto-inputs"

    public init(count: Int, embeddingSize: Int, pooledSize: Int, embeddings: [Float], pooled: [Float]) {
        precondition(embeddings.count == count * embeddingSize && pooled.count == count * pooledSize, "MagNetOInputs: sizes")
        self.count = count; self.embeddingSize = embeddingSize; self.pooledSize = pooledSize
        self.embeddings = embeddings; self.pooled = pooled
    }

    /// The rows at `indices`, in that order.
    public func subset(_ indices: [Int]) -> MagNetOInputs {
        let d = embeddingSize, p = pooledSize
        return MagNetOInputs(count: indices.count, embeddingSize: d, pooledSize: p,
                             embeddings: indices.flatMap { embeddings[($0 * d)..<(($0 + 1) * d)] },
                             pooled: indices.flatMap { pooled[($0 * p)..<(($0 + 1) * p)] })
    }

    /// Unit-length embeddings, row-major.
    public var unitEmbeddings: [Float] {
        var out = embeddings
        let d = embeddingSize
        for r in 0..<count {
            var norm = 0.0
            for k in 0..<d { norm += Double(out[r * d + k]) * Double(out[r * d + k]) }
            let inv = norm > 0 ? Float(1 / norm.squareRoot()) : 0
            for k in 0..<d { out[r * d + k] *= inv }
        }
        return out
    }

    /// Embeds `paths` (whole files) on `threads` workers, one `Embedder` each, in input order.
    public static func extract(paths: [String], model: SpeakerModel, threads: Int,
                               progress: (@Sendable (Int, Int) -> Void)? = nil) throws(TrainingError) -> MagNetOInputs {
        let workers = max(1, min(threads, paths.count))
        return try BLAS.withThreads(1) { () throws(TrainingError) in
            try extractEach(paths: paths, model: model, workers: workers, progress: progress)
        }
    }

    static func extractEach(paths: [String], model: SpeakerModel, workers: Int,
                            progress: (@Sendable (Int, Int) -> Void)?) throws(TrainingError) -> MagNetOInputs {
        let d = model.embeddingSize, p = model.encoder.pooledSize, n = paths.count
        let box = ExtractionBox(count: n, d: d, p: p)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let embedder = Embedder(model: model)
            while let i = box.next() {
                do {
                    let clip = try AudioFile.readMono(path: paths[i], sampleRate: model.features.sampleRate)
                    let (e, pooled) = try embedder.embeddingAndPooledStatistics(samples: clip.samples, source: paths[i])
                    box.store(i, embedding: e, pooled: pooled)
                } catch {
                    box.fail("\(error)")
                }
                progress?(box.finished(), n)
            }
        }
        if let failure = box.failure { throw .run("MagNetO inputs: \(failure)") }
        return MagNetOInputs(count: n, embeddingSize: d, pooledSize: p, embeddings: box.embeddings, pooled: box.pooled)
    }

    /// Cache file: the inputs plus what they depend on (model checksum, corpus id), so a stale cache is recomputed.
    public func write(path: String, modelChecksum: String, corpusID: String) throws(TrainingError) {
        do {
            let tensors = [try StoredTensor(name: "embeddings", shape: [count, embeddingSize], floats: embeddings),
                           try StoredTensor(name: "pooled", shape: [count, pooledSize], floats: pooled)]
            let meta = ["format": Self.format, "model_checksum": modelChecksum, "corpus_id": corpusID]
            let bytes = SafeTensors(metadata: meta, tensors: tensors).serialize()
            try AtomicFile.write(bytes, to: path)
        } catch { throw .run("cannot write \(path): \(error)") }
    }

    /// The cached inputs when `path` holds them for this model and corpus; nil when absent or stale.
    /// A damaged cache is an error (delete it to recompute).
    public static func readCache(path: String, modelChecksum: String, corpusID: String, count: Int) throws(TrainingError) -> MagNetOInputs? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let file: SafeTensors
        do { file = try SafeTensors.read(path: path) } catch { throw .run("\(path) is damaged (\(error)); delete it to recompute") }
        guard file.metadata["format"] == format, file.metadata["model_checksum"] == modelChecksum,
              file.metadata["corpus_id"] == corpusID else { return nil }
        guard let e = file.tensors["embeddings"], let p = file.tensors["pooled"], e.shape.count == 2, p.shape.count == 2,
              e.shape[0] == count, p.shape[0] == count else { return nil }
        do {
            return MagNetOInputs(count: count, embeddingSize: e.shape[1], pooledSize: p.shape[1],
                                 embeddings: try e.floats().array, pooled: try p.floats().array)
        } catch { throw .run("\(path) is damaged (\(error)); delete it to recompute") }
    }
}

/// Work queue and result slots shared by the extraction workers.
private final class ExtractionBox: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex = 0, done = 0
    private let count: Int, d: Int, p: Int
    var embeddings: [Float], pooled: [Float]
    var failure: String?

    init(count: Int, d: Int, p: Int) {
        self.count = count; self.d = d; self.p = p
        embeddings = [Float](repeating: 0, count: count * d)
        pooled = [Float](repeating: 0, count: count * p)
    }

    func next() -> Int? {
        lock.withLock {
            guard failure == nil, nextIndex < count else { return nil }
            nextIndex += 1
            return nextIndex - 1
        }
    }

    func store(_ i: Int, embedding: [Float], pooled values: [Float]) {
        lock.withLock {
            embeddings.replaceSubrange((i * d)..<((i + 1) * d), with: embedding)
            pooled.replaceSubrange((i * p)..<((i + 1) * p), with: values)
        }
    }

    func fail(_ message: String) { lock.withLock { if failure == nil { failure = message } } }
    func finished() -> Int { lock.withLock { done += 1; return done } }
}
