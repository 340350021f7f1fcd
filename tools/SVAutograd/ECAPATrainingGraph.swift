import Foundation
import SVKernels
import SVModels

/// A 1-D convolution's parameters (PyTorch layout: weight (out, in, k), bias (out)).
public struct ConvLayer {
    public let weight: Variable
    public let bias: Variable
    public let dilation: Int

    /// PyTorch's default init: weight and bias ~ U(−1/√fan_in, 1/√fan_in) (kaiming_uniform, a = √5).
    public init(inChannels: Int, outChannels: Int, kernel: Int, dilation: Int = 1, prefix: String, rng: inout SplitMix64) {
        let bound = 1 / Float(inChannels * kernel).squareRoot()
        weight = .parameter(Tensor(shape: [outChannels, inChannels, kernel], uniform: -bound, bound, rng: &rng), name: "\(prefix).weight")
        bias = .parameter(Tensor(shape: [outChannels], uniform: -bound, bound, rng: &rng), name: "\(prefix).bias")
        self.dilation = dilation
    }

    public init(weight: Variable, bias: Variable, dilation: Int = 1) {
        self.weight = weight; self.bias = bias; self.dilation = dilation
    }

    public func callAsFunction(_ g: Graph, _ x: Variable, padding: PaddingMode) -> Variable {
        g.conv1d(x, weight: weight, bias: bias, dilation: dilation, padding: padding)
    }
}

/// SpeechBrain's TDNNBlock: conv → ReLU → BatchNorm.
public struct TDNNLayer {
    public let conv: ConvLayer
    public let norm: BatchNormLayer

    init(_ prefix: String, in inp: Int, out: Int, kernel: Int, dilation: Int, eps: Float, rng: inout SplitMix64) {
        conv = ConvLayer(inChannels: inp, outChannels: out, kernel: kernel, dilation: dilation, prefix: "\(prefix).conv.conv", rng: &rng)
        norm = BatchNormLayer(channels: out, prefix: "\(prefix).norm.norm", epsilon: eps)
    }

    public init(conv: ConvLayer, norm: BatchNormLayer) { self.conv = conv; self.norm = norm }

    public func callAsFunction(_ g: Graph, _ x: Variable, padding: PaddingMode) -> Variable {
        g.batchNorm(g.relu(conv(g, x, padding: padding)), norm)
    }
}

/// SE-Res2Net block: TDNN(1×1) → Res2Net → TDNN(1×1) → squeeze-excitation, plus the identity.
public struct SERes2NetLayer {
    public let tdnn1: TDNNLayer
    public let res2: [TDNNLayer]
    public let tdnn2: TDNNLayer
    public let seReduce: ConvLayer
    public let seExpand: ConvLayer
}

/// ECAPA-TDNN (SpeechBrain `ECAPA_TDNN`) as an autograd graph, with SpeechBrain `state_dict` names
/// (the names of `ECAPAConfig.tensorTable` for the `.speechbrain` variant).
public final class ECAPATrainingModel {
    public let config: ECAPAConfig
    public let first: TDNNLayer
    public let blocks: [SERes2NetLayer]
    public let mfa: TDNNLayer
    public let attention: TDNNLayer
    public let attentionOut: ConvLayer
    public let poolNorm: BatchNormLayer
    public let embedding: ConvLayer
    /// Quantisation-aware training: the learned log input step θ (step e^θ) of each int8 convolution
    /// (`ECAPAConfig.int8Convolutions`, parameter `<prefix>.input_log_scale`); empty for fp32 training.
    public private(set) var inputLogScales: [String: Variable] = [:]

    /// The current QAT input steps by convolution prefix.
    public var inputScales: [String: Float] { inputLogScales.mapValues { expf($0.value.values[0]) } }

    /// Sets the QAT input steps (calibration).
    public func setInputScales(_ steps: [String: Float]) {
        for (p, step) in steps {
            precondition(step > 0 && step.isFinite, "setInputScales: the step of \(p) must be positive")
            inputLogScales[p]?.value.values = [logf(step)]
        }
    }

    /// Random PyTorch-default initialisation from `seed`.
    /// The SpeechBrain variant only (the one spkv trains); the caller validates user configs.
    public init(config: ECAPAConfig, seed: UInt64) {
        precondition(config.variant == .speechbrain, "ECAPATrainingModel: only the speechbrain variant is trainable")
        self.config = config
        var rng = SplitMix64(seed: seed)
        let c = config.blockChannels, w = c / config.res2netScale, cm = config.mfaChannels, eps = config.batchNormEpsilon
        first = TDNNLayer("blocks.0", in: config.inputSize, out: c, kernel: config.kernelSizes[0],
                          dilation: config.dilations[0], eps: eps, rng: &rng)
        var blocks: [SERes2NetLayer] = []
        for b in 1...3 {
            let p = "blocks.\(b)"
            blocks.append(SERes2NetLayer(
                tdnn1: TDNNLayer("\(p).tdnn1", in: c, out: c, kernel: 1, dilation: 1, eps: eps, rng: &rng),
                res2: (0..<(config.res2netScale - 1)).map {
                    TDNNLayer("\(p).res2net_block.blocks.\($0)", in: w, out: w, kernel: config.kernelSizes[b],
                              dilation: config.dilations[b], eps: eps, rng: &rng)
                },
                tdnn2: TDNNLayer("\(p).tdnn2", in: c, out: c, kernel: 1, dilation: 1, eps: eps, rng: &rng),
                seReduce: ConvLayer(inChannels: c, outChannels: config.seChannels, kernel: 1, prefix: "\(p).se_block.conv1.conv", rng: &rng),
                seExpand: ConvLayer(inChannels: config.seChannels, outChannels: c, kernel: 1, prefix: "\(p).se_block.conv2.conv", rng: &rng)))
        }
        self.blocks = blocks
        mfa = TDNNLayer("mfa", in: 3 * c, out: cm, kernel: 1, dilation: 1, eps: eps, rng: &rng)
        attention = TDNNLayer("asp.tdnn", in: config.globalContext ? 3 * cm : cm, out: config.attentionChannels,
                              kernel: 1, dilation: 1, eps: eps, rng: &rng)
        attentionOut = ConvLayer(inChannels: config.attentionChannels, outChannels: cm, kernel: 1, prefix: "asp.conv.conv", rng: &rng)
        poolNorm = BatchNormLayer(channels: 2 * cm, prefix: "asp_bn.norm", epsilon: eps)
        embedding = ConvLayer(inChannels: 2 * cm, outChannels: config.embeddingSize, kernel: 1, prefix: "fc.conv", rng: &rng)
    }

    private var tdnnLayers: [TDNNLayer] {
        [first] + blocks.flatMap { [$0.tdnn1] + $0.res2 + [$0.tdnn2] } + [mfa, attention]
    }
    private var convLayers: [ConvLayer] {
        tdnnLayers.map { $0.conv } + blocks.flatMap { [$0.seReduce, $0.seExpand] } + [attentionOut, embedding]
    }
    private var normLayers: [BatchNormLayer] { tdnnLayers.map { $0.norm } + [poolNorm] }

    /// Trainable tensors, in a fixed order (the QAT input scales last).
    public var parameters: [Variable] {
        convLayers.flatMap { [$0.weight, $0.bias] } + normLayers.flatMap { $0.parameters }
            + (inputLogScales.isEmpty ? [] : config.int8Convolutions.map { inputLogScales[$0]! })
    }

    /// Turns on fake quantisation of the int8 convolutions (their weights per output channel, their
    /// inputs with a learned per-tensor step) with these initial steps; call before building an optimiser.
    public func enableFakeQuantization(inputScales steps: [String: Float]) {
        var scales: [String: Variable] = [:]
        for p in config.int8Convolutions {
            let step = steps[p] ?? 1
            precondition(step > 0 && step.isFinite, "enableFakeQuantization: the step of \(p) must be positive")
            scales[p] = .parameter(Tensor(shape: [1], values: [logf(step)]), name: "\(p).input_log_scale")
        }
        inputLogScales = scales
    }

    /// The encoder tensors alone (no QAT steps): what an fp32 model file holds.
    public var encoderTensors: [String: Variable] {
        namedTensors.filter { !$0.key.hasSuffix(".input_log_scale") }
    }
    /// Running statistics.
    public var buffers: [Variable] { normLayers.flatMap { $0.buffers } }

    /// Every parameter and buffer by its SpeechBrain `state_dict` name.
    public var namedTensors: [String: Variable] {
        Dictionary(uniqueKeysWithValues: (parameters + buffers).map { ($0.name, $0) })
    }

    /// Copies values in by name (e.g. from a checkpoint or a model file). Every tensor must be
    /// present with the right element count; extra names (`num_batches_tracked`) are ignored.
    public func load(_ tensor: (String) -> [Float]?) throws(ECAPATrainingError) {
        for (name, v) in namedTensors {
            guard let values = tensor(name) else { throw .missingTensor(name) }
            guard values.count == v.count else { throw .wrongTensorSize(name: name, expected: v.count, actual: values.count) }
            v.value.values = values
        }
    }

    /// x (N, inputSize, T) normalised features → (N, embeddingSize). Batch norms follow
    /// `graph.training`.
    public func forward(_ g: Graph, features x: Variable) -> Variable {
        precondition(x.shape.count == 3 && x.shape[1] == config.inputSize,
                     "ECAPA forward: features (N, \(config.inputSize), T) expected, got \(x.shape)")
        let pad = config.padding
        var h = tdnn(g, first, x)
        var outputs: [Variable] = []
        for block in blocks {
            h = seRes2Net(g, block, h)
            outputs.append(h)
        }
        let m = tdnn(g, mfa, g.concat(outputs, axis: 1))
        let pooled = g.batchNorm(attentiveStatisticsPooling(g, m), poolNorm)   // (N, 2C′, 1)
        let e = embedding(g, pooled, padding: pad)                               // (N, E, 1)
        return g.reshape(e, [x.shape[0], config.embeddingSize])
    }

    /// A TDNN layer of the int8 set: fake-quantised input and weights under QAT, else plain.
    func tdnn(_ g: Graph, _ layer: TDNNLayer, _ x: Variable) -> Variable {
        let prefix = String(layer.conv.weight.name.dropLast(".weight".count))
        guard let step = inputLogScales[prefix] else { return layer(g, x, padding: config.padding) }
        let y = g.conv1d(g.fakeQuantizeActivation(x, logScale: step), weight: g.fakeQuantizeWeightRows(layer.conv.weight),
                         bias: layer.conv.bias, dilation: layer.conv.dilation, padding: config.padding)
        return g.batchNorm(g.relu(y), layer.norm)
    }

    func seRes2Net(_ g: Graph, _ block: SERes2NetLayer, _ x: Variable) -> Variable {
        let pad = config.padding
        let t1 = tdnn(g, block.tdnn1, x)
        // Res2Net (SpeechBrain): y0 = x0, y1 = f1(x1), yi = fi(xi + y(i−1)).
        let chunks = g.chunk(t1, config.res2netScale, axis: 1)
        var ys = [chunks[0]]
        for i in 1..<chunks.count {
            let input = i == 1 ? chunks[1] : g.add(chunks[i], ys[i - 1])
            ys.append(tdnn(g, block.res2[i - 1], input))
        }
        let t2 = tdnn(g, block.tdnn2, g.concat(ys, axis: 1))
        // Squeeze-excitation: time mean → 1×1 conv → ReLU → 1×1 conv → sigmoid, gating channels.
        let s = g.sigmoid(block.seExpand(g, g.relu(block.seReduce(g, g.meanLast(t2), padding: pad)), padding: pad))
        return g.add(g.mul(t2, s), x)
    }

    /// SpeechBrain's `AttentiveStatisticsPooling` with this model's layers: (N, C′, T) → (N, 2C′, 1).
    public func attentiveStatisticsPooling(_ g: Graph, _ x: Variable) -> Variable {
        g.attentiveStatisticsPooling(x, attention: attention, output: attentionOut,
                                     globalContext: config.globalContext, padding: config.padding)
    }
}

extension Graph {
    /// SpeechBrain's `AttentiveStatisticsPooling`: x (N, C, T) → (N, 2C, 1) = [μ; σ].
    /// With global context the attention sees [x; μ_g; σ_g] (time mean and std of x, std =
    /// √max(biased var, 1e-12), repeated over time); then TDNN (conv → ReLU → BN) → tanh → conv
    /// gives logits, α = softmax over time, μ = Σₜ α·x, σ = √max(Σₜ α·(x−μ)², 1e-12).
    public func attentiveStatisticsPooling(_ x: Variable, attention: TDNNLayer, output: ConvLayer,
                                           globalContext: Bool, padding: PaddingMode = .reflect) -> Variable {
        let n = x.shape[0], c = x.shape[1], t = x.shape[2]
        var input = x
        if globalContext {
            let stats = meanStd(x, varianceFloor: 1e-12)                    // (N, 2C, 1)
            input = concat([x, broadcast(stats, to: [n, 2 * c, t])], axis: 1)
        }
        let hidden = tanh(attention(self, input, padding: padding))
        let alpha = softmax(output(self, hidden, padding: padding))        // over time
        return weightedMeanStd(x, weights: alpha, varianceFloor: 1e-12)
    }
}

/// Errors of the training model (loading tensors).
public enum ECAPATrainingError: Error, Equatable, CustomStringConvertible {
    case missingTensor(String)
    case wrongTensorSize(name: String, expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .missingTensor(let name): "tensor \(name) is missing; the checkpoint does not match this ECAPA configuration"
        case .wrongTensorSize(let name, let e, let a): "tensor \(name) has \(a) values, the configuration needs \(e); check channels and kernel sizes"
        }
    }
}
