import SVKernels

extension ECAPAConfig {
    /// Seeded random weights with PyTorch-like fan-in scaling and non-trivial batch-norm
    /// statistics. For benchmarks (compute does not depend on the values) and for building
    /// test models; never presented as a trained model.
    public func randomTensors(seed: UInt64) -> [String: [Float]] {
        var rng = SplitMix64(seed: seed)
        var out: [String: [Float]] = [:]
        for (name, shape) in tensorTable.sorted(by: { $0.key < $1.key }) {
            let n = shape.reduce(1, *)
            let fanIn = shape.count == 3 ? shape[1] * shape[2] : 1
            let bound = 1 / Float(fanIn).squareRoot()
            func uniform(_ lo: Float, _ hi: Float) -> [Float] { (0..<n).map { _ in lo + (hi - lo) * rng.nextFloat() } }
            switch true {
            case name.hasSuffix("running_var"): out[name] = uniform(0.5, 1.5)
            case name.hasSuffix("running_mean"): out[name] = uniform(-0.1, 0.1)
            case name.contains("norm") && name.hasSuffix(".weight"): out[name] = uniform(0.8, 1.2)
            case name.contains("norm") && name.hasSuffix(".bias"): out[name] = uniform(-0.1, 0.1)
            default: out[name] = uniform(-bound, bound)
            }
        }
        return out
    }
}
