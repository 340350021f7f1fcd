import Foundation

// MARK: - Report and errors

/// Everything `spkv eval` reports for one labelled score set.
///
/// Conventions shared by every metric in this file:
/// * a trial is **accepted when `score ≥ threshold`** (a tie with the threshold is an accept);
/// * error rates are fractions inside the `Metrics` functions; the report gives the EER in percent;
/// * DCFs are normalised: C_miss = C_fa = 1, divided by min(P_target, 1 − P_target);
/// * the LLR-only fields (`actDCF…`, `cllr`, `minCllr`) are `nil` unless the scores are
///   log-likelihood ratios (natural log).
///
/// JSON keys are snake_case (`eer`, `eer_threshold`, `min_dcf_01`, `min_dcf_05`,
/// `min_dcf_01_threshold`, `min_dcf_05_threshold`, `act_dcf_01`, `act_dcf_05`, `cllr`, `min_cllr`,
/// `targets`, `nontargets`); `nil` fields are left out. A threshold is finite except in the
/// degenerate case "reject everything" when the largest score is `Double.greatestFiniteMagnitude`;
/// non-finite thresholds are written as the strings `"inf"` / `"-inf"`, which plain JSON can carry.
public struct EvaluationReport: Codable, Equatable, Sendable {
    public var targets: Int
    public var nontargets: Int
    /// Equal error rate in percent (see `Metrics.equalErrorRate`).
    public var eer: Double
    public var eerThreshold: Double
    /// Normalised minimum DCF at P_target = 0.01 and 0.05.
    public var minDCF01: Double
    public var minDCF05: Double
    public var minDCF01Threshold: Double
    public var minDCF05Threshold: Double
    /// Normalised actual DCF at the Bayes threshold, LLR scores only.
    public var actDCF01: Double?
    public var actDCF05: Double?
    /// Cllr and PAV min Cllr in bits, LLR scores only.
    public var cllr: Double?
    public var minCllr: Double?

    public init(targets: Int, nontargets: Int, eer: Double, eerThreshold: Double,
                minDCF01: Double, minDCF05: Double, minDCF01Threshold: Double, minDCF05Threshold: Double,
                actDCF01: Double? = nil, actDCF05: Double? = nil, cllr: Double? = nil, minCllr: Double? = nil) {
        self.targets = targets; self.nontargets = nontargets
        self.eer = eer; self.eerThreshold = eerThreshold
        self.minDCF01 = minDCF01; self.minDCF05 = minDCF05
        self.minDCF01Threshold = minDCF01Threshold; self.minDCF05Threshold = minDCF05Threshold
        self.actDCF01 = actDCF01; self.actDCF05 = actDCF05
        self.cllr = cllr; self.minCllr = minCllr
    }

    enum CodingKeys: String, CodingKey {
        case targets, nontargets, eer
        case eerThreshold = "eer_threshold"
        case minDCF01 = "min_dcf_01", minDCF05 = "min_dcf_05"
        case minDCF01Threshold = "min_dcf_01_threshold", minDCF05Threshold = "min_dcf_05_threshold"
        case actDCF01 = "act_dcf_01", actDCF05 = "act_dcf_05"
        case cllr
        case minCllr = "min_cllr"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func threshold(_ key: CodingKeys) throws -> Double {
            if let text = try? c.decode(String.self, forKey: key) {
                switch text {
                case "inf", "+inf": return .infinity
                case "-inf": return -.infinity
                default: throw DecodingError.dataCorruptedError(forKey: key, in: c,
                                                                debugDescription: "threshold \"\(text)\" is neither a number nor \"inf\"/\"-inf\"")
                }
            }
            return try c.decode(Double.self, forKey: key)
        }
        targets = try c.decode(Int.self, forKey: .targets)
        nontargets = try c.decode(Int.self, forKey: .nontargets)
        eer = try c.decode(Double.self, forKey: .eer)
        eerThreshold = try threshold(.eerThreshold)
        minDCF01 = try c.decode(Double.self, forKey: .minDCF01)
        minDCF05 = try c.decode(Double.self, forKey: .minDCF05)
        minDCF01Threshold = try threshold(.minDCF01Threshold)
        minDCF05Threshold = try threshold(.minDCF05Threshold)
        actDCF01 = try c.decodeIfPresent(Double.self, forKey: .actDCF01)
        actDCF05 = try c.decodeIfPresent(Double.self, forKey: .actDCF05)
        cllr = try c.decodeIfPresent(Double.self, forKey: .cllr)
        minCllr = try c.decodeIfPresent(Double.self, forKey: .minCllr)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        func threshold(_ value: Double, _ key: CodingKeys) throws {
            if value.isFinite { try c.encode(value, forKey: key) } else { try c.encode(value > 0 ? "inf" : "-inf", forKey: key) }
        }
        try c.encode(targets, forKey: .targets)
        try c.encode(nontargets, forKey: .nontargets)
        try c.encode(eer, forKey: .eer)
        try threshold(eerThreshold, .eerThreshold)
        try c.encode(minDCF01, forKey: .minDCF01)
        try c.encode(minDCF05, forKey: .minDCF05)
        try threshold(minDCF01Threshold, .minDCF01Threshold)
        try threshold(minDCF05Threshold, .minDCF05Threshold)
        try c.encodeIfPresent(actDCF01, forKey: .actDCF01)
        try c.encodeIfPresent(actDCF05, forKey: .actDCF05)
        try c.encodeIfPresent(cllr, forKey: .cllr)
        try c.encodeIfPresent(minCllr, forKey: .minCllr)
    }
}

/// Why a score set cannot be evaluated.
public enum MetricsError: Error, Equatable, CustomStringConvertible, Sendable {
    case noTargets
    case noNontargets
    /// A NaN or infinite score; `index` counts from 0 within its class.
    case nonFiniteScore(index: Int, isTarget: Bool)
    /// A target prior outside the open interval (0, 1).
    case invalidPrior(Double)

    public var description: String {
        switch self {
        case .noTargets:
            return "cannot evaluate: there are no target trials (every label is non-target); check the labels or the --trials list"
        case .noNontargets:
            return "cannot evaluate: there are no non-target trials (every label is target); check the labels or the --trials list"
        case .nonFiniteScore(let index, let isTarget):
            return "cannot evaluate: \(isTarget ? "target" : "non-target") score #\(index) (counting from 0 among the \(isTarget ? "targets" : "non-targets")) is not a finite number; fix or remove that trial"
        case .invalidPrior(let p):
            return "target prior \(p) is not strictly between 0 and 1"
        }
    }
}

// MARK: - Metrics

/// Speaker-verification metrics on Double scores, each O(n log n) (one sort per class).
///
/// Definitions (all with "accept when score ≥ threshold"):
/// * **Operating points.** For every distinct score value s (tied scores are one step) the pair
///   P_fa(s) = #{non ≥ s}/N_non and P_miss(s) = #{tar < s}/N_tar, plus the reject-all point
///   (P_fa 0, P_miss 1). This is scikit-learn's `roc_curve(drop_intermediate=False)` with
///   P_miss = 1 − TPR; its threshold "+inf" is reported here as `nextUp(max score)`, a finite
///   threshold that rejects every trial.
/// * **EER.** Walk those points by decreasing threshold; d = P_miss − P_fa falls from 1 to −1.
///   Take the first point i with d_i ≤ 0 (compared exactly in integer counts) and interpolate
///   linearly between points i−1 and i: t = d_{i−1}/(d_{i−1} − d_i),
///   EER = P_fa,i−1 + t·(P_fa,i − P_fa,i−1) (= the interpolated P_miss). The EER threshold is
///   (1−t)·θ_{i−1} + t·θ_i, or θ_i when point i−1 is the reject-all point.
///   All-equal scores give exactly 50 %.
/// * **minDCF(P).** min over all operating points (reject-all and accept-all included) of
///   (P·P_miss + (1−P)·P_fa) / min(P, 1−P); among equal minima the highest threshold wins.
/// * **actDCF(P).** The same cost at the Bayes threshold θ = log((1−P)/P) for LLR scores,
///   accepting when llr ≥ θ.
/// * **Cllr** = (1/(2 ln 2))·(mean_tar softplus(−s) + mean_non softplus(s)), in bits, with
///   softplus(x) = max(x, 0) + log1p(e^{−|x|}) and compensated sums.
/// * **min Cllr**: Cllr after the optimal monotone (PAV) recalibration, see `minCllr`.
public enum Metrics {
    /// The two normalised-DCF priors the report uses.
    public static let reportPriors: (Double, Double) = (0.01, 0.05)

    /// Metrics of one labelled score set. With `scoresAreLLR` the LLR-only fields are filled.
    public static func evaluate(targets: [Double], nontargets: [Double], scoresAreLLR: Bool) throws(MetricsError) -> EvaluationReport {
        let roc = try OperatingPoints(targets: targets, nontargets: nontargets)
        let eer = roc.equalErrorRate()
        let dcf01 = roc.minimumDCF(prior: reportPriors.0), dcf05 = roc.minimumDCF(prior: reportPriors.1)
        var report = EvaluationReport(targets: targets.count, nontargets: nontargets.count,
                                      eer: 100 * eer.rate, eerThreshold: eer.threshold,
                                      minDCF01: dcf01.value, minDCF05: dcf05.value,
                                      minDCF01Threshold: dcf01.threshold, minDCF05Threshold: dcf05.threshold)
        if scoresAreLLR {
            report.actDCF01 = roc.actualDCF(prior: reportPriors.0)
            report.actDCF05 = roc.actualDCF(prior: reportPriors.1)
            report.cllr = cllrUnchecked(targets: targets, nontargets: nontargets)
            report.minCllr = roc.minCllr()
        }
        return report
    }

    /// Equal error rate as a fraction, with its (interpolated) threshold; definition in the type's doc.
    public static func equalErrorRate(targets: [Double], nontargets: [Double]) throws(MetricsError) -> (rate: Double, threshold: Double) {
        try OperatingPoints(targets: targets, nontargets: nontargets).equalErrorRate()
    }

    /// Normalised minimum DCF (C_miss = C_fa = 1) at `targetPrior`, and the threshold reaching it.
    public static func minimumDCF(targets: [Double], nontargets: [Double], targetPrior: Double) throws(MetricsError) -> (value: Double, threshold: Double) {
        try checkPrior(targetPrior)
        return try OperatingPoints(targets: targets, nontargets: nontargets).minimumDCF(prior: targetPrior)
    }

    /// Normalised actual DCF of LLR scores at the Bayes threshold log((1−P)/P), accepting llr ≥ threshold.
    public static func actualDCF(targets: [Double], nontargets: [Double], targetPrior: Double) throws(MetricsError) -> Double {
        try checkPrior(targetPrior)
        return try OperatingPoints(targets: targets, nontargets: nontargets).actualDCF(prior: targetPrior)
    }

    /// Bayes threshold for LLR scores at a target prior: log((1−P)/P) (= −logit P).
    public static func bayesThreshold(targetPrior p: Double) -> Double { log((1 - p) / p) }

    /// Cllr of LLR scores (natural log), in bits. All-zero LLRs give exactly 1.
    public static func cllr(targets: [Double], nontargets: [Double]) throws(MetricsError) -> Double {
        try validate(targets: targets, nontargets: nontargets)
        return cllrUnchecked(targets: targets, nontargets: nontargets)
    }

    /// Minimum Cllr (BOSARIS `min_cllr`): the pooled scores are sorted ascending with ties pooled
    /// into one group, PAV fits the non-decreasing target posterior, each PAV block with t targets
    /// and n non-targets gets llr = logit(t/(t+n)) − logit(N_tar/(N_tar+N_non)), and Cllr of those
    /// LLRs is returned. Blocks with t = 0 or n = 0 have llr = ∓∞; as in BOSARIS they contribute
    /// exactly 0 (softplus(−∞) = 0), so the sums run over the finite terms only, written with counts:
    /// target term t·log1p(n·N_tar/(t·N_non)), non-target term n·log1p(t·N_non/(n·N_tar)).
    public static func minCllr(targets: [Double], nontargets: [Double]) throws(MetricsError) -> Double {
        try OperatingPoints(targets: targets, nontargets: nontargets).minCllr()
    }

    /// DET points, one per distinct score (ties are one step), by decreasing threshold: the first
    /// accepts only the highest score, the last accepts everything (P_fa 1, P_miss 0). The
    /// reject-all point (P_fa 0, P_miss 1) is implied and not listed.
    public static func detCurve(targets: [Double], nontargets: [Double]) throws(MetricsError) -> [DETPoint] {
        try OperatingPoints(targets: targets, nontargets: nontargets).detPoints()
    }

    // MARK: Internals

    static func checkPrior(_ p: Double) throws(MetricsError) {
        guard p > 0, p < 1 else { throw .invalidPrior(p) }
    }

    static func validate(targets: [Double], nontargets: [Double]) throws(MetricsError) {
        guard !targets.isEmpty else { throw .noTargets }
        guard !nontargets.isEmpty else { throw .noNontargets }
        if let i = targets.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteScore(index: i, isTarget: true) }
        if let i = nontargets.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteScore(index: i, isTarget: false) }
    }

    /// softplus(x) = log(1 + e^x) without overflow; softplus(−∞) = 0.
    @inline(__always) static func softplus(_ x: Double) -> Double { max(x, 0) + log1p(exp(-abs(x))) }

    static func cllrUnchecked(targets: [Double], nontargets: [Double]) -> Double {
        let tar = ShiftedMean.of(targets.lazy.map { softplus(-$0) })
        let non = ShiftedMean.of(nontargets.lazy.map { softplus($0) })
        return (tar + non) / (2 * M_LN2)
    }
}

/// Mean as x₀ + Σ(xᵢ − x₀)/n with a Neumaier-compensated sum: exact for constant input (so
/// all-zero LLRs give Cllr = 1 exactly) and accurate to a few ulps for 10⁶ terms.
enum ShiftedMean {
    static func of<S: Sequence<Double>>(_ values: S) -> Double {
        var iterator = values.makeIterator()
        guard let first = iterator.next() else { return .nan }
        var sum = 0.0, compensation = 0.0, n = 1
        while let v = iterator.next() {
            let x = v - first
            let t = sum + x
            compensation += abs(sum) >= abs(x) ? (sum - t) + x : (x - t) + sum
            sum = t
            n += 1
        }
        return first + (sum + compensation) / Double(n)
    }
}
