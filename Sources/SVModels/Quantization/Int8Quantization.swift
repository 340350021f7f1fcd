import Foundation
import SVKernels

/// The `spkv.quantization` metadata of a model file, and the tensors of the int8 scheme.
///
/// Scheme `int8-static`, version 1 (static post-training or quantisation-aware int8):
/// - every convolution the architecture lists (`ECAPAConfig.int8Convolutions`: first layer, per block
///   tdnn1, Res2Net convolutions, tdnn2, and MFA; `CAMPPlusConfig.int8Convolutions`: the front
///   module but its first convolution, the TDNN layer, the CAM layers' bottleneck and local
///   convolutions, the transit layers) stores `<prefix>.weight` as **I8** with the fp32 shape
///   ((out, in, kernel), or (out, in, kh, kw)), `<prefix>.weight_scale` F32 (out): symmetric per output channel,
///   w ≈ scale[m]·q, and `<prefix>.input_scale` F32 (1): the static per-tensor scale of its input,
///   x ≈ scale·q with q = clamp(round_half_even(x/scale), −128, 127). The weights are the file's own
///   (a BatchNorm after a convolution is not folded into them; per-channel scales make folding at
///   load exact);
/// - everything else (biases, batch norms, SE, attention, pooling, embedding layer, front end)
///   stays fp32, as accuracy needs.
/// The metadata object records the scheme, its version and how the scales were obtained:
/// `{"scheme":"int8-static","version":1,"weights":"int8 symmetric per output channel",
///   "activations":"int8 per tensor, static","calibration":{…}}`.
///
/// Version 2 adds `"activations":"uint8 per tensor, static"`: every int8 layer's input is never
/// negative (CAM++: each reads a ReLU output) and is quantised as q = clamp(round_half_even(x/scale),
/// 0, 255), twice the resolution of the signed form over the same range. Version 1 files are read as before.
public struct QuantizationScheme: Equatable, Sendable {
    public enum Kind: String, Sendable { case none, int8Static = "int8-static" }
    public static let int8Version = 2
    static let signedActivations = "int8 per tensor, static", unsignedActivations = "uint8 per tensor, static"

    public let kind: Kind
    public let version: Int
    /// How the activation scales were obtained (free-form JSON object text), for `spkv info`.
    public let calibration: String?
    /// Version 2's unsigned activations (q in [0, 255]) instead of signed int8.
    public let unsignedActivations: Bool

    public static let none = QuantizationScheme(kind: .none, version: 1, calibration: nil)

    public init(kind: Kind, version: Int, calibration: String?, unsignedActivations: Bool = false) {
        self.kind = kind; self.version = version; self.calibration = calibration; self.unsignedActivations = unsignedActivations
    }

    /// The fields of `spkv.quantization` (decoded with `JSONDecoder`, as every metadata section is).
    private struct Stored: Decodable {
        var scheme: String
        var version: Int?
        var activations: String?
        var calibration: JSONText?
    }

    /// Parses `spkv.quantization`; an unknown scheme or a newer version is an error naming it.
    public static func parse(_ json: String) throws(SpeakerModelError) -> QuantizationScheme {
        let key = ModelMetadata.Key.quantization
        let stored: Stored
        do { stored = try JSONDecoder().decode(Stored.self, from: Data(json.utf8)) } catch {
            throw .invalidMetadata(key: key, reason: "expected an object with a \"scheme\" (\(SpeakerModel.describe(error)))")
        }
        let version = stored.version ?? 1
        guard let kind = Kind(rawValue: stored.scheme) else {
            throw .invalidMetadata(key: key, reason: "unknown quantization scheme '\(stored.scheme)' (this spkv runs 'none' and 'int8-static')")
        }
        if kind == .int8Static, version > int8Version {
            throw .invalidMetadata(key: key, reason: "int8-static version \(version) is newer than this spkv reads (\(int8Version))")
        }
        var unsigned = false
        if kind == .int8Static, version >= 2 {
            switch stored.activations {
            case signedActivations?: unsigned = false
            case unsignedActivations?: unsigned = true
            case let other:
                throw .invalidMetadata(key: key, reason: "int8-static version 2 needs \"activations\" to be '\(signedActivations)' or '\(unsignedActivations)', not \(other.map { "'\($0)'" } ?? "nothing")")
            }
        }
        return QuantizationScheme(kind: kind, version: version, calibration: stored.calibration?.text, unsignedActivations: unsigned)
    }

    /// The metadata text for an int8 model calibrated as described by `calibration` (JSON object text):
    /// version 1 (signed activations) unless `unsignedActivations`, which needs version 2.
    public static func int8Metadata(calibration: String, unsignedActivations: Bool = false) -> String {
        #"{"activations":""# + (unsignedActivations ? Self.unsignedActivations : signedActivations) + #"","calibration":"# + calibration
            + #","scheme":"int8-static","version":"# + (unsignedActivations ? "2" : "1") + #","weights":"int8 symmetric per output channel"}"#
    }

    public static func weightScaleName(_ prefix: String) -> String { "\(prefix).weight_scale" }
    public static func inputScaleName(_ prefix: String) -> String { "\(prefix).input_scale" }

    /// The extra tensors of the scheme, with shapes, for the tensor-table check.
    static func int8TensorTable(convolutions: [String], shapes: [String: [Int]]) -> [String: [Int]] {
        var table: [String: [Int]] = [:]
        for p in convolutions {
            table[weightScaleName(p)] = [shapes["\(p).weight"]![0]]
            table[inputScaleName(p)] = [1]
        }
        return table
    }

    /// Reads the int8 layers of a file with this scheme.
    func int8Layers(file: ModelFile, convolutions: [String]) throws(SpeakerModelError) -> [String: Int8LayerData] {
        var layers: [String: Int8LayerData] = [:]
        for p in convolutions {
            let weights: [Int8], scales: [Float], input: [Float]
            do {
                weights = try file.tensor("\(p).weight").int8s()
                scales = try file.tensor(Self.weightScaleName(p)).floats().array
                input = try file.tensor(Self.inputScaleName(p)).floats().array
            } catch { throw .tensors(error) }
            guard scales.allSatisfy({ $0 > 0 && $0.isFinite }), let s = input.first, s > 0, s.isFinite else {
                throw .invalidMetadata(key: ModelMetadata.Key.quantization,
                                       reason: "layer \(p) has a scale that is not a positive finite number")
            }
            layers[p] = Int8LayerData(weights: weights, weightScale: scales, inputScale: s, unsignedInput: unsignedActivations)
        }
        return layers
    }
}

/// One int8 convolution as stored: weights (out, in·kernel), per-row scales, input scale, and whether
/// the input is quantised unsigned (scheme version 2).
public struct Int8LayerData: Sendable {
    public var weights: [Int8]
    public var weightScale: [Float]
    public var inputScale: Float
    public var unsignedInput: Bool

    public init(weights: [Int8], weightScale: [Float], inputScale: Float, unsignedInput: Bool = false) {
        self.weights = weights; self.weightScale = weightScale; self.inputScale = inputScale; self.unsignedInput = unsignedInput
    }
}

/// Post-training quantisation of a model file: int8 weights per output channel and the given
/// static input scales (one per entry of the encoder's `int8Convolutions`; for an encoder whose int8
/// inputs are never negative, scales of the unsigned form: clip / 255).
public enum Int8Quantizer {
    public static func quantize(file: ModelFile, inputScales: [String: Float], calibration: String) throws(SpeakerModelError) -> ModelFile {
        try quantizeAndLoad(file: file, inputScales: inputScales, calibration: calibration).file
    }

    /// The int8 file and the model it loads as (the load is the check that the file is valid).
    /// - Parameter model: `file` already loaded, when the caller has it (saves a second load).
    public static func quantizeAndLoad(file: ModelFile, model loaded: SpeakerModel? = nil, inputScales: [String: Float],
                                       calibration: String) throws(SpeakerModelError) -> (file: ModelFile, model: SpeakerModel) {
        let model: SpeakerModel
        if let loaded { model = loaded } else { model = try SpeakerModel(file: file) }
        guard !model.encoder.isQuantized else {
            throw .invalidMetadata(key: ModelMetadata.Key.quantization, reason: "the model is already quantised")
        }
        var tensors = file.tensors
        for p in model.encoder.int8Convolutions {
            guard let s = inputScales[p], s > 0, s.isFinite else {
                throw .invalidMetadata(key: ModelMetadata.Key.quantization, reason: "no valid input scale for \(p)")
            }
            let fp32: StoredTensor
            do { fp32 = try file.tensor("\(p).weight") } catch { throw .tensors(error) }
            let shape = fp32.shape, rows = shape[0], k = shape.dropFirst().reduce(1, *)
            let values: AlignedBuffer
            do { values = try fp32.floats() } catch { throw .tensors(error) }
            let q = Int8ConvWeights(outChannels: rows, inChannels: shape[1], kernel: k / shape[1], dilation: 1,
                                    floatWeights: values.pointer, inputScale: s)
            do {
                tensors["\(p).weight"] = try StoredTensor(name: "\(p).weight", shape: shape, int8s: q.weights)
                tensors[QuantizationScheme.weightScaleName(p)] = try StoredTensor(name: QuantizationScheme.weightScaleName(p), shape: [rows], floats: q.weightScale)
                tensors[QuantizationScheme.inputScaleName(p)] = try StoredTensor(name: QuantizationScheme.inputScaleName(p), shape: [1], floats: [s])
            } catch { throw .tensors(error) }
        }
        var metadata = file.metadata
        metadata.quantization = QuantizationScheme.int8Metadata(calibration: calibration,
                                                                unsignedActivations: model.encoder.int8InputsAreNonNegative)
        let out = ModelFile(metadata: metadata, tensors: Array(tensors.values))
        return (out, try SpeakerModel(file: out))   // never hand out a file that would not load
    }
}
