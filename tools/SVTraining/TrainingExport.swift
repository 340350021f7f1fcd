import Foundation
import SVAutograd
import SVModels

extension ModelExport {
    /// The spkv model file for a training checkpoint, with provenance: method, resolved config,
    /// corpus path and id, epochs, global step and the last validation EER.
    public static func modelFile(checkpoint ck: TrainingCheckpoint, checkpointPath: String,
                                 producer: String = "spkv-train") throws(TrainingError) -> ModelFile {
        let model = try ck.makeModel()
        var details = ["config": ck.config.json.replacingOccurrences(of: "\n", with: "")
                           .replacingOccurrences(of: "  ", with: ""),
                       "corpus": ck.config.corpus, "corpus_id": ck.corpusID, "epochs": "\(ck.epoch)",
                       "steps": "\(ck.globalStep)", "checkpoint": (checkpointPath as NSString).lastPathComponent]
        if let eer = ck.lastValidationEER { details["validation_eer_percent"] = String(format: "%.4f", eer) }
        do {
            return try modelFile(model, features: ck.config.featureConfig,
                                 provenance: TrainingProvenance(method: ck.config.method.rawValue, details: details),
                                 producer: producer)
        } catch {
            throw .checkpoint(path: checkpointPath, reason: "cannot make a model file: \(error)")
        }
    }
}
