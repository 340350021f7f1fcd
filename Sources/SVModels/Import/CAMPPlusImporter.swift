import SVFeatures

/// A CAM++ encoder read from a 3D-Speaker `state_dict`.
public struct ImportedCAMPPlus: Sendable {
    public let config: CAMPPlusConfig
    /// The encoder's tensors under upstream's names, as fp32.
    public let tensors: [String: (shape: [Int], values: [Float])]
    /// 3D-Speaker's front end (`FeatureConfig.threeDSpeaker`).
    public let frontEnd: FeatureConfig
    /// Names in the checkpoint that are not part of the encoder; `num_batches_tracked` counters are
    /// dropped silently.
    public let ignored: [String]
}

/// Reads 3D-Speaker CAM++ `state_dict`s (PyTorch or safetensors, possibly nested under a prefix) and
/// infers the hyperparameters from the tensor shapes. The block dilations cannot be read from weights:
/// upstream's (1, 2, 2) are used, which every published CAM++ has.
public enum CAMPPlusImporter {
    static let anchor = "head.conv1.weight"
    static let secondAnchor = "xvector.tdnn.linear.weight"

    public static func importEncoder(checkpoint: [String: StoredTensor]) throws(ImportError) -> ImportedCAMPPlus {
        let prefix = try ECAPAImporter.encoderPrefix(toolkit: .campplus, checkpoint: checkpoint)
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        var ignored: [String] = []
        for (fullName, tensor) in checkpoint {
            guard fullName.hasPrefix(prefix), fullName.dropFirst(prefix.count).hasPrefix("head.")
                    || fullName.dropFirst(prefix.count).hasPrefix("xvector.") else { ignored.append(fullName); continue }
            let name = String(fullName.dropFirst(prefix.count))
            if name.hasSuffix("num_batches_tracked") { continue }   // training-time counters
            do { tensors[name] = (tensor.shape, try tensor.floats().array) } catch {
                throw .unreadableTensor(name: fullName, reason: error.description)
            }
        }
        let config = try inferConfig(tensors)
        let table = config.tensorTable
        try ECAPAImporter.checkTable(tensors, against: table)
        // 3D-Speaker's FBank takes the mel count as a parameter: the front end follows the network.
        var frontEnd = FeatureConfig.threeDSpeaker
        frontEnd.nMels = config.inputSize
        return ImportedCAMPPlus(config: config, tensors: tensors, frontEnd: frontEnd, ignored: ignored.sorted())
    }

    static func inferConfig(_ tensors: [String: (shape: [Int], values: [Float])]) throws(ImportError) -> CAMPPlusConfig {
        func shape(_ name: String, rank: Int) throws(ImportError) -> [Int] {
            guard let s = tensors[name]?.shape else { throw .tensorTable("missing \(name)") }
            guard s.count == rank else { throw .unexpectedShape(name: name, shape: s) }
            return s
        }
        let head = try shape("head.conv1.weight", rank: 4)[0]
        let tdnn = try shape("xvector.tdnn.linear.weight", rank: 3)
        let local = try shape("xvector.block1.tdnnd1.cam_layer.linear_local.weight", rank: 3)
        let bottleneck = try shape("xvector.block1.tdnnd1.linear1.weight", rank: 3)[0]
        let embedding = try shape("xvector.dense.linear.weight", rank: 3)[0]
        let blocks = (1...9).first { tensors["xvector.block\($0).tdnnd1.linear1.weight"] == nil }.map { $0 - 1 } ?? 8
        var layers: [Int] = [], kernels: [Int] = []
        for b in 1...max(1, blocks) {
            layers.append((1...1000).first { tensors["xvector.block\(b).tdnnd\($0).linear1.weight"] == nil }.map { $0 - 1 } ?? 0)
            kernels.append(try shape("xvector.block\(b).tdnnd1.cam_layer.linear_local.weight", rank: 3)[2])
        }
        let growth = local[0]
        // Checked before any arithmetic: a crafted shape (a huge dimension beside a zero one) must not trap.
        guard head > 0, growth > 0, bottleneck % growth == 0, tdnn[1] % head == 0, tdnn[1] / head <= 128 else {
            throw .invalidConfig("CAM++ shapes do not fit together (head \(head), growth \(growth), bottleneck \(bottleneck), TDNN input \(tdnn[1]))")
        }
        var dilations = Array(CAMPPlusConfig().blockDilations.prefix(layers.count))
        while dilations.count < layers.count { dilations.append(dilations.last ?? 1) }
        let config = CAMPPlusConfig(inputSize: 8 * (tdnn[1] / head), embeddingSize: embedding, growthRate: growth,
                                    bottleneckScale: bottleneck / growth, initChannels: tdnn[0], headChannels: head,
                                    blockLayers: layers, blockKernels: kernels, blockDilations: dilations)
        do { try config.validate() } catch { throw .invalidConfig(error.description) }
        return config
    }
}
