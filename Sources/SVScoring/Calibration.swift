import Foundation

/// Global linear calibration: `llr = scale · score + offset`, fitted at a target prior.
///
/// This is the calibrator MagNetO starts from (and must beat).
public struct LinearCalibration: Codable, Equatable, Sendable {
    public var scale: Double
    public var offset: Double
    /// The target prior the calibration was fitted at (the LLR itself does not depend on it).
    public var prior: Double

    public init(scale: Double, offset: Double, prior: Double) {
        self.scale = scale
        self.offset = offset
        self.prior = prior
    }

    /// The log-likelihood ratio (natural log) of a raw score.
    @inlinable
    public func llr(_ score: Double) -> Double { scale * score + offset }

    /// Prior-weighted logistic regression (Brümmer's objective, as BOSARIS `train_linear_calibration`):
    /// minimises, over `a` (scale) and `b` (offset), with `L = logit P = log(P/(1−P))`,
    ///
    ///     C(a, b) = P·mean_tar softplus(−(a·s + b + L)) + (1−P)·mean_non softplus(a·s + b + L),
    ///
    /// the prior-weighted cross-entropy (Cllr at P = 0.5, up to the factor 1/log 2). The fitted
    /// LLR is `a·s + b`; the prior only enters the fit.
    ///
    /// Newton's method in Double with backtracking (Armijo) line search from (0, 0), on scores
    /// standardised internally (mean 0, std 1: Newton is affine invariant, this only helps rounding);
    /// it stops when a Newton step changes each parameter by at most 1e-10·max(1, |parameter|).
    ///
    /// Errors: an empty class, a non-finite score, a prior outside (0, 1), all scores equal, classes
    /// that do not overlap (no finite optimum: the scale would grow without bound), or no
    /// convergence in 200 iterations.
    public static func fit(targets: [Double], nontargets: [Double], prior: Double) throws(CalibrationError)
        -> LinearCalibration
    {
        guard prior > 0, prior < 1 else { throw .invalidPrior(prior) }
        guard !targets.isEmpty else { throw .emptyClass(.target) }
        guard !nontargets.isEmpty else { throw .emptyClass(.nontarget) }
        if let i = targets.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(.target, index: i, value: targets[i]) }
        if let i = nontargets.firstIndex(where: { !$0.isFinite }) {
            throw .nonFinite(.nontarget, index: i, value: nontargets[i])
        }
        let tMin = targets.min()!, tMax = targets.max()!, nMin = nontargets.min()!, nMax = nontargets.max()!
        if tMin == tMax, nMin == nMax, tMin == nMin { throw .constantScores(tMin) }
        if tMin >= nMax { throw .separable(targetsAbove: true) }
        if tMax <= nMin { throw .separable(targetsAbove: false) }

        // Standardise: u = (s − m)/d, z = α·u + β + L; then a = α/d, b = β − α·m/d.
        let n = Double(targets.count + nontargets.count)
        let m = (targets.reduce(0, +) + nontargets.reduce(0, +)) / n
        let v = (targets.reduce(0) { $0 + ($1 - m) * ($1 - m) } + nontargets.reduce(0) { $0 + ($1 - m) * ($1 - m) }) / n
        let d = v.squareRoot()
        let problem = Objective(targets: targets.map { ($0 - m) / d }, nontargets: nontargets.map { ($0 - m) / d },
                                prior: prior)

        var w = (0.0, 0.0)
        var current = problem.evaluate(w.0, w.1)
        for _ in 0..<maxIterations {
            let (g0, g1) = (current.gradient.0, current.gradient.1)
            let (h00, h01, h11) = current.hessian
            let det = h00 * h11 - h01 * h01
            guard det > 0, det.isFinite else { break }
            let step = (-(h11 * g0 - h01 * g1) / det, -(h00 * g1 - h01 * g0) / det)
            let slope = g0 * step.0 + g1 * step.1  // < 0 for a descent direction
            let small = abs(step.0) <= tolerance * max(1, abs(w.0)) && abs(step.1) <= tolerance * max(1, abs(w.1))
            var t = 1.0
            var accepted = false
            // Near the optimum the predicted decrease (−slope) drops below what the summed objective
            // can resolve, so a line search cannot confirm it; there Newton is in its quadratic
            // region and the full step is taken.
            if -slope <= 1e-13 * abs(current.value) {
                w = (w.0 + step.0, w.1 + step.1)
                current = problem.evaluate(w.0, w.1)
                accepted = true
            }
            for _ in 0..<60 where !accepted {
                let candidate = problem.evaluate(w.0 + t * step.0, w.1 + t * step.1)
                if candidate.value <= current.value + 1e-4 * t * slope {
                    w = (w.0 + t * step.0, w.1 + t * step.1)
                    current = candidate
                    accepted = true
                    break
                }
                t *= 0.5
            }
            // At the optimum the objective is flat to rounding: a tiny step that cannot decrease it is convergence.
            if small {
                return LinearCalibration(scale: w.0 / d, offset: w.1 - w.0 * m / d, prior: prior)
            }
            if !accepted { break }
        }
        throw .noConvergence(iterations: maxIterations)
    }

    static let maxIterations = 200
    static let tolerance = 1e-10

    // MARK: - Objective (public for tests and for calibrators that start from this one)

    /// `C(a, b)` of `fit` at the given parameters (natural log; divide by log 2 for bits).
    public static func objective(scale: Double, offset: Double, targets: [Double], nontargets: [Double],
                                 prior: Double) -> Double
    {
        Objective(targets: targets, nontargets: nontargets, prior: prior).evaluate(scale, offset).value
    }

    /// ∂C/∂a and ∂C/∂b of `fit`'s objective.
    public static func gradient(scale: Double, offset: Double, targets: [Double], nontargets: [Double],
                                prior: Double) -> (scale: Double, offset: Double)
    {
        let g = Objective(targets: targets, nontargets: nontargets, prior: prior).evaluate(scale, offset).gradient
        return (g.0, g.1)
    }

    /// Prior-weighted cross-entropy of LLRs in bits: `fit`'s objective at (a, b) = (1, 0) on the
    /// LLRs, divided by log 2. At P = 0.5 this is Cllr (1 for the useless LLR 0).
    public static func crossEntropyBits(targetLLRs: [Double], nontargetLLRs: [Double], prior: Double = 0.5) -> Double {
        objective(scale: 1, offset: 0, targets: targetLLRs, nontargets: nontargetLLRs, prior: prior) / log(2)
    }
}

/// `log(1 + e^x)` without overflow or loss for large |x|.
@inline(__always)
func softplus(_ x: Double) -> Double {
    x > 0 ? x + log1p(exp(-x)) : log1p(exp(x))
}

/// `1 / (1 + e^−x)` without overflow.
@inline(__always)
func sigmoid(_ x: Double) -> Double {
    if x >= 0 { return 1 / (1 + exp(-x)) }
    let e = exp(x)
    return e / (1 + e)
}

/// The objective of `LinearCalibration.fit` with its gradient and Hessian (closed forms).
struct Objective {
    var targets: [Double]
    var nontargets: [Double]
    var prior: Double

    struct Point {
        var value: Double
        var gradient: (Double, Double)
        var hessian: (Double, Double, Double)  // (aa, ab, bb)
    }

    func evaluate(_ a: Double, _ b: Double) -> Point {
        let logit = log(prior) - log1p(-prior)
        var f = 0.0, ga = 0.0, gb = 0.0, haa = 0.0, hab = 0.0, hbb = 0.0
        // Targets: softplus(−z); d/dz = −σ(−z); d²/dz² = σ(z)σ(−z).
        var ft = 0.0, gat = 0.0, gbt = 0.0, haat = 0.0, habt = 0.0, hbbt = 0.0
        for s in targets {
            let z = a * s + b + logit
            let p = sigmoid(-z), q = sigmoid(z)
            ft += softplus(-z)
            gat -= p * s; gbt -= p
            let h = p * q
            haat += h * s * s; habt += h * s; hbbt += h
        }
        var fn = 0.0, gan = 0.0, gbn = 0.0, haan = 0.0, habn = 0.0, hbbn = 0.0
        // Non-targets: softplus(z); d/dz = σ(z).
        for s in nontargets {
            let z = a * s + b + logit
            let p = sigmoid(z), q = sigmoid(-z)
            fn += softplus(z)
            gan += p * s; gbn += p
            let h = p * q
            haan += h * s * s; habn += h * s; hbbn += h
        }
        let wt = prior / Double(targets.count), wn = (1 - prior) / Double(nontargets.count)
        f = wt * ft + wn * fn
        ga = wt * gat + wn * gan; gb = wt * gbt + wn * gbn
        haa = wt * haat + wn * haan; hab = wt * habt + wn * habn; hbb = wt * hbbt + wn * hbbn
        return Point(value: f, gradient: (ga, gb), hessian: (haa, hab, hbb))
    }
}

/// Why a calibration could not be fitted.
public enum CalibrationError: Error, Equatable, CustomStringConvertible {
    case invalidPrior(Double)
    case emptyClass(TrialLabel)
    case nonFinite(TrialLabel, index: Int, value: Double)
    case constantScores(Double)
    /// The classes do not overlap: every target score ≥ every non-target score (`targetsAbove`) or the reverse.
    case separable(targetsAbove: Bool)
    case noConvergence(iterations: Int)

    public var description: String {
        switch self {
        case let .invalidPrior(p):
            return "calibration: target prior \(p) is not strictly between 0 and 1 (e.g. 0.01)"
        case let .emptyClass(label):
            return "calibration: no \(label.rawValue) scores; calibrate on a labelled list with both target and "
                + "non-target trials"
        case let .nonFinite(label, index, value):
            return "calibration: \(label.rawValue) score #\(index + 1) is \(value); every score must be a finite number"
        case let .constantScores(value):
            return "calibration: every score equals \(value), so they carry no information; check the scores file"
        case let .separable(above):
            return "calibration: every target score is \(above ? "≥" : "≤") every non-target score, so logistic "
                + "regression has no finite optimum (the scale would grow without bound); calibrate on a larger "
                + "or harder trial list\(above ? "" : ", and check that the labels are not swapped")"
        case let .noConvergence(iterations):
            return "calibration: Newton's method did not converge in \(iterations) iterations; the scores may be "
                + "badly scaled or nearly separable"
        }
    }
}

/// Bayes decisions from log-likelihood ratios.
public enum BayesDecision {
    /// Accept when LLR ≥ log((1 − P)/P) (C_miss = C_fa = 1): the threshold that minimises expected
    /// cost at target prior P. P = 0.01 gives log 99 ≈ 4.595. P = 0 gives +∞ (never accept),
    /// P = 1 gives −∞; a P outside [0, 1] gives NaN (callers validate the prior).
    public static func threshold(targetPrior: Double) -> Double {
        log1p(-targetPrior) - log(targetPrior)
    }

    /// `llr ≥ threshold(targetPrior:)`.
    public static func accept(llr: Double, targetPrior: Double) -> Bool {
        llr >= threshold(targetPrior: targetPrior)
    }
}
