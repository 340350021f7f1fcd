import Foundation
import SVFeatures
import SVScoring

/// A loaded spkv model: the front end it was trained with and its encoder network (ECAPA-TDNN or
/// CAM++, `spkv.architecture`), both immutable and shareable between threads.
public struct SpeakerModel: Sendable {
    /// The architecture of models spkv trains (and of every file before CAM++ came in).
    public static let architecture = SpeakerEncoder.ecapaArchitecture
    /// Front-end tables stored in every model file, so inference uses exactly the training tables.
    public static let windowTensor = "features.window"
    public static let melFilterbankTensor = "features.mel_fbank"

    public let metadata: ModelMetadata
    public let frontEnd: FeatureExtractor
    public let encoder: SpeakerEncoder
    /// MagNetO's magnitude network, when the model was trained with one (`spkv-train magneto`).
    public let magnitudeNetwork: MagnitudeNetwork?
    /// How two embeddings of this model compare (cosine, linear calibration or MagNetO), checked at load.
    public let scoring: ScoringBackend
    /// How the encoder's weights are stored and run (fp32, or int8 with static scales).
    public let quantization: QuantizationScheme
    /// CRC-32 of the tensor data (hex): identifies the weights, e.g. in enrollment profiles.
    public let checksum: String
    public let formatVersion: Int

    public var features: FeatureConfig { frontEnd.config }
    public var embeddingSize: Int { encoder.embeddingSize }
    /// The ECAPA-TDNN hyperparameters, or nil for another architecture.
    public var ecapaConfig: ECAPAConfig? { encoder.ecapa?.config }

    /// Reads and checks a model file: container, checksum, version, configs, tensor table.
    public static func load(path: String) throws(SpeakerModelError) -> SpeakerModel {
        let file: ModelFile
        do { file = try ModelFile.read(path: path) } catch { throw .file(path: path, error) }
        do { return try SpeakerModel(file: file) } catch { throw error.inFile(path) }
    }

    public init(file: ModelFile) throws(SpeakerModelError) {
        let metadata = file.metadata
        guard SpeakerEncoder.architectures.contains(metadata.architecture) else {
            throw .unsupportedArchitecture(metadata.architecture)
        }
        let isECAPA = metadata.architecture == SpeakerEncoder.ecapaArchitecture
        func decode<C: Decodable>(_ type: C.Type) throws(SpeakerModelError) -> C {
            do { return try JSONDecoder().decode(type, from: Data(metadata.config.utf8)) } catch {
                throw .invalidMetadata(key: ModelMetadata.Key.config, reason: Self.describe(error))
            }
        }
        let ecapaConfig = isECAPA ? try decode(ECAPAConfig.self) : nil
        let campplusConfig = isECAPA ? nil : try decode(CAMPPlusConfig.self)
        do { try ecapaConfig?.validate(); try campplusConfig?.validate() } catch { throw .encoder(error) }
        let inputSize = ecapaConfig?.inputSize ?? campplusConfig!.inputSize
        let features: FeatureConfig
        do { features = try FeatureConfig.decode(json: Data(metadata.features.utf8)) } catch {
            throw .invalidMetadata(key: ModelMetadata.Key.features, reason: error.description)
        }
        guard features.nMels == inputSize else {
            throw .frontEndMismatch(melBins: features.nMels, encoderInput: inputSize)
        }
        var expected = ecapaConfig?.tensorTable ?? campplusConfig!.tensorTable
        expected[Self.windowTensor] = [features.winLength]
        expected[Self.melFilterbankTensor] = [features.nMels, features.bins]
        let magnitudes: MagnitudeNetwork?
        do { magnitudes = try MagnitudeNetwork.read(from: file) } catch { throw .magnitudeNetwork(error) }
        if let magnitudes {
            let pooled = ecapaConfig.map { 2 * $0.mfaChannels } ?? 2 * campplusConfig!.finalChannels
            guard magnitudes.inputSize == pooled else {
                throw .magnitudeNetwork(.invalid("it reads \(magnitudes.inputSize) pooled statistics but the encoder gives \(pooled)"))
            }
            expected.merge(magnitudes.tensorTable) { a, _ in a }
        }
        let quantization = try QuantizationScheme.parse(metadata.quantization)
        let int8Convolutions = quantization.kind == .int8Static
            ? ecapaConfig?.int8Convolutions ?? campplusConfig!.int8Convolutions : []
        // Only the scheme's int8 weights may be integers: anything else means another scheme wrote the file.
        let int8Weights = Set(int8Convolutions.map { "\($0).weight" })
        for name in file.tensorNames where !(file.tensors[name]!.dtype.isFloatingPoint || int8Weights.contains(name)) {
            throw .tensors(.dtypeMismatch(tensor: name, dtype: file.tensors[name]!.dtype, requested: "F32"))
        }
        expected.merge(QuantizationScheme.int8TensorTable(convolutions: int8Convolutions, shapes: expected)) { a, _ in a }
        do { try file.checkTensorTable(expected: expected) } catch { throw .tensors(error) }
        if quantization.unsignedActivations && ecapaConfig != nil {
            throw .invalidMetadata(key: ModelMetadata.Key.quantization, reason: "unsigned int8 activations need inputs that are never negative; ECAPA-TDNN's are not (its int8 layers read BatchNorm outputs)")
        }
        let int8 = try quantization.int8Layers(file: file, convolutions: int8Convolutions)

        self.quantization = quantization
        magnitudeNetwork = magnitudes
        do { scoring = try ScoringBackend(json: metadata.scoring, hasMagnitudeNetwork: magnitudes != nil) } catch { throw .scoring(error) }

        func floats(_ name: String) -> [Float]? { try? file.tensors[name]?.floats().array }
        do {
            frontEnd = try FeatureExtractor(config: features, melFilterbank: floats(Self.melFilterbankTensor) ?? [],
                                            window: floats(Self.windowTensor) ?? [])
        } catch { throw .features(error) }
        do {
            if let ecapaConfig {
                encoder = .ecapa(try ECAPAEncoder(config: ecapaConfig, tensor: { floats($0) }, int8: int8))
            } else {
                encoder = .campplus(try CAMPPlusEncoder(config: campplusConfig!, tensor: { floats($0) }, int8: int8))
            }
        } catch { throw .encoder(error) }
        self.metadata = metadata
        checksum = file.checksum
        formatVersion = metadata.formatVersion ?? ModelMetadata.currentFormatVersion
    }

    /// Assembles an ECAPA-TDNN model file from an encoder's tensors and its front end; the tables are
    /// computed from `features` unless given (a checkpoint may carry the exact ones it was trained with).
    public static func makeFile(config: ECAPAConfig, features: FeatureConfig,
                                encoderTensors: [String: (shape: [Int], values: [Float])],
                                frontEndTables: (window: [Float], melFilterbank: [Float])? = nil,
                                producer: String, training: [String: String] = [:],
                                created: Date = Date()) throws(SpeakerModelError) -> ModelFile {
        do { try config.validate() } catch { throw .encoder(error) }
        return try makeFile(architecture: SpeakerEncoder.ecapaArchitecture, configJSON: sortedJSON(config), features: features,
                            encoderTensors: encoderTensors, frontEndTables: frontEndTables, producer: producer,
                            training: training, created: created)
    }

    /// Assembles a CAM++ model file (same layout: upstream tensor names, the front end's tables).
    public static func makeFile(config: CAMPPlusConfig, features: FeatureConfig,
                                encoderTensors: [String: (shape: [Int], values: [Float])],
                                producer: String, training: [String: String] = [:],
                                created: Date = Date()) throws(SpeakerModelError) -> ModelFile {
        do { try config.validate() } catch { throw .encoder(error) }
        return try makeFile(architecture: SpeakerEncoder.campplusArchitecture, configJSON: sortedJSON(config), features: features,
                            encoderTensors: encoderTensors, frontEndTables: nil, producer: producer,
                            training: training, created: created)
    }

    static func sortedJSON(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    private static func makeFile(architecture: String, configJSON: String, features: FeatureConfig,
                                 encoderTensors: [String: (shape: [Int], values: [Float])],
                                 frontEndTables: (window: [Float], melFilterbank: [Float])?,
                                 producer: String, training: [String: String], created: Date) throws(SpeakerModelError) -> ModelFile {
        let extractor: FeatureExtractor
        do {
            if let t = frontEndTables {
                extractor = try FeatureExtractor(config: features, melFilterbank: t.melFilterbank, window: t.window)
            } else {
                extractor = try FeatureExtractor(config: features)
            }
        } catch { throw .features(error) }
        var tensors: [StoredTensor] = []
        do {
            for (name, t) in encoderTensors { tensors.append(try StoredTensor(name: name, shape: t.shape, floats: t.values)) }
            tensors.append(try StoredTensor(name: windowTensor, shape: [features.winLength], floats: extractor.window))
            tensors.append(try StoredTensor(name: melFilterbankTensor, shape: [features.nMels, features.bins],
                                      floats: extractor.melFilterbank))
        } catch { throw .tensors(error) }
        let metadata = ModelMetadata(architecture: architecture, config: configJSON, features: features.jsonString(),
                                     producer: producer, created: ISO8601DateFormatter().string(from: created),
                                     training: sortedJSON(training))
        let file = ModelFile(metadata: metadata, tensors: tensors)
        // Never write a file that would not load.
        _ = try SpeakerModel(file: file)
        return file
    }

    /// A one-line account of a JSON decoding failure ("channels: expected an array").
    public static func describe(_ error: any Error) -> String {
        if let e = error as? DecodingError {
            switch e {
            case .keyNotFound(let key, _): return "missing key '\(key.stringValue)'"
            case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
                let path = c.codingPath.map(\.stringValue).joined(separator: ".")
                return path.isEmpty ? c.debugDescription : "\(path): \(c.debugDescription)"
            @unknown default: return "\(e)"
            }
        }
        return "\(error)"
    }
}

/// Why a model file cannot be used.
public enum SpeakerModelError: Error, Equatable, CustomStringConvertible {
    case file(path: String, ModelFileError)
    case unsupportedArchitecture(String)
    case invalidMetadata(key: String, reason: String)
    case frontEndMismatch(melBins: Int, encoderInput: Int)
    case tensors(ModelFileError)
    case features(FeatureError)
    case encoder(ECAPAError)
    case magnitudeNetwork(MagnitudeNetworkError)
    case scoring(ScoringBackendError)
    indirect case inFile(path: String, SpeakerModelError)

    func inFile(_ path: String) -> SpeakerModelError {
        if case .file = self { return self }
        return .inFile(path: path, self)
    }

    public var description: String {
        switch self {
        case .file(let path, let e): return "\(path): \(e)"
        case .unsupportedArchitecture(let a):
            return "model architecture '\(a)' is not supported by this spkv (it runs \(SpeakerEncoder.architectures.map { "'\($0)'" }.joined(separator: " and ")))"
        case .invalidMetadata(let key, let reason): return "model metadata '\(key)' is invalid: \(reason)"
        case .frontEndMismatch(let bins, let input):
            return "the model's front end gives \(bins) mel bins but its encoder expects \(input): the file is inconsistent"
        case .tensors(let e): return "\(e)"
        case .features(let e): return "front end: \(e)"
        case .encoder(let e): return "\(e)"
        case .magnitudeNetwork(let e): return "\(e)"
        case .scoring(let e): return "\(e)"
        case .inFile(let path, let e): return "\(path): \(e)"
        }
    }
}
