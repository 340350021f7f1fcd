import Foundation
import SVKernels

/// DINO's projection head (sslsv `DINOHead`, reference §4): Linear(E→hidden) → BN → GELU →
/// Linear(hidden→hidden) → BN → GELU → Linear(hidden→bottleneck) → L2-normalise →
/// weight-normalised Linear(bottleneck→prototypes, no bias) whose gain is fixed at 1, so each
/// prototype row of `weight_v` is L2-normalised inside the graph and the logits are cosines.
/// Names follow the reference `state_dict` (`mlp.0.weight`, `mlp.1.running_mean`, …,
/// `last_layer.weight_v`; the fixed `weight_g` of ones is not stored).
public final class DINOHead {
    public let linear1: (weight: Variable, bias: Variable)
    public let norm1: BatchNormLayer
    public let linear2: (weight: Variable, bias: Variable)
    public let norm2: BatchNormLayer
    public let linear3: (weight: Variable, bias: Variable)
    /// (prototypes, bottleneck), the direction `v` of the weight-normalised last layer.
    public let lastLayer: Variable

    /// MLP linears: truncated normal (std 0.02, cut at ±2 as `trunc_normal_`), bias 0; the last layer:
    /// PyTorch's default Linear init U(−1/√fan_in, 1/√fan_in).
    public init(input: Int, hidden: Int, bottleneck: Int, prototypes: Int, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        func linear(_ i: Int, _ fin: Int, _ fout: Int) -> (weight: Variable, bias: Variable) {
            (.parameter(Self.truncatedNormal([fout, fin], std: 0.02, rng: &rng), name: "mlp.\(i).weight"),
             .parameter(Tensor(zeros: [fout]), name: "mlp.\(i).bias"))
        }
        linear1 = linear(0, input, hidden)
        norm1 = BatchNormLayer(channels: hidden, prefix: "mlp.1")
        linear2 = linear(3, hidden, hidden)
        norm2 = BatchNormLayer(channels: hidden, prefix: "mlp.4")
        linear3 = linear(6, hidden, bottleneck)
        let bound = 1 / Float(bottleneck).squareRoot()
        lastLayer = .parameter(Tensor(shape: [prototypes, bottleneck], uniform: -bound, bound, rng: &rng), name: "last_layer.weight_v")
    }

    public var prototypes: Int { lastLayer.shape[0] }

    /// Trainable tensors, in a fixed order (the last layer last).
    public var parameters: [Variable] {
        [linear1.weight, linear1.bias] + norm1.parameters + [linear2.weight, linear2.bias] + norm2.parameters
            + [linear3.weight, linear3.bias, lastLayer]
    }
    public var buffers: [Variable] { norm1.buffers + norm2.buffers }

    /// x (N, input) → logits (N, prototypes), cosines between the bottleneck direction and the prototypes.
    public func forward(_ g: Graph, _ x: Variable) -> Variable {
        var h = g.gelu(g.batchNorm(g.linear(x, weight: linear1.weight, bias: linear1.bias), norm1))
        h = g.gelu(g.batchNorm(g.linear(h, weight: linear2.weight, bias: linear2.bias), norm2))
        h = g.l2Normalize(g.linear(h, weight: linear3.weight, bias: linear3.bias))
        return g.linear(h, weight: g.l2Normalize(lastLayer))
    }

    /// Normal(0, std²) values redrawn outside [−2, 2] (timm/PyTorch `trunc_normal_(std:)` with its
    /// default absolute bounds a = −2, b = 2), by Box–Muller from a seeded generator.
    static func truncatedNormal(_ shape: [Int], std: Float, rng: inout SplitMix64) -> Tensor {
        let n = shape.reduce(1, *)
        var v = [Float](repeating: 0, count: n)
        var i = 0
        while i < n {
            let u1 = max(Double(rng.nextFloat()), 1e-12), u2 = Double(rng.nextFloat())
            let z = Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)) * std
            if z >= -2 && z <= 2 { v[i] = z; i += 1 }
        }
        return Tensor(shape: shape, values: v)
    }
}
