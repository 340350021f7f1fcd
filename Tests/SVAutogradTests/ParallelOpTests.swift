import Foundation
import SVKernels
import SVModels
import Testing
import _SVTestSupport
@testable import SVAutograd

/// The ops split over several workers against the same ops on one thread. Ops whose units write only
/// their own outputs must agree bit for bit (each unit is computed in the single-thread order); the
/// convolution sums its weight gradient per worker and runs its GEMMs on one OpenBLAS thread, so it
/// agrees to rounding. Tensors are small, so the split is forced (`minimumParallelWork` = 1) and uneven
/// (3 workers).
@Suite struct ParallelOpTests {
    struct Run: Equatable { var output: [Float]; var gradients: [[Float]] }

    /// Forward `build` on fresh copies of `inputs`, backward a fixed random seed; the output and every input's gradient.
    static func run(workers: Int, training: Bool = true, inputs: [Tensor],
                    build: (Graph, [Variable]) -> Variable) -> Run {
        let g = Graph(training: training, workers: workers)
        g.minimumParallelWork = 1
        let vars = inputs.map { Variable($0, role: .parameter) }
        let y = build(g, vars)
        var rng = SplitMix64(seed: 99)
        let seed = (0..<y.count).map { _ in rng.nextFloat() * 2 - 1 }
        g.backward(from: y, seed: seed)
        return Run(output: y.values, gradients: vars.map { $0.grad ?? [] })
    }

    static func expectSame(_ name: String, inputs: [Tensor], training: Bool = true,
                           build: (Graph, [Variable]) -> Variable) {
        let one = run(workers: 1, training: training, inputs: inputs, build: build)
        let three = run(workers: 3, training: training, inputs: inputs, build: build)
        #expect(one.output == three.output, "\(name): outputs differ")
        for k in one.gradients.indices {
            #expect(one.gradients[k] == three.gradients[k], "\(name): gradient of input \(k) differs")
            #expect(!one.gradients[k].isEmpty && one.gradients[k].contains { $0 != 0 }, "\(name): input \(k) got no gradient")
        }
    }

    @Test func elementwiseOpsAreBitIdentical() {
        let x = randomTensor([2, 5, 7], seed: 1)
        for (name, op) in [("relu", Graph.relu), ("gelu", Graph.gelu), ("sigmoid", Graph.sigmoid), ("tanh", Graph.tanh)] {
            Self.expectSame(name, inputs: [x]) { g, v in op(g)(v[0]) }
        }
        Self.expectSame("affine", inputs: [x]) { g, v in g.affine(v[0], scale: 1.5, shift: -0.25) }
        Self.expectSame("clampMin", inputs: [x]) { g, v in g.clampMin(v[0], 0.1) }
        Self.expectSame("sqrt", inputs: [randomTensor([3, 11], 0.1, 2, seed: 2)]) { g, v in g.sqrt(v[0]) }
    }

    @Test func broadcastingOpsAreBitIdentical() {
        let a = randomTensor([2, 5, 7], seed: 3), b = randomTensor([2, 5, 7], seed: 4)
        let rows = randomTensor([2, 5, 1], seed: 5), general = randomTensor([1, 5, 7], seed: 6)
        for (name, op) in [("add", Graph.add), ("sub", Graph.sub), ("mul", Graph.mul)] {
            Self.expectSame("\(name) same shape", inputs: [a, b]) { g, v in op(g)(v[0], v[1]) }
            Self.expectSame("\(name) per-row right", inputs: [a, rows]) { g, v in op(g)(v[0], v[1]) }
            Self.expectSame("\(name) per-row left", inputs: [rows, a]) { g, v in op(g)(v[0], v[1]) }
            Self.expectSame("\(name) general", inputs: [a, general]) { g, v in op(g)(v[0], v[1]) }
        }
        Self.expectSame("broadcast", inputs: [rows]) { g, v in g.broadcast(v[0], to: [2, 5, 7]) }
    }

    @Test func reductionsAndShapeOpsAreBitIdentical() {
        let x = randomTensor([3, 4, 9], seed: 7), w = randomTensor([3, 4, 9], 0, 1, seed: 8)
        Self.expectSame("softmax", inputs: [x]) { g, v in g.softmax(v[0]) }
        Self.expectSame("meanLast", inputs: [x]) { g, v in g.meanLast(v[0]) }
        Self.expectSame("meanStd", inputs: [x]) { g, v in g.meanStd(v[0]) }
        Self.expectSame("weightedMeanStd", inputs: [x, w]) { g, v in g.weightedMeanStd(v[0], weights: v[1]) }
        Self.expectSame("reshape", inputs: [x]) { g, v in g.reshape(v[0], [12, 9]) }
        Self.expectSame("slice", inputs: [x]) { g, v in g.slice(v[0], axis: 1, 1..<3) }
        Self.expectSame("concat", inputs: [x, w]) { g, v in g.concat([v[0], v[1], v[0]], axis: 1) }
    }

    @Test func batchNormIsBitIdenticalInBothModes() {
        let x = randomTensor([3, 5, 6], seed: 9)
        for training in [true, false] {
            for shape in [[3, 5, 6], [6, 5]] {
                let input = Tensor(shape: shape, values: x.values.prefix(shape.reduce(1, *)).map { $0 })
                let layerA = BatchNormLayer(channels: 5), layerB = BatchNormLayer(channels: 5)
                var runs: [Run] = []
                for (workers, layer) in [(1, layerA), (3, layerB)] {
                    layer.runningVar.value.values = [0.5, 1, 1.5, 2, 2.5]
                    runs.append(Self.run(workers: workers, training: training, inputs: [input]) { g, v in g.batchNorm(v[0], layer) })
                }
                #expect(runs[0] == runs[1], "batchNorm training \(training) shape \(shape)")
                #expect(layerA.runningMean.values == layerB.runningMean.values && layerA.runningVar.values == layerB.runningVar.values)
                #expect(layerA.weight.grad == layerB.weight.grad && layerA.bias.grad == layerB.bias.grad)
            }
        }
    }

    @Test func convolutionAgreesToRounding() {
        for (k, d, padding) in [(1, 1, PaddingMode.reflect), (3, 2, .reflect), (5, 1, .zeros)] {
            let inputs = [randomTensor([5, 4, 11], seed: 10), randomTensor([6, 4, k], seed: 11), randomTensor([6], seed: 12)]
            let build: (Graph, [Variable]) -> Variable = { g, v in g.conv1d(v[0], weight: v[1], bias: v[2], dilation: d, padding: padding) }
            let one = Self.run(workers: 1, inputs: inputs, build: build), three = Self.run(workers: 3, inputs: inputs, build: build)
            #expect(maxAbsDifference(one.output, three.output) <= 1e-5, "conv k \(k): outputs")
            for i in 0..<3 {
                let scale = max(1, one.gradients[i].map(abs).max() ?? 0)
                #expect(maxAbsDifference(one.gradients[i], three.gradients[i]) <= 1e-5 * scale, "conv k \(k): gradient \(i)")
            }
        }
    }

    @Test func ecapaStepAgreesToRounding() {
        // A whole training forward/backward (train-mode BN, SE, Res2Net, attentive pooling): parameter gradients.
        let config = ECAPAConfig(inputSize: 20, channels: [32, 32, 32, 32, 96], seChannels: 8, attentionChannels: 8, embeddingSize: 16)
        let features = randomTensor([4, 20, 30], seed: 13)
        var results: [(embedding: [Float], grads: [String: [Float]])] = []
        for workers in [1, 3] {
            let model = ECAPATrainingModel(config: config, seed: 5)
            let g = Graph(training: true, workers: workers)
            g.minimumParallelWork = 1
            let e = model.forward(g, features: Variable(features))
            g.backward(from: g.sum(g.mul(e, e)))
            results.append((e.values, model.namedTensors.filter { $0.value.role == .parameter }.mapValues { $0.grad ?? [] }))
        }
        #expect(maxAbsDifference(results[0].embedding, results[1].embedding) <= 1e-4)
        // Relative to the largest gradient anywhere: some are zero up to rounding (the attention's output
        // bias: softmax over time ignores a constant shift).
        let largest = results[0].grads.values.flatMap { $0 }.map(abs).max() ?? 1
        for (name, grad) in results[0].grads {
            let other = results[1].grads[name] ?? []
            let scale = max(1e-2 * largest, grad.map(abs).max() ?? 0)
            #expect(other.count == grad.count && maxAbsDifference(grad, other) <= 1e-3 * scale, "\(name)")
        }
    }
}
