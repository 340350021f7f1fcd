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
    /// The fp32 model file of the encoder; with `quantized` and a QAT model, the int8 model whose
    /// input steps are the learned ones (weights on the per-channel grid the training used).
    public static func modelFile(_ model: ECAPATrainingModel, features: FeatureConfig,
                                 provenance: TrainingProvenance, producer: String,
                                 quantized: Bool = false) throws(SpeakerModelError) -> ModelFile {
        let tensors = model.encoderTensors.mapValues { (shape: $0.value.shape, values: $0.value.values) }
        var training = provenance.details
        training["method"] = provenance.method
        let file = try SpeakerModel.makeFile(config: model.config, features: features,
                                             encoderTensors: tensors, producer: producer, training: training)
        guard quantized, !model.inputLogScales.isEmpty else { return file }
        return try Int8Quantizer.quantize(file: file, inputScales: model.inputScales,
                                          calibration: #"{"method":"qat","steps":"learned (LSQ)"}"#)
    }
}
