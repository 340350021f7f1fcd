import SVAutograd
import SVKernels

/// The trainable state of a run (encoder, AAM-softmax classifier for supervised runs, Adam; for
/// DINO the head, EMA teacher, center and SGD in `dino`) and
/// one optimisation step on a batch. The trainer and the step benchmark share it, so the
/// benchmark times exactly what training runs.
public final class TrainingStep {
    public let config: TrainingConfig
    public let model: ECAPATrainingModel
    /// AAM-softmax class weights (speakers, E), supervised only.
    public let classifier: Variable?
    /// Adam for supervised and SimCLR; empty for DINO (which uses `dino.optimizer`), where its step
    /// count still counts the optimisation steps.
    public let optimizer: Adam
    /// DINO's head, teacher, center and optimiser (`method: dino`).
    public let dino: DINOState?
    /// SSPS queues (`ssps.enabled`), and the clustering of the current epoch (k-means sampling).
    public let memory: SSPSMemory?
    public var clusters: SSPSEpochClusters?
    /// Reference-guided SSPS: ŷ from a frozen model (`ssps.reference_model`) instead of the student.
    public let references: FrozenEmbeddingTable?
    /// Distillation: the teacher's unit embeddings of the clean utterances (`distill.teacher_model`), and the learned
    /// linear head (teacher size × student size) when the two sizes differ.
    public let teacher: FrozenEmbeddingTable?
    public let distillHead: Variable?

    /// `referenceCapacity`: Q̂ rows for SSPS (steps per epoch × batch size for k-means sampling);
    /// `stepsPerEpoch`: for DINO's per-step LR and EMA schedules.
    /// `references`: the frozen model's ŷ table for reference-guided SSPS (Q̂ then has its width).
    /// `teacher`: the distillation targets (needed when `distill.teacher_model` is set).
    public init(config: TrainingConfig, speakerCount: Int, referenceCapacity: Int = 0, stepsPerEpoch: Int = 1,
                references: FrozenEmbeddingTable? = nil, teacher: FrozenEmbeddingTable? = nil) {
        precondition(references == nil || (config.ssps.enabled && config.ssps.usesReferenceModel),
                     "TrainingStep: a reference table without ssps.reference_model")
        precondition((teacher != nil) == config.distill.isEnabled, "TrainingStep: distillation needs its teacher table, and only then")
        self.config = config
        self.references = references
        self.teacher = teacher
        if let teacher, teacher.dimension != config.model.embeddingSize {
            var rng = SplitMix64(seed: config.seed ^ 0xD157_1111_0000_0001)
            let (o, i) = (teacher.dimension, config.model.embeddingSize)
            let bound = (6 / Float(o + i)).squareRoot()   // Xavier-uniform
            distillHead = .parameter(Tensor(shape: [o, i], uniform: -bound, bound, rng: &rng), name: "distill.head.weight")
        } else {
            distillHead = nil
        }
        if config.ssps.enabled {
            let positive = config.ssps.positiveCapacity(batchSize: config.batchSize)
            let reference = config.ssps.sampling == .knn ? positive : referenceCapacity
            // Q′ rows: z₂ (SimCLR) or the teacher head outputs of both global views (DINO, n_pos = 2).
            memory = SSPSMemory(referenceCapacity: max(reference, config.batchSize), positiveCapacity: positive,
                                dimension: references?.dimension ?? config.model.embeddingSize,
                                positiveDimension: config.method.isDINO ? 2 * config.dino.prototypes : config.model.embeddingSize)
        } else {
            memory = nil
        }
        model = ECAPATrainingModel(config: config.model, seed: config.seed)
        // The QAT steps are parameters: they exist before the optimiser (values set by the trainer).
        if config.qat.enabled { model.enableFakeQuantization(inputScales: [:]) }
        if config.method == .supervised {
            var rng = SplitMix64(seed: config.seed ^ 0xC1A5_51F1_E500_0001)
            let k = speakerCount, e = config.model.embeddingSize
            let bound = (6 / Float(k + e)).squareRoot()   // Xavier-uniform
            classifier = .parameter(Tensor(shape: [k, e], uniform: -bound, bound, rng: &rng), name: "classifier.weight")
        } else {
            classifier = nil
        }
        if config.method.isDINO {
            dino = DINOState(config: config, student: model, stepsPerEpoch: stepsPerEpoch)
            dino!.referenceTrainMode = config.ssps.teacherReferenceTrainMode
            optimizer = Adam(parameters: [], learningRate: Float(config.learningRate))
        } else {
            dino = nil
            optimizer = Adam(parameters: model.parameters + (classifier.map { [$0] } ?? []) + (distillHead.map { [$0] } ?? []),
                             learningRate: Float(config.learningRate),
                             weightDecay: Float(config.weightDecay), weightDecayScope: .all)
        }
    }

    /// The encoder validation and export use: DINO's teacher, else the trained model.
    public var inferenceModel: ECAPATrainingModel { dino?.teacher ?? model }

    /// The learning rate of an epoch's steps (DINO: of step `stepInEpoch`, its schedule is per step).
    public func learningRate(epoch: Int, stepInEpoch: Int = 0) -> Float {
        if let dino { return dino.learningRate(globalStep: epoch * dino.stepsPerEpoch + stepInEpoch) }
        return config.learningRate(epoch: epoch)
    }

    /// One optimisation step (forward, backward, Adam update); returns the loss.
    public func step(_ batch: TrainingBatch) -> Float { step(batch, epoch: 0, stepInEpoch: 0).loss }

    /// One optimisation step at `stepInEpoch` of `epoch`; with SSPS, also the Q′ slot of each anchor's
    /// pseudo-positive (nil: it kept its own positive) and the dataset index stored there.
    public func step(_ batch: TrainingBatch, epoch: Int, stepInEpoch: Int) -> (loss: Float, pseudoPositives: [Int?]) {
        if let dino {
            optimizer.stepCount += 1
            return dino.step(batch, epoch: epoch, stepInEpoch: stepInEpoch, memory: memory) { references in
                self.draw(batch, references: references, epoch: epoch, stepInEpoch: stepInEpoch)
            }
        }
        let g = Graph(training: true, workers: config.threads)
        let loss: Variable
        var picks: [Int?] = []
        if let memory {
            // Reference §5.4: ŷ from the clean reference crop in eval mode (no gradient); sample from Q′
            // before this step's write; substitute detached rows of z₂; then write (ŷ, z₂) to the queues.
            let references = referenceEmbeddings(batch)
            let z1 = model.forward(g, features: Variable(batch.views[0]))
            let z2 = model.forward(g, features: Variable(batch.views[1]))
            picks = draw(batch, references: references, epoch: epoch, stepInEpoch: stepInEpoch)
            let positives = substitute(g, z2, picks: picks, memory: memory)
            memory.write(step: stepInEpoch, indices: batch.indices, references: references, positives: z2.values)
            loss = withDistillation(g, g.ntXent(z1, positives, temperature: Float(config.temperature)), student: z1, batch: batch)
            optimizer.zeroGrad()
            g.backward(from: loss)
            optimizer.step()
            return (loss.values[0], picks)
        }
        switch config.method {
        case .supervised:
            let e = model.forward(g, features: Variable(batch.views[0]))
            let cosine = g.linear(g.l2Normalize(e), weight: g.l2Normalize(classifier!))
            let logits = g.aamSoftmaxLogits(cosine, targets: batch.labels, scale: Float(config.aamScale), margin: Float(config.aamMargin))
            loss = g.crossEntropy(logits, targets: batch.labels)
        case .distill:
            loss = distillationLoss(g, model.forward(g, features: Variable(batch.views[0])), batch: batch)
        case .dino, .dinoOracle:
            preconditionFailure("DINO steps run in DINOState")
        case .simclr, .simclrOracle:
            // Two forward passes: batch-norm statistics per view, as in the reference.
            let z1 = model.forward(g, features: Variable(batch.views[0]))
            let z2 = model.forward(g, features: Variable(batch.views[1]))
            loss = withDistillation(g, g.ntXent(z1, z2, temperature: Float(config.temperature)), student: z1, batch: batch)
        }
        optimizer.zeroGrad()
        g.backward(from: loss)
        optimizer.step()
        return (loss.values[0], picks)
    }

    /// The distillation loss of the student's embeddings of the batch's (augmented) first view against the teacher's
    /// embeddings of the clean utterances: `distill.weight` × mean (1 − cos), twice that for `mse`; through the head
    /// when the sizes differ.
    func distillationLoss(_ g: Graph, _ embeddings: Variable, batch: TrainingBatch) -> Variable {
        let teacher = self.teacher!
        let mapped = distillHead.map { g.linear(embeddings, weight: $0) } ?? embeddings
        let targets = Tensor(shape: [batch.indices.count, teacher.dimension], values: teacher.references(batch.indices))
        let scale = Float(config.distill.weight) * (config.distill.loss == .mse ? 2 : 1)
        return g.cosineDistillation(mapped, teacher: targets, scale: scale)
    }

    /// `loss` plus the distillation loss of `student` when SimCLR distils too.
    func withDistillation(_ g: Graph, _ loss: Variable, student: Variable, batch: TrainingBatch) -> Variable {
        teacher == nil ? loss : g.add(loss, distillationLoss(g, student, batch: batch))
    }

    /// The Q′ slot of each anchor's pseudo-positive (nil: it keeps its own positive), drawn before this
    /// step's write: from the epoch's clusters (k-means) or the nearest fresh references (knn).
    func draw(_ batch: TrainingBatch, references: [Float], epoch: Int, stepInEpoch: Int) -> [Int?] {
        guard let memory else { return batch.indices.map { _ in nil } }
        switch config.ssps.sampling {
        case .kmeans:
            return clusters.map { PositiveSampler.drawFromClusters(anchors: batch.indices, memory: memory, clusters: $0,
                                                                    seed: config.seed, epoch: epoch, step: stepInEpoch) }
                ?? batch.indices.map { _ in nil }
        case .knn:
            return PositiveSampler.drawNearest(anchors: batch.indices, references: references, memory: memory,
                                               m: config.ssps.neighbours, seed: config.seed, epoch: epoch, step: stepInEpoch)
        }
    }

    /// ŷ of the batch (B × D): the frozen reference model's cached rows, or the L2-normalised eval-mode embeddings
    /// of the batch's reference crops, outside the tape.
    func referenceEmbeddings(_ batch: TrainingBatch) -> [Float] {
        if let references { return references.references(batch.indices) }
        guard let reference = batch.reference else { preconditionFailure("SSPS batch without reference crops") }
        return Self.normalizedRows(model.forward(Graph(training: false, recording: false, workers: config.threads), features: Variable(reference)))
    }

    /// Rows of an (N, D) output scaled to unit L2 norm (`F.normalize`; zero rows stay zero).
    static func normalizedRows(_ x: Variable) -> [Float] {
        SphericalKMeans.normalizedRows(x.values, count: x.shape[0], dimension: x.shape[1])
    }

    /// z₂ with the picked rows replaced by detached Q′ embeddings: z₂ ⊙ keep + stored, where keep is
    /// 0 on substituted rows (no gradient reaches them) and stored is 0 elsewhere.
    func substitute(_ g: Graph, _ z2: Variable, picks: [Int?], memory: SSPSMemory) -> Variable {
        guard picks.contains(where: { $0 != nil }) else { return z2 }
        let (n, d) = (z2.shape[0], z2.shape[1])
        var keep = [Float](repeating: 1, count: n), stored = [Float](repeating: 0, count: n * d)
        for (row, slot) in picks.enumerated() {
            guard let slot else { continue }
            keep[row] = 0
            for k in 0..<d { stored[row * d + k] = memory.positiveEmbeddings[slot * d + k] }
        }
        return g.add(g.mul(z2, Variable(Tensor(shape: [n, 1], values: keep))), Variable(Tensor(shape: [n, d], values: stored)))
    }

    /// The eval-mode pass that fills the queues before the first SSPS epoch (reference §5.4 "initial fill"):
    /// the whole model in eval mode, no sampling, no update; ŷ and the eval-mode z₂ written at `stepInEpoch`.
    public func fill(_ batch: TrainingBatch, stepInEpoch: Int) {
        guard let memory else { return }
        if let dino { dino.fill(batch, stepInEpoch: stepInEpoch, memory: memory); return }
        let references = referenceEmbeddings(batch)
        let z2 = model.forward(Graph(training: false, recording: false, workers: config.threads), features: Variable(batch.views[1])).values
        memory.write(step: stepInEpoch, indices: batch.indices, references: references, positives: z2)
    }
}
