import Foundation
import SVModels
import SVKernels
import Testing
@testable import SVAutograd

/// Wall-clock of one ECAPA training step (forward + backward + Adam), printed, never asserted.
/// Opt-in: `SPKV_AUTOGRAD_TIMING=1 swift test -c release --filter TrainingStepTiming`.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["SPKV_AUTOGRAD_TIMING"] == "1"))
struct TrainingStepTiming {
    @Test(arguments: [256, 512])
    func ecapaStep(channels: Int) {
        let batch = Int(ProcessInfo.processInfo.environment["SPKV_AUTOGRAD_BATCH"] ?? "") ?? 16
        let frames = 200   // 2 s crops
        let config = ECAPAConfig(inputSize: 80, channels: [channels, channels, channels, channels, 3 * channels],
                                         embeddingSize: 192)
        let model = ECAPATrainingModel(config: config, seed: 1)
        var rng = SplitMix64(seed: 2)
        let x = Variable(Tensor(shape: [batch, 80, frames], uniform: -1, 1, rng: &rng))
        let adam = Adam(parameters: model.parameters)
        var times: [Double] = []
        for _ in 0..<3 {
            let start = Date()
            let g = Graph(training: true)
            let half = batch / 2
            let z1 = model.forward(g, features: g.slice(x, axis: 0, 0..<half))
            let z2 = model.forward(g, features: g.slice(x, axis: 0, half..<batch))
            let loss = g.ntXent(z1, z2, temperature: 0.03)
            adam.zeroGrad()
            g.backward(from: loss)
            adam.step()
            times.append(Date().timeIntervalSince(start))
        }
        let best = times.min()!
        print("ECAPA C=\(channels) batch \(batch)×2 s: step \(String(format: "%.3f", best)) s, \(String(format: "%.1f", Double(batch) * 2 / best)) s audio/s (BLAS threads \(BLAS.threads))")
    }
}
