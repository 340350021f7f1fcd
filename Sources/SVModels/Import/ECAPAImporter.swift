import SVFeatures

/// The toolkits whose `state_dict`s spkv imports: ECAPA-TDNN from SpeechBrain, WeSpeaker and sslsv,
/// CAM++ from 3D-Speaker (`CAMPPlusImporter`).
public enum SourceToolkit: String, CaseIterable, Sendable {
    case speechbrain, wespeaker, sslsv, campplus

    /// The front end the toolkit computes before its encoder.
    func defaultFrontEnd(inputSize: Int) -> FeatureConfig {
        switch self {
        case .speechbrain: return .speechbrain
        case .wespeaker: return .kaldi
        case .sslsv: return inputSize == 40 ? .sslsv40 : .sslsv80
        case .campplus: return .threeDSpeaker
        }
    }

    /// A tensor every checkpoint of this toolkit has, used to find the encoder inside a larger
    /// `state_dict` (e.g. under `encoder.` or `embedding_model.`).
    var anchor: String {
        switch self {
        case .wespeaker: return "layer1.conv.weight"
        case .campplus: return CAMPPlusImporter.anchor
        case .speechbrain, .sslsv: return "blocks.0.conv.conv.weight"
        }
    }
    /// A second tensor under the same prefix, so a Res2Net sub-block ("…res2net_block.blocks.0.conv.conv.weight")
    /// is not taken for an encoder.
    var secondAnchor: String {
        switch self {
        case .wespeaker: return "pool.linear2.weight"
        case .campplus: return CAMPPlusImporter.secondAnchor
        case .speechbrain, .sslsv: return "asp.conv.conv.weight"
        }
    }

    /// The architecture the toolkit's checkpoints hold.
    var architectureName: String { self == .campplus ? "CAM++" : "ECAPA-TDNN" }
}

/// Errors while importing a foreign checkpoint.
public enum ImportError: Error, Equatable, CustomStringConvertible {
    case encoderNotFound(toolkit: SourceToolkit, anchor: String, sample: [String])
    case ambiguousEncoder(prefixes: [String])
    case unreadableTensor(name: String, reason: String)
    case unexpectedShape(name: String, shape: [Int])
    case tensorTable(String)
    case invalidConfig(String)

    public var description: String {
        switch self {
        case .encoderNotFound(let toolkit, let anchor, let sample):
            return "no \(toolkit.rawValue) \(toolkit.architectureName) found: no tensor named '…\(anchor)' (first names: \(sample.joined(separator: ", "))). Is --from right?"
        case .ambiguousEncoder(let prefixes):
            return "several encoders in the checkpoint (prefixes \(prefixes.map { "'\($0)'" }.joined(separator: ", "))); extract one with tools/convert_checkpoint.py --prefix"
        case .unreadableTensor(let name, let reason):
            return "tensor '\(name)' cannot be read as floating point: \(reason)"
        case .unexpectedShape(let name, let shape):
            return "tensor '\(name)' has shape \(shape), which no network of this toolkit has"
        case .tensorTable(let problems):
            return "the checkpoint does not match the network its shapes imply (is --from right? SpeechBrain and sslsv share most names): \(problems)"
        case .invalidConfig(let why):
            return "the checkpoint implies an unsupported network: \(why)"
        }
    }
}

/// An encoder read from a foreign checkpoint, in spkv's terms.
public struct ImportedEncoder: Sendable {
    public let toolkit: SourceToolkit
    public let config: ECAPAConfig
    /// The encoder's tensors under spkv's canonical names, as fp32.
    public let tensors: [String: (shape: [Int], values: [Float])]
    /// The toolkit's own front end.
    public let frontEnd: FeatureConfig
    /// Window and mel filterbank found in the checkpoint (sslsv keeps them as buffers), if any.
    public let frontEndTables: (window: [Float], melFilterbank: [Float])?
    /// Names in the checkpoint that are not part of the encoder (classifier heads, projections);
    /// batch-norm `num_batches_tracked` counters are dropped silently.
    public let ignored: [String]
}

/// Reads SpeechBrain, WeSpeaker and sslsv ECAPA-TDNN `state_dict`s (as safetensors) and infers the
/// hyperparameters from the tensor shapes.
public enum ECAPAImporter {
    /// - Parameter dilations: the five dilations, which weights cannot reveal (default 1,2,3,4,1).
    public static func importEncoder(from toolkit: SourceToolkit, checkpoint: [String: StoredTensor],
                                     dilations: [Int] = [1, 2, 3, 4, 1]) throws(ImportError) -> ImportedEncoder {
        // 1. Find the encoder's prefix.
        let prefix = try encoderPrefix(toolkit: toolkit, checkpoint: checkpoint)
        guard toolkit != .campplus else { throw .invalidConfig("a CAM++ checkpoint: import it with CAMPPlusImporter") }

        // 2. Rename to canonical names and convert to fp32.
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        var ignored: [String] = []
        var window: [Float]?, fbank: (shape: [Int], values: [Float])?
        for (fullName, tensor) in checkpoint {
            guard fullName.hasPrefix(prefix) else { ignored.append(fullName); continue }
            let name = String(fullName.dropFirst(prefix.count))
            if name.hasSuffix("num_batches_tracked") { continue }   // training-time counters
            let values: [Float]
            do { values = try tensor.floats().array } catch {
                throw .unreadableTensor(name: fullName, reason: error.description)
            }
            switch (toolkit, name) {
            case (.sslsv, "features_extractor.0.spectrogram.window"): window = values
            case (.sslsv, "features_extractor.0.mel_scale.fb"): fbank = (tensor.shape, values)
            default:
                guard let canonical = canonicalName(name, toolkit: toolkit) else { ignored.append(fullName); continue }
                tensors[canonical] = (tensor.shape, values)
            }
        }

        // 3. Hyperparameters from shapes, then the full table check.
        let config = try inferConfig(toolkit: toolkit, tensors: tensors, dilations: dilations)
        let table = config.tensorTable
        try checkTable(tensors, against: table)

        // sslsv stores torchaudio's filterbank as (bins, mels); spkv keeps (mels, bins).
        var tables: (window: [Float], melFilterbank: [Float])?
        if let window, let fbank, fbank.shape.count == 2 {
            let bins = fbank.shape[0], mels = fbank.shape[1]
            var melMajor = [Float](repeating: 0, count: bins * mels)
            for b in 0..<bins { for m in 0..<mels { melMajor[m * bins + b] = fbank.values[b * mels + m] } }
            tables = (window, melMajor)
        }
        return ImportedEncoder(toolkit: toolkit, config: config, tensors: tensors,
                               frontEnd: toolkit.defaultFrontEnd(inputSize: config.inputSize),
                               frontEndTables: tables, ignored: ignored.sorted())
    }

    /// The prefix under which the toolkit's encoder sits in `checkpoint` ("" at the top, or e.g.
    /// "embedding_model."): the names holding both anchors; none, or several, is an error.
    static func encoderPrefix(toolkit: SourceToolkit, checkpoint: [String: StoredTensor]) throws(ImportError) -> String {
        let prefixes = Set(checkpoint.keys.filter { $0.hasSuffix(toolkit.anchor) && isPrefixBoundary($0, toolkit.anchor) }
            .map { String($0.dropLast(toolkit.anchor.count)) }
            .filter { checkpoint[$0 + toolkit.secondAnchor] != nil })
        guard !prefixes.isEmpty else {
            throw .encoderNotFound(toolkit: toolkit, anchor: toolkit.anchor, sample: Array(checkpoint.keys.sorted().prefix(5)))
        }
        guard prefixes.count == 1, let prefix = prefixes.first else { throw .ambiguousEncoder(prefixes: prefixes.sorted()) }
        return prefix
    }

    /// Every tensor of `table` present with its shape and nothing else, or `.tensorTable` listing what is not.
    static func checkTable(_ tensors: [String: (shape: [Int], values: [Float])], against table: [String: [Int]]) throws(ImportError) {
        var problems: [String] = []
        for (name, shape) in table.sorted(by: { $0.key < $1.key }) {
            guard let got = tensors[name] else { problems.append("missing \(name) \(shape)"); continue }
            if got.shape != shape { problems.append("\(name): got \(got.shape), expected \(shape)") }
        }
        for name in tensors.keys.sorted() where table[name] == nil { problems.append("unexpected \(name)") }
        guard problems.isEmpty else { throw .tensorTable(problems.joined(separator: "; ")) }
    }

    private static func isPrefixBoundary(_ name: String, _ anchor: String) -> Bool {
        name == anchor || name.dropLast(anchor.count).hasSuffix(".")
    }

    /// sslsv uses plain `nn.BatchNorm1d` where SpeechBrain wraps it (`norm.norm.` vs `norm.`).
    static func canonicalName(_ name: String, toolkit: SourceToolkit) -> String? {
        switch toolkit {
        case .speechbrain, .wespeaker, .campplus:
            return name
        case .sslsv:
            if name.hasPrefix("asp_bn.") { return "asp_bn.norm." + name.dropFirst("asp_bn.".count) }
            if let range = name.range(of: ".norm."), !name.contains(".norm.norm.") {
                return name.replacingCharacters(in: range, with: ".norm.norm.")
            }
            return name
        }
    }

    static func inferConfig(toolkit: SourceToolkit, tensors: [String: (shape: [Int], values: [Float])],
                            dilations: [Int]) throws(ImportError) -> ECAPAConfig {
        func shape(_ name: String, rank: Int) throws(ImportError) -> [Int] {
            guard let s = tensors[name]?.shape else { throw .tensorTable("missing \(name)") }
            guard s.count == rank else { throw .unexpectedShape(name: name, shape: s) }
            return s
        }
        let variant: ECAPAConfig.Variant = toolkit == .wespeaker ? .wespeaker : .speechbrain
        let names = ECAPALayerNames(variant: variant)
        let first = try shape("\(names.first.conv).weight", rank: 3)
        let res2 = try shape("\(names.res2(1, 0).conv).weight", rank: 3)
        let kernels = [first[2]] + (1...3).map { tensors["\(names.res2($0, 0).conv).weight"]?.shape.last ?? res2[2] } + [1]
        let scale = (0...64).first { tensors["\(names.res2(1, $0).conv).weight"] == nil }.map { $0 + 1 } ?? 1
        let se = try shape("\(names.seReduce(1)).weight", rank: variant == .wespeaker ? 2 : 3)[0]
        let mfa = try shape("\(names.mfa.conv).weight", rank: 3)[0]
        let attention = try shape("\(names.attention.conv).weight", rank: 3)
        let embedding = try shape("\(names.embedding).weight", rank: variant == .wespeaker ? 2 : 3)[0]
        let c = first[0]
        let config = ECAPAConfig(variant: variant, inputSize: first[1], channels: [c, c, c, c, mfa],
                                 kernelSizes: kernels, dilations: dilations, res2netScale: scale,
                                 seChannels: se, attentionChannels: attention[0],
                                 globalContext: attention[1] == 3 * mfa, embeddingSize: embedding,
                                 padding: variant == .wespeaker ? .zeros : .reflect)
        do { try config.validate() } catch { throw .invalidConfig(error.description) }
        return config
    }
}
