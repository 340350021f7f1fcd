import Foundation
import SVKernels
import SVModels

// Temporary: encoder-only timing with random weights.
BLAS.setThreads(1)
for c in [512, 1024] {
    let cfg = ECAPAConfig.speechbrain(channels: c, inputSize: 80, embeddingSize: 192)
    let tensors = cfg.randomTensors(seed: 1)
    let enc = try ECAPAEncoder(config: cfg) { tensors[$0] }
    let frames = 501
    var rng = SplitMix64(seed: 3)
    let feats = (0..<(80 * frames)).map { _ in rng.nextFloat() * 2 - 1 }
    let ws = ECAPAWorkspace()
    var times: [Double] = []
    for _ in 0..<15 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        _ = try enc.embed(features: feats, frames: frames, workspace: ws)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    }
    times.sort()
    print("C=\(c) params=\(cfg.parameterCount) median \(times[times.count / 2]) ms, min \(times[0]) ms")
}
