import Foundation

/// Which parameters weight decay applies to.
public enum WeightDecayScope: Sendable {
    /// Every parameter (PyTorch's default).
    case all
    /// Only tensors with two or more dimensions (weights, not biases or batch-norm affines).
    case matricesOnly

    func applies(to p: Variable) -> Bool { self == .all || p.shape.count >= 2 }
}

/// Adam with PyTorch semantics (`torch.optim.Adam`, non-AMSGrad): L2 weight decay added to the
/// gradient, bias-corrected moments, `p ← p − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε)`.
/// Parameters without a gradient are skipped (their step count still advances, as one shared `t`).
public final class Adam {
    public let parameters: [Variable]
    public var learningRate: Float
    public var beta1: Float, beta2: Float, epsilon: Float
    public var weightDecay: Float
    public var weightDecayScope: WeightDecayScope
    /// First and second moments per parameter, and the step count (for checkpoints).
    public var firstMoments: [[Float]]
    public var secondMoments: [[Float]]
    public var stepCount = 0
    /// Per parameter, the shared step count at which its moments started (0 for all but parameters
    /// added by a later training stage, e.g. QAT steps): its bias correction uses t − offset, as a
    /// fresh Adam would.
    public var stepOffsets: [Int]

    public init(parameters: [Variable], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0, weightDecayScope: WeightDecayScope = .all) {
        self.parameters = parameters
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        self.weightDecay = weightDecay; self.weightDecayScope = weightDecayScope
        firstMoments = parameters.map { [Float](repeating: 0, count: $0.count) }
        secondMoments = firstMoments
        stepOffsets = [Int](repeating: 0, count: parameters.count)
    }

    public func step() {
        stepCount += 1
        for (k, p) in parameters.enumerated() {
            guard let grad = p.grad else { continue }
            let t = Float(max(1, stepCount - stepOffsets[k]))
            let bc1 = 1 - Foundation.pow(beta1, t), bc2Sqrt = (1 - Foundation.pow(beta2, t)).squareRoot()
            let stepSize = learningRate / bc1
            let wd = weightDecayScope.applies(to: p) ? weightDecay : 0
            var m = firstMoments[k], v = secondMoments[k]
            p.value.values.withUnsafeMutableBufferPointer { w in
                for i in 0..<w.count {
                    let g = grad[i] + wd * w[i]
                    m[i] += (g - m[i]) * (1 - beta1)
                    v[i] = v[i] * beta2 + (1 - beta2) * g * g
                    w[i] -= stepSize * m[i] / (v[i].squareRoot() / bc2Sqrt + epsilon)
                }
            }
            firstMoments[k] = m; secondMoments[k] = v
        }
    }

    public func zeroGrad() { parameters.forEach { $0.zeroGrad() } }
}

/// SGD with momentum, PyTorch semantics (`torch.optim.SGD`): d = g + λ·p (decay on the chosen
/// parameters), buf = d on the first step, else μ·buf + (1−dampening)·d; d = buf (or d + μ·buf
/// with Nesterov); p ← p − lr·d.
public final class SGD {
    public let parameters: [Variable]
    public var learningRate: Float
    public var momentum: Float, dampening: Float, nesterov: Bool
    public var weightDecay: Float
    public var weightDecayScope: WeightDecayScope
    /// Momentum buffers (nil before a parameter's first step), for checkpoints.
    public var momentumBuffers: [[Float]?]

    public init(parameters: [Variable], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
                nesterov: Bool = false, weightDecay: Float = 0, weightDecayScope: WeightDecayScope = .matricesOnly) {
        self.parameters = parameters
        self.learningRate = learningRate; self.momentum = momentum; self.dampening = dampening
        self.nesterov = nesterov; self.weightDecay = weightDecay; self.weightDecayScope = weightDecayScope
        momentumBuffers = parameters.map { _ in nil }
    }

    public func step() {
        for (k, p) in parameters.enumerated() {
            guard let grad = p.grad else { continue }
            let wd = weightDecayScope.applies(to: p) ? weightDecay : 0
            var d = grad
            let w0 = p.value.values
            for i in 0..<d.count { d[i] += wd * w0[i] }
            if momentum != 0 {
                var buf: [Float]
                if let old = momentumBuffers[k] {
                    buf = old
                    for i in 0..<buf.count { buf[i] = momentum * buf[i] + (1 - dampening) * d[i] }
                } else {
                    buf = d
                }
                momentumBuffers[k] = buf
                if nesterov { for i in 0..<d.count { d[i] += momentum * buf[i] } } else { d = buf }
            }
            p.value.values.withUnsafeMutableBufferPointer { w in
                for i in 0..<w.count { w[i] -= learningRate * d[i] }
            }
        }
    }

    public func zeroGrad() { parameters.forEach { $0.zeroGrad() } }
}

// MARK: - Learning-rate schedules

public protocol LearningRateSchedule: Sendable {
    /// The learning rate at `step` (an epoch or iteration index, starting at 0, as the schedule defines).
    func learningRate(at step: Int) -> Float
}

/// lr = base·γ^⌊epoch/stepSize⌋ (PyTorch `StepLR`; sslsv's default: 1e-3, γ 0.95, every 5 epochs).
public struct StepDecaySchedule: LearningRateSchedule {
    public var base: Float, gamma: Float, stepSize: Int
    public init(base: Float, gamma: Float, stepSize: Int) {
        precondition(stepSize > 0, "StepDecaySchedule: stepSize must be positive")
        self.base = base; self.gamma = gamma; self.stepSize = stepSize
    }
    public func learningRate(at epoch: Int) -> Float {
        Float(Double(base) * Foundation.pow(Double(gamma), Double(epoch / stepSize)))
    }
}

/// Linear warm-up then cosine decay, per iteration, as DINO's `cosine_scheduler`: steps
/// 0..<warmup go linearly from `warmupStart` to `base` (numpy `linspace`, both ends included), then
/// lr = final + ½(base − final)(1 + cos(π·i/cosineSteps)) for i = step − warmup, and `final` once
/// i ≥ cosineSteps. DINO's own scheduler has cosineSteps = total − warmup (the cosine ends at
/// `totalSteps`); sslsv's paper-era DINO appends a cosine defined over all `totalSteps` after the
/// warm-up (`concatenated`), so it never gets to `final` within the run.
public struct WarmupCosineSchedule: LearningRateSchedule {
    public var base: Float, final: Float, warmupStart: Float
    public var warmupSteps: Int, totalSteps: Int
    /// Length of the cosine part.
    public var cosineSteps: Int

    public init(base: Float, final: Float = 0, warmupStart: Float = 0, warmupSteps: Int, totalSteps: Int) {
        precondition(warmupSteps >= 0 && totalSteps > warmupSteps, "WarmupCosineSchedule: need 0 ≤ warmup < total")
        self.base = base; self.final = final; self.warmupStart = warmupStart
        self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
        cosineSteps = totalSteps - warmupSteps
    }

    /// sslsv paper-era DINO (reference §4): `np.concatenate((linspace(warmupStart, base, warmupSteps),
    /// final + ½(base − final)(1 + cos(π·arange(totalSteps)/totalSteps))))`, indexed by the global step.
    public static func concatenated(base: Float, final: Float, warmupStart: Float = 0, warmupSteps: Int,
                                    totalSteps: Int) -> WarmupCosineSchedule {
        precondition(warmupSteps >= 0 && totalSteps > 0, "WarmupCosineSchedule.concatenated: need warmup ≥ 0 and total > 0")
        var s = WarmupCosineSchedule(base: base, final: final, warmupStart: warmupStart, warmupSteps: warmupSteps,
                                     totalSteps: warmupSteps + totalSteps)
        s.cosineSteps = totalSteps
        return s
    }

    public func learningRate(at step: Int) -> Float {
        if step < warmupSteps {
            if warmupSteps == 1 { return warmupStart }
            return Float(Double(warmupStart) + Double(base - warmupStart) * Double(step) / Double(warmupSteps - 1))
        }
        let i = step - warmupSteps
        if i >= cosineSteps { return final }
        return Float(Double(final) + 0.5 * Double(base - final) * (1 + Foundation.cos(Double.pi * Double(i) / Double(cosineSteps))))
    }
}

// MARK: - Gradient clipping and momentum (EMA) updates

/// Per-tensor gradient clipping as DINO's `clip_gradients`: for each parameter with a gradient,
/// coefficient = maxNorm/(‖g‖₂ + 1e-6); when it is below 1 the gradient is scaled by it.
/// Returns the norms before clipping (nil for parameters without a gradient).
@discardableResult
public func clipGradientNorms(_ parameters: [Variable], maxNorm: Float) -> [Float?] {
    parameters.map { p -> Float? in
        guard var g = p.grad else { return nil }
        var s: Float = 0
        for v in g { s += v * v }
        let norm = s.squareRoot()
        let coefficient = maxNorm / (norm + 1e-6)
        if coefficient < 1 {
            for i in 0..<g.count { g[i] *= coefficient }
            p.grad = g
        }
        return norm
    }
}

/// Momentum (EMA) update of a teacher from a student, parameters only:
/// θ_t ← τ·θ_t + (1 − τ)·θ_s (solo-learn/sslsv `MomentumUpdater.update`, in Float32 as PyTorch).
public func momentumUpdate(teacher: [Variable], student: [Variable], tau: Double) {
    precondition(teacher.count == student.count, "momentumUpdate: \(teacher.count) teacher and \(student.count) student tensors")
    let a = Float(tau), b = Float(1 - tau)
    for (t, s) in zip(teacher, student) {
        precondition(t.count == s.count, "momentumUpdate: \(t.name) has \(t.count) values, the student's \(s.count)")
        let sv = s.value.values
        t.value.values.withUnsafeMutableBufferPointer { tv in
            for i in 0..<tv.count { tv[i] = tv[i] * a + sv[i] * b }
        }
    }
}

/// The teacher momentum of BYOL/DINO at `step` of `totalSteps`: τ = 1 − (1 − base)(cos(π·step/total) + 1)/2,
/// from `base` (0.996) up to 1 (cosine); 1 from `totalSteps` on.
public func teacherMomentum(step: Int, totalSteps: Int, base: Double) -> Double {
    guard step < totalSteps else { return 1 }
    return 1 - (1 - base) * (Foundation.cos(Double.pi * Double(step) / Double(totalSteps)) + 1) / 2
}
