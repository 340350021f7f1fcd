import Foundation
import SVModels
import SVAutograd
import SVCorpus
import SVFeatures

/// Training method.
public enum TrainingMethod: String, Codable, Sendable, CaseIterable {
    /// AAM-softmax over the training speakers (reference §8).
    case supervised
    /// SimCLR, no projector, symmetric NT-Xent over two crops of one utterance (reference §3).
    case simclr
    /// SimCLR whose positive is a crop of another utterance of the same speaker (`baseline_sup`, §8).
    case simclrOracle = "simclr-oracle"
    /// DINO: EMA teacher on 2 global crops, student on 2 global + 4 local crops (reference §4).
    case dino
    /// DINO whose two global (teacher) views are crops of another utterance of the same speaker, the local
    /// views crops of the anchor: the oracle-positive counterpart of DINO-SSPS, which substitutes both teacher outputs.
    case dinoOracle = "dino-oracle"
    /// Distillation alone: the student learns to reproduce a frozen teacher's embedding of the clean utterance from
    /// an augmented crop (`distill.*`); one view per row.
    case distill

    /// Methods with an EMA teacher, a DINO head and multi-crop views.
    public var isDINO: Bool { self == .dino || self == .dinoOracle }
}

/// Errors of configuration, data, checkpoints and runs; each names what failed and on what.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    case config(key: String, reason: String)
    case configFile(path: String, reason: String)
    case corpus(path: String, reason: String)
    case checkpoint(path: String, reason: String)
    case run(String)

    public var description: String {
        switch self {
        case .config(let key, let reason): "config key '\(key)': \(reason)"
        case .configFile(let path, let reason): "config \(path): \(reason)"
        case .corpus(let path, let reason): "corpus \(path): \(reason)"
        case .checkpoint(let path, let reason): "checkpoint \(path): \(reason)"
        case .run(let reason): reason
        }
    }
}

/// A training run's configuration: a JSON object whose keys are those of `defaults` (nested for
/// `model`). Files and `--set key=value` overrides are merged into the defaults, so every key is
/// known and an unknown one is an error that names it.
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var method: TrainingMethod = .simclr
    /// Corpus folder (meta.tsv, wav/, dev/trials-cross-channel.txt).
    public var corpus: String = ""
    /// Front-end preset name (`FeatureConfig.presetNames`).
    public var features: String = "sslsv-40"
    public var model: ECAPAConfig = TrainingConfig.smallModel
    public var batchSize: Int = 32
    public var cropSeconds: Double = 2
    public var epochs: Int = 10
    public var learningRate: Double = 1e-3
    public var lrDecay: Double = 0.95
    public var lrStepEpochs: Int = 5
    public var weightDecay: Double = 0
    /// none | reverb+noise | all.
    public var augmentation: AugmentationStrategy = .none
    public var temperature: Double = 0.03
    public var aamScale: Double = 30
    public var aamMargin: Double = 0.2
    /// Validation EER on dev/trials-cross-channel.txt after every epoch.
    public var validation: Bool = true
    public var seed: UInt64 = 1717
    public var threads: Int = 2
    /// SSPS fine-tuning (SimCLR only so far).
    public var ssps = SSPSConfig()
    /// Distillation from a frozen spkv model: the loss of `method: distill`, or added to SimCLR's with a weight.
    public var distill = DistillConfig()
    /// A base run's checkpoint (or run folder) whose model and optimiser state this run continues
    /// from, as a new stage (SSPS after base SimCLR). Empty: start from random weights.
    public var initFrom: String = ""
    /// DINO (`method: dino`): head, temperatures, schedules (`dino.*`), and the crop lengths.
    public var dino = DINOConfig()
    /// Quantisation-aware training (`qat.*`): fake-quantised int8 convolutions; export writes an int8 model.
    public var qat = QATConfig()
    /// Band-limit a share of the training crops (`band_limit.*`), so wide-band synthetic speech also
    /// looks like the 11025 Hz game speech it is mixed with.
    public var bandLimit = BandLimitConfig()
    public var dinoGlobalSeconds: Double = 4
    public var dinoLocalSeconds: Double = 2

    enum CodingKeys: String, CodingKey {
        case method, corpus, features, model, epochs, augmentation, temperature, seed, threads, ssps, dino, qat, distill
        case bandLimit = "band_limit"
        case dinoGlobalSeconds = "dino_global_seconds", dinoLocalSeconds = "dino_local_seconds"
        case initFrom = "init_from"
        case validation = "validate"
        case batchSize = "batch_size", cropSeconds = "crop_seconds", learningRate = "lr", lrDecay = "lr_decay"
        case lrStepEpochs = "lr_step_epochs", weightDecay = "weight_decay", aamScale = "aam_scale", aamMargin = "aam_margin"
    }

    public init() {}

    /// ECAPA-TDNN with C = 256 on 40 mels (the sslsv-40 front end).
    public static let smallModel = ECAPAConfig(inputSize: 40, channels: [256, 256, 256, 256, 768],
                                                       seChannels: 64, attentionChannels: 64, embeddingSize: 192)

    /// The method as provenance names it: `simclr-ssps` for an SSPS stage.
    public var methodName: String {
        (ssps.enabled ? "\(method.rawValue)-ssps" : method.rawValue) + (method != .distill && distill.isEnabled ? "-distill" : "")
            + (qat.enabled ? "-qat" : "")
    }

    public var featureConfig: FeatureConfig { FeatureConfig.preset(named: features)! }
    public var referenceSamples: Int { Int((ssps.referenceSeconds * Double(featureConfig.sampleRate)).rounded()) }
    public var cropSamples: Int { Int((cropSeconds * Double(featureConfig.sampleRate)).rounded()) }

    /// Crop length of each view of a batch row: 1 (supervised), 2 (SimCLR), or DINO's 2 global then 4 local.
    public var viewSamples: [Int] {
        let rate = Double(featureConfig.sampleRate)
        switch method {
        case .supervised, .distill: return [cropSamples]
        case .simclr, .simclrOracle: return [cropSamples, cropSamples]
        case .dino, .dinoOracle:
            let global = Int((dinoGlobalSeconds * rate).rounded()), local = Int((dinoLocalSeconds * rate).rounded())
            return [global, global, local, local, local, local]
        }
    }

    public func learningRate(epoch: Int) -> Float {
        StepDecaySchedule(base: Float(learningRate), gamma: Float(lrDecay), stepSize: lrStepEpochs).learningRate(at: epoch)
    }

    // MARK: - Parsing

    /// Resolves a configuration: defaults ← `file` (JSON text, may be nil) ← overrides (`key=value`,
    /// dotted keys for `model.*`, values as JSON or else as a bare string).
    public static func resolve(fileText: String?, filePath: String = "config", overrides: [String]) throws(TrainingError) -> TrainingConfig {
        var dict = try jsonObject(TrainingConfig())
        if let fileText {
            let parsed: Any
            do { parsed = try JSONSerialization.jsonObject(with: Data(fileText.utf8)) } catch {
                throw .configFile(path: filePath, reason: "not valid JSON (\(error.localizedDescription))")
            }
            guard let obj = parsed as? [String: Any] else { throw .configFile(path: filePath, reason: "the top level must be a JSON object") }
            try merge(&dict, obj, prefix: "")
        }
        for o in overrides {
            guard let eq = o.firstIndex(of: "="), eq != o.startIndex else {
                throw .config(key: o, reason: "an override must be key=value")
            }
            let key = String(o[..<eq]), raw = String(o[o.index(after: eq)...])
            let value: Any = (try? JSONSerialization.jsonObject(with: Data(raw.utf8), options: [.fragmentsAllowed])) ?? raw
            var nested: [String: Any] = [:]
            let parts = key.split(separator: ".").map(String.init)
            if parts.count == 1 { nested[key] = value } else if parts.count == 2 { nested[parts[0]] = [parts[1]: value] } else {
                throw .config(key: key, reason: "unknown key")
            }
            try merge(&dict, nested, prefix: "")
        }
        return try decode(dict)
    }

    /// Reads a resolved config (config.json of a run folder, or checkpoint metadata).
    public static func decode(json text: String, source: String) throws(TrainingError) -> TrainingConfig {
        guard let obj = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw .configFile(path: source, reason: "not a JSON object")
        }
        var dict = try jsonObject(TrainingConfig())
        try merge(&dict, obj, prefix: "")
        return try decode(dict)
    }

    static func jsonObject(_ c: TrainingConfig) throws(TrainingError) -> [String: Any] {
        guard let data = try? JSONEncoder().encode(c), let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .run("cannot encode the default configuration")
        }
        return obj
    }

    static func merge(_ base: inout [String: Any], _ patch: [String: Any], prefix: String) throws(TrainingError) {
        for (k, v) in patch {
            let full = prefix.isEmpty ? k : "\(prefix).\(k)"
            guard let old = base[k] else {
                let valid = base.keys.sorted().joined(separator: ", ")
                throw .config(key: full, reason: "unknown key; valid keys\(prefix.isEmpty ? "" : " of \(prefix)"): \(valid)")
            }
            if var oldDict = old as? [String: Any] {
                guard let newDict = v as? [String: Any] else { throw .config(key: full, reason: "must be a JSON object") }
                try merge(&oldDict, newDict, prefix: full)
                base[k] = oldDict
            } else {
                base[k] = v
            }
        }
    }

    static func decode(_ dict: [String: Any]) throws(TrainingError) -> TrainingConfig {
        let c: TrainingConfig
        do {
            let data = try JSONSerialization.data(withJSONObject: dict)
            c = try JSONDecoder().decode(TrainingConfig.self, from: data)
        } catch let error as DecodingError {
            var key = "?", reason = "bad value"
            switch error {
            case .typeMismatch(let t, let ctx): key = ctx.codingPath.map(\.stringValue).joined(separator: "."); reason = "expected \(t)"
            case .dataCorrupted(let ctx): key = ctx.codingPath.map(\.stringValue).joined(separator: "."); reason = ctx.debugDescription
            case .valueNotFound(let t, let ctx): key = ctx.codingPath.map(\.stringValue).joined(separator: "."); reason = "missing \(t)"
            case .keyNotFound(let k, let ctx): key = (ctx.codingPath + [k]).map(\.stringValue).joined(separator: "."); reason = "missing"
            @unknown default: break
            }
            throw .config(key: key, reason: reason)
        } catch {
            throw .run("configuration: \(error)")
        }
        try c.check()
        return c
    }

    public func check() throws(TrainingError) {
        guard let fc = FeatureConfig.preset(named: features) else {
            throw .config(key: "features", reason: "unknown preset '\(features)'; valid: \(FeatureConfig.presetNames.joined(separator: ", "))")
        }
        guard model.inputSize == fc.nMels else {
            throw .config(key: "model.input_size", reason: "\(model.inputSize) does not match the \(features) front end's \(fc.nMels) mels")
        }
        guard model.variant == .speechbrain else {
            throw .config(key: "model.variant", reason: "only the speechbrain variant can be trained (got \(model.variant.rawValue))")
        }
        guard model.channels.count == 5, model.kernelSizes.count == 5, model.dilations.count == 5 else {
            throw .config(key: "model.channels", reason: "channels, kernel_sizes and dilations need 5 entries")
        }
        guard model.channels.allSatisfy({ $0 > 0 }), model.res2netScale > 1, model.channels[1] % model.res2netScale == 0 else {
            throw .config(key: "model.channels", reason: "channels must be positive and res2net_scale (> 1) must divide channels[1]")
        }
        guard model.embeddingSize > 0, model.seChannels > 0, model.attentionChannels > 0 else {
            throw .config(key: "model.embedding_size", reason: "embedding_size, se_channels and attention_channels must be positive")
        }
        guard batchSize >= 2 else { throw .config(key: "batch_size", reason: "must be at least 2 (got \(batchSize))") }
        guard cropSeconds > 0.1, cropSeconds <= 30 else { throw .config(key: "crop_seconds", reason: "must be in (0.1, 30] (got \(cropSeconds))") }
        guard epochs >= 1 else { throw .config(key: "epochs", reason: "must be at least 1 (got \(epochs))") }
        guard learningRate > 0, learningRate.isFinite else { throw .config(key: "lr", reason: "must be positive") }
        guard lrDecay > 0, lrDecay <= 1 else { throw .config(key: "lr_decay", reason: "must be in (0, 1]") }
        guard lrStepEpochs >= 1 else { throw .config(key: "lr_step_epochs", reason: "must be at least 1") }
        guard weightDecay >= 0 else { throw .config(key: "weight_decay", reason: "must be ≥ 0") }
        guard temperature > 0 else { throw .config(key: "temperature", reason: "must be positive") }
        guard aamScale > 0, aamMargin >= 0, aamMargin < 1.5 else { throw .config(key: "aam_margin", reason: "need aam_scale > 0 and 0 ≤ aam_margin < 1.5") }
        guard threads >= 1, threads <= 256 else { throw .config(key: "threads", reason: "must be 1...256") }
        if method.isDINO {
            for (key, v) in [("dino_global_seconds", dinoGlobalSeconds), ("dino_local_seconds", dinoLocalSeconds)] {
                guard v > 0.1, v <= 30 else { throw .config(key: key, reason: "must be in (0.1, 30] (got \(v))") }
            }
            try dino.check()
        }
        guard bandLimit.probability >= 0, bandLimit.probability <= 1 else {
            throw .config(key: "band_limit.probability", reason: "must be in [0, 1]")
        }
        guard bandLimit.cutoffHz > 100, bandLimit.cutoffHz < Double(featureConfig.sampleRate) / 2 else {
            throw .config(key: "band_limit.cutoff_hz", reason: "must lie between 100 Hz and the Nyquist frequency")
        }
        if qat.enabled {
            guard !method.isDINO else {
                throw .config(key: "qat.enabled", reason: "quantisation-aware training is implemented for supervised and SimCLR (got \(method.rawValue))")
            }
            guard qat.calibrationUtterances >= 1 else { throw .config(key: "qat.calibration_utterances", reason: "must be at least 1") }
        }
        if method == .distill || distill.isEnabled {
            guard !distill.teacherModel.isEmpty else { throw .config(key: "distill.teacher_model", reason: "method distill needs a teacher model file") }
            guard method == .distill || method == .simclr else {
                throw .config(key: "distill.teacher_model", reason: "distillation is implemented alone (method distill) or added to simclr (got \(method.rawValue))")
            }
            guard distill.weight > 0, distill.weight <= 1000 else { throw .config(key: "distill.weight", reason: "must be in (0, 1000]") }
        }
        if ssps.enabled {
            guard method == .simclr || method == .dino else {
                throw .config(key: "ssps.enabled", reason: "SSPS is implemented for methods simclr and dino (got \(method.rawValue))")
            }
            try ssps.check()
            if ssps.usesReferenceModel, method != .simclr {
                throw .config(key: "ssps.reference_model", reason: "reference-guided SSPS is implemented for simclr (got \(method.rawValue))")
            }
        }
    }

    /// One-line sorted-key JSON (model-file provenance).
    public var compactJSON: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? e.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Sorted-key JSON (config.json, checkpoint metadata, provenance).
    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: (try? e.encode(self)) ?? Data(), as: UTF8.self)
    }
}

/// Quantisation-aware training: the TDNN convolutions run fake-quantised exactly as the int8 core
/// runs them (per-channel int8 weights, per-tensor int8 inputs whose steps are learned, LSQ), so the
/// exported int8 model is the trained one. Usually a fine-tuning stage (`init_from` an fp32 run):
/// the steps start from post-training calibration (MSE clipping) on `calibration_utterances`
/// training utterances.
public struct QATConfig: Codable, Equatable, Sendable {
    public var enabled = false
    public var calibrationUtterances = 64

    enum CodingKeys: String, CodingKey {
        case enabled
        case calibrationUtterances = "calibration_utterances"
    }

    public init() {}
}

/// Low-pass filtering of training crops with probability `probability` (each crop decides with its
/// own seeded draw). The default cutoff is the game speech's Nyquist frequency (11025 / 2 Hz).
public struct BandLimitConfig: Codable, Equatable, Sendable {
    public var probability = 0.0
    public var cutoffHz = 5_512.5

    enum CodingKeys: String, CodingKey {
        case probability
        case cutoffHz = "cutoff_hz"
    }

    public init() {}
}
