import Foundation
import SVAutograd
import SVFeatures
import SVModels

/// Provenance recorded in an exported model's `spkv.training` metadata.
public struct TrainingProvenance: Sendable {
    public var method: String
    public var details: [String: String]

    public init(method: String, details: [String: String] = [:]) {
        self.method = method
        self.details = details
    }
}

/// Turns a training graph into the model file the inference core loads. The training graph uses
/// the inference core's configuration type and tensor names, so export is a copy, plus the front
/// end the model was trained with.
public enum ModelExport {
    public static func modelFile(_ model: ECAPATrainingModel, features: FeatureConfig,
                                 provenance: TrainingProvenance, producer: String) throws(SpeakerModelError) -> ModelFile {
        let tensors = model.namedTensors.mapValues { (shape: $0.value.shape, values: $0.value.values) }
        var training = provenance.details
        training["method"] = provenance.method
        return try SpeakerModel.makeFile(config: model.config, features: features,
                                         encoderTensors: tensors, producer: producer, training: training)
    }
}
