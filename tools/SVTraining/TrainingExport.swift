import Foundation
import SVAutograd
import SVModels

extension ModelExport {
    /// The spkv model file for a training checkpoint, with provenance: method, resolved config,
    /// corpus path and id, epochs, global step and the last validation EER.
    /// `quantized` (default): a QAT run exports its int8 model; false gives the fp32 model of its weights.
    public static func modelFile(checkpoint ck: TrainingCheckpoint, checkpointPath: String, averagedEpochs: ClosedRange<Int>? = nil,
                                 producer: String = "spkv-train", quantized: Bool = true) throws(TrainingError) -> ModelFile {
        let model = try ck.makeModel()
        var details = ["config": ck.config.compactJSON,
                       "corpus": ck.config.corpus, "corpus_id": ck.corpusID, "epochs": "\(ck.epoch)",
                       "steps": "\(ck.globalStep)", "checkpoint": (checkpointPath as NSString).lastPathComponent]
        if let averagedEpochs, averagedEpochs.count > 1 {
            details["averaged_epochs"] = "\(averagedEpochs.lowerBound)-\(averagedEpochs.upperBound)"
        }
        if let eer = ck.lastValidationEER { details["validation_eer_percent"] = String(format: "%.4f", eer) }
        if let sources = corpusSources(path: ck.config.corpus, id: ck.corpusID) { details["corpus_sources"] = sources }
        if !ck.earlierCorpora.isEmpty { details["earlier_corpora"] = ck.earlierCorpora }
        do {
            return try modelFile(model, features: ck.config.featureConfig,
                                 provenance: TrainingProvenance(method: ck.config.methodName, details: details),
                                 producer: producer, quantized: quantized && ck.config.qat.enabled)
        } catch {
            throw .checkpoint(path: checkpointPath, reason: "cannot make a model file: \(error)")
        }
    }
}


extension ModelExport {
    /// What the training utterances were, per source (manifest `engine`: a game package or a TTS
    /// engine): `{"engine": {"utterances": n, "hours": h}}` as JSON, so a model file says what it has
    /// heard. Nil when the corpus is not readable here or is not the one the run trained on.
    static func corpusSources(path: String, id: String) -> String? {
        guard let corpus = try? TrainingCorpus(path: path), corpus.id == id else { return nil }
        var sources: [String: (utterances: Int, seconds: Double)] = [:]
        for u in corpus.train {
            let source = u.engine.isEmpty ? "unknown" : u.engine
            sources[source, default: (0, 0)].utterances += 1
            sources[source]!.seconds += u.duration
        }
        let object = sources.mapValues { ["utterances": $0.utterances, "hours": ($0.seconds / 36).rounded() / 100] as [String: Any] }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

extension TrainingCheckpoint {
    /// The checkpoint of `epoch` in the run folder `dir`.
    public static func path(runDirectory dir: String, epoch: Int) -> String {
        "\(dir)/" + String(format: "checkpoint-epoch%03d.safetensors", epoch)
    }

    /// Checkpoint averaging (reference §10.8): the mean of the encoder tensors (parameters and
    /// batch-norm statistics; student and, for DINO, teacher) of epochs `last − count + 1 ... last` of the run folder; everything else
    /// from `last`. Returns the checkpoint and the epochs averaged.
    public static func averaged(runDirectory dir: String, last: TrainingCheckpoint, count: Int)
        throws(TrainingError) -> (TrainingCheckpoint, ClosedRange<Int>) {
        guard count >= 1 else { throw .run("--average must be at least 1") }
        guard count <= last.epoch else {
            throw .run("cannot average \(count) epochs: the checkpoint is from epoch \(last.epoch)")
        }
        let epochs = (last.epoch - count + 1)...last.epoch
        guard count > 1 else { return (last, epochs) }
        let names = last.tensors.keys.filter { $0.hasPrefix("model.") || $0.hasPrefix("teacher.") }
        var sums = [String: [Double]]()
        for name in names { sums[name] = last.tensors[name]!.map(Double.init) }
        for epoch in epochs where epoch != last.epoch {
            let path = Self.path(runDirectory: dir, epoch: epoch)
            let ck = try read(path: path)
            guard ck.config.model == last.config.model else { throw .checkpoint(path: path, reason: "a different model configuration") }
            for name in names {
                guard let v = ck.tensors[name], v.count == sums[name]!.count else {
                    throw .checkpoint(path: path, reason: "tensor \(name) is missing or has the wrong size")
                }
                for i in 0..<v.count { sums[name]![i] += Double(v[i]) }
            }
        }
        var out = last
        for name in names { out.tensors[name] = sums[name]!.map { Float($0 / Double(count)) } }
        return (out, epochs)
    }
}
