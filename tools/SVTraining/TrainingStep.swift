import SVAutograd
import SVKernels

/// The trainable state of a run (encoder, AAM-softmax classifier for supervised runs, Adam) and
/// one optimisation step on a batch. The trainer and the step benchmark share it, so the
/// benchmark times exactly what training runs.
public final class TrainingStep {
    public let config: TrainingConfig
    public let model: ECAPATrainingModel
    /// AAM-softmax class weights (speakers, E), supervised only.
    public let classifier: Variable?
    public let optimizer: Adam

    public init(config: TrainingConfig, speakerCount: Int) {
        self.config = config
        model = ECAPATrainingModel(config: config.model, seed: config.seed)
        if config.method == .supervised {
            var rng = SplitMix64(seed: config.seed ^ 0xC1A5_51F1_E500_0001)
            let k = speakerCount, e = config.model.embeddingSize
            let bound = (6 / Float(k + e)).squareRoot()   // Xavier-uniform
            classifier = .parameter(Tensor(shape: [k, e], uniform: -bound, bound, rng: &rng), name: "classifier.weight")
        } else {
            classifier = nil
        }
        optimizer = Adam(parameters: model.parameters + (classifier.map { [$0] } ?? []), learningRate: Float(config.learningRate),
                         weightDecay: Float(config.weightDecay), weightDecayScope: .all)
    }

    /// One optimisation step (forward, backward, Adam update); returns the loss.
    public func step(_ batch: TrainingBatch) -> Float {
        let g = Graph(training: true)
        let loss: Variable
        switch config.method {
        case .supervised:
            let e = model.forward(g, features: Variable(batch.views[0]))
            let cosine = g.linear(g.l2Normalize(e), weight: g.l2Normalize(classifier!))
            let logits = g.aamSoftmaxLogits(cosine, targets: batch.labels, scale: Float(config.aamScale), margin: Float(config.aamMargin))
            loss = g.crossEntropy(logits, targets: batch.labels)
        case .simclr, .simclrOracle:
            // Two forward passes: batch-norm statistics per view, as in the reference.
            let z1 = model.forward(g, features: Variable(batch.views[0]))
            let z2 = model.forward(g, features: Variable(batch.views[1]))
            loss = g.ntXent(z1, z2, temperature: Float(config.temperature))
        }
        optimizer.zeroGrad()
        g.backward(from: loss)
        optimizer.step()
        return loss.values[0]
    }
}
