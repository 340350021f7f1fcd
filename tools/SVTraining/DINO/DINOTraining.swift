import Foundation
import SVAutograd

/// DINO's loss and center update (sslsv `DINOLoss`, reference §4), on the student logits S (6N, K),
/// rows ordered g1, g2, l1…l4, and the raw teacher logits T (2N, K), rows g1, g2.
public enum DINOLoss {
    /// softmax((T − c)/τ_t) per row, computed off the tape (the teacher is detached).
    public static func teacherProbabilities(_ teacher: Tensor, center: [Float], temperature: Double) -> [Float] {
        let k = teacher.shape[1], rows = teacher.shape[0]
        precondition(center.count == k, "DINOLoss: center has \(center.count) values, the teacher \(k) prototypes")
        var p = [Float](repeating: 0, count: teacher.count)
        let t = teacher.values, inv = Float(1 / temperature)
        for r in 0..<rows {
            let base = r * k
            var mx = -Float.infinity
            for i in 0..<k { let v = (t[base + i] - center[i]) * inv; p[base + i] = v; mx = max(mx, v) }
            var s = 0.0
            for i in 0..<k { let e = Foundation.exp(Double(p[base + i] - mx)); p[base + i] = Float(e); s += e }
            for i in 0..<k { p[base + i] = Float(Double(p[base + i]) / s) }
        }
        return p
    }

    /// The mean over the 10 (teacher view j, student view i ≠ j) pairs of
    /// mean_b −Σₖ softmax((T_j − c)/τ_t)ₖ·log_softmax(S_i/τ_s)ₖ. Student view i is matched with the
    /// sum of the teacher targets it pairs with (the other global view for g1/g2, both for locals),
    /// so one soft cross-entropy over the 6N rows, scaled by 6/10, gives the same value and gradient.
    public static func loss(_ g: Graph, student: Variable, teacher: Tensor, center: [Float],
                            studentTemperature: Double, teacherTemperature: Double) -> Variable {
        let k = student.shape[1], n = teacher.shape[0] / 2
        precondition(teacher.shape == [2 * n, k] && student.shape == [6 * n, k],
                     "DINOLoss: student (6N, K) and teacher (2N, K) expected, got \(student.shape), \(teacher.shape)")
        let p = teacherProbabilities(teacher, center: center, temperature: teacherTemperature)
        var targets = [Float](repeating: 0, count: 6 * n * k)
        let block = n * k
        for i in 0..<6 {
            for j in 0..<2 where j != i {
                for e in 0..<block { targets[i * block + e] += p[j * block + e] }
            }
        }
        let logits = g.affine(student, scale: Float(1 / studentTemperature))
        let ce = g.softTargetCrossEntropy(logits, targets: Tensor(shape: [6 * n, k], values: targets))
        return g.affine(ce, scale: 6 / 10)
    }

    /// c ← m·c + (1 − m)·mean over rows of T (the raw teacher logits).
    public static func updatedCenter(_ center: [Float], teacher: Tensor, momentum: Double) -> [Float] {
        let k = teacher.shape[1], rows = teacher.shape[0]
        var sum = [Float](repeating: 0, count: k)
        let t = teacher.values
        for r in 0..<rows { for i in 0..<k { sum[i] += t[r * k + i] } }
        let m = Float(momentum), rest = Float(1 - momentum)
        return (0..<k).map { center[$0] * m + (sum[$0] / Float(rows)) * rest }
    }
}

/// The DINO part of a run: student head, EMA teacher (encoder and head), center, SGD.
public final class DINOState {
    public let config: DINOConfig
    public let student: ECAPATrainingModel
    public let head: DINOHead
    public let teacher: ECAPATrainingModel
    public let teacherHead: DINOHead
    /// The center c (K), a persisted buffer.
    public let center: Variable
    /// SGD (momentum 0.9, weight decay on ≥ 2-D tensors) over the student encoder and head.
    public let optimizer: SGD
    /// Optimiser steps per epoch: the LR and EMA schedules are per step.
    public let stepsPerEpoch: Int
    /// Threads the training graphs split their ops over (`threads`).
    let workers: Int
    public let lrSchedule: WarmupCosineSchedule
    public let totalSteps: Int

    init(config: TrainingConfig, student: ECAPATrainingModel, stepsPerEpoch: Int) {
        let d = config.dino
        self.config = d
        self.student = student
        self.stepsPerEpoch = max(1, stepsPerEpoch)
        workers = config.threads
        let e = config.model.embeddingSize, headSeed = config.seed ^ 0xD1A0_4EAD_0000_0001
        head = DINOHead(input: e, hidden: d.hidden, bottleneck: d.bottleneck, prototypes: d.prototypes, seed: headSeed)
        // The teacher starts as a copy of the student (`initialize_momentum_params`).
        teacher = ECAPATrainingModel(config: config.model, seed: config.seed)
        teacherHead = DINOHead(input: e, hidden: d.hidden, bottleneck: d.bottleneck, prototypes: d.prototypes, seed: headSeed)
        for (t, s) in zip(teacher.parameters + teacherHead.parameters, student.parameters + head.parameters) {
            t.value = s.value
            t.requiresGrad = false
        }
        center = .buffer(Tensor(zeros: [d.prototypes]), name: "center")
        optimizer = SGD(parameters: student.parameters + head.parameters, learningRate: 0, momentum: 0.9,
                        weightDecay: Float(config.weightDecay), weightDecayScope: .matricesOnly)
        totalSteps = (d.scheduleEpochs > 0 ? d.scheduleEpochs : config.epochs) * self.stepsPerEpoch
        lrSchedule = .concatenated(base: Float(config.learningRate), final: Float(d.finalLR),
                                   warmupSteps: d.warmupEpochs * self.stepsPerEpoch, totalSteps: totalSteps)
    }

    /// Every persisted tensor but the optimiser's, by checkpoint name.
    var namedState: [(String, Variable)] {
        func named(_ prefix: String, _ vs: [Variable]) -> [(String, Variable)] { vs.map { ("\(prefix).\($0.name)", $0) } }
        var out = named("head", head.parameters + head.buffers)
        out += named("teacher", teacher.parameters + teacher.buffers)
        out += named("teacher_head", teacherHead.parameters + teacherHead.buffers)
        out.append(("dino.center", center))
        return out
    }

    /// Checkpoint names of the optimiser's parameters (momentum buffers are `sgd.momentum.<name>`).
    var optimizerNames: [String] {
        student.parameters.map { "model.\($0.name)" } + head.parameters.map { "head.\($0.name)" }
    }

    public func learningRate(globalStep: Int) -> Float { lrSchedule.learningRate(at: globalStep) }

    /// One DINO step (reference §4): teacher on the 2N globals (train mode, no gradient); student on
    /// the 2N globals and on the 4N locals (two passes: batch-norm statistics per group); loss; center
    /// update; backward; per-tensor clipping; last-layer gradients dropped in the first
    /// `freeze_last_layer` epochs; SGD at the step's LR; EMA of the teacher's parameters.
    ///
    /// With SSPS (`memory`, reference §5.2–5.7): ŷ from the teacher encoder on the clean reference
    /// crops first (train-mode batch norm unless `ssps.teacher_reference_train_mode` is false);
    /// `draw` picks Q′ slots from Q′ as it was before this step; rows i of T₁ and T₂ are replaced by
    /// the stored [T₁; T₂] of the same slot; (ŷ, original [T₁; T₂]) are written; the loss and the center
    /// update use the substituted T. Returns the loss and the picks.
    func step(_ batch: TrainingBatch, epoch: Int, stepInEpoch: Int, memory: SSPSMemory? = nil,
              draw: ([Float]) -> [Int?] = { _ in [] }) -> (loss: Float, pseudoPositives: [Int?]) {
        precondition(batch.views.count == 6, "DINO batch: 2 global and 4 local views expected, got \(batch.views.count)")
        let globals = Self.stack(batch.views[0..<2]), locals = Self.stack(batch.views[2..<6])
        let globalStep = epoch * stepsPerEpoch + stepInEpoch
        var references: [Float] = []
        if memory != nil { references = referenceEmbeddings(batch, training: referenceTrainMode) }
        let tg = Graph(training: true, recording: false, workers: workers)
        var t = teacherHead.forward(tg, teacher.forward(tg, features: Variable(globals))).value
        var picks: [Int?] = []
        if let memory {
            picks = draw(references)
            let original = Self.positiveRows(t, prototypes: head.prototypes)
            t = Self.substitute(t, picks: picks, memory: memory)
            memory.write(step: stepInEpoch, indices: batch.indices, references: references, positives: original)
        }
        let g = Graph(training: true, workers: workers)
        let s = g.concat([head.forward(g, student.forward(g, features: Variable(globals))),
                          head.forward(g, student.forward(g, features: Variable(locals)))], axis: 0)
        let loss = DINOLoss.loss(g, student: s, teacher: t, center: center.values,
                                 studentTemperature: config.studentTemperature, teacherTemperature: config.teacherTemperature)
        center.value.values = DINOLoss.updatedCenter(center.values, teacher: t, momentum: config.centerMomentum)
        optimizer.zeroGrad()
        g.backward(from: loss)
        if config.clipGrad > 0 { clipGradientNorms(optimizer.parameters, maxNorm: Float(config.clipGrad)) }
        if epoch < config.freezeLastLayer { head.lastLayer.zeroGrad() }
        optimizer.learningRate = learningRate(globalStep: globalStep)
        optimizer.step()
        momentumUpdate(teacher: teacher.parameters + teacherHead.parameters, student: student.parameters + head.parameters,
                       tau: emaMomentum(globalStep: globalStep))
        return (loss.values[0], picks)
    }

    /// The τ of the EMA after optimiser step `globalStep`. sslsv's `on_train_step_end(step)` first
    /// updates with the current τ, then sets τ(step) for the next step (`MomentumUpdater.update_tau`),
    /// so step s uses τ(s − 1), and step 0 the base momentum (= τ(0)).
    public func emaMomentum(globalStep: Int) -> Double {
        teacherMomentum(step: max(0, globalStep - 1), totalSteps: totalSteps, base: config.momentum)
    }

    /// `ssps.teacher_reference_train_mode` of the run.
    var referenceTrainMode = true

    /// ŷ: L2-normalised teacher-encoder outputs of the clean reference crops (B × D), no gradient.
    func referenceEmbeddings(_ batch: TrainingBatch, training: Bool) -> [Float] {
        guard let reference = batch.reference else { preconditionFailure("SSPS batch without reference crops") }
        return TrainingStep.normalizedRows(teacher.forward(Graph(training: training, recording: false, workers: workers), features: Variable(reference)))
    }

    /// The eval-mode fill pass (reference §5.4): the whole model in eval mode, ŷ and the eval-mode
    /// teacher outputs [T₁; T₂] written at `stepInEpoch`; no sampling, no update.
    func fill(_ batch: TrainingBatch, stepInEpoch: Int, memory: SSPSMemory) {
        let references = referenceEmbeddings(batch, training: false)
        let g = Graph(training: false, recording: false, workers: workers)
        let t = teacherHead.forward(g, teacher.forward(g, features: Variable(Self.stack(batch.views[0..<2])))).value
        memory.write(step: stepInEpoch, indices: batch.indices, references: references,
                     positives: Self.positiveRows(t, prototypes: head.prototypes))
    }

    /// Q′ rows from T (2N, K): row i is [T₁ row i; T₂ row i] (N × 2K).
    static func positiveRows(_ t: Tensor, prototypes k: Int) -> [Float] {
        let n = t.shape[0] / 2
        var out = [Float](repeating: 0, count: n * 2 * k)
        for i in 0..<n {
            for v in 0..<2 { for c in 0..<k { out[(i * 2 + v) * k + c] = t.values[(v * n + i) * k + c] } }
        }
        return out
    }

    /// T with rows i and N + i replaced by the stored T₁ and T₂ of anchor i's picked slot.
    static func substitute(_ t: Tensor, picks: [Int?], memory: SSPSMemory) -> Tensor {
        let n = t.shape[0] / 2, k = t.shape[1]
        precondition(memory.positiveDimension == 2 * k && picks.count == n, "DINO-SSPS: Q′ rows of 2K values and N picks expected")
        var out = t
        for (i, slot) in picks.enumerated() {
            guard let slot else { continue }
            for v in 0..<2 {
                for c in 0..<k { out.values[(v * n + i) * k + c] = memory.positiveEmbeddings[(slot * 2 + v) * k + c] }
            }
        }
        return out
    }

    /// Views (N, F, T) of equal shape, stacked view-major into (V·N, F, T).
    static func stack<C: Collection<Tensor>>(_ views: C) -> Tensor {
        let first = views.first!
        precondition(views.allSatisfy { $0.shape == first.shape }, "DINO: views of one group must have the same shape")
        var shape = first.shape
        shape[0] *= views.count
        return Tensor(shape: shape, values: views.flatMap(\.values))
    }
}
