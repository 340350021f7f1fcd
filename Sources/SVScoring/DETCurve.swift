import Foundation

/// One operating point of a detection-error-tradeoff curve: accept when score ≥ `threshold`.
public struct DETPoint: Sendable, Equatable, Codable {
    public var pFalseAlarm: Double
    public var pMiss: Double
    public var threshold: Double

    public init(pFalseAlarm: Double, pMiss: Double, threshold: Double) {
        self.pFalseAlarm = pFalseAlarm; self.pMiss = pMiss; self.threshold = threshold
    }

    enum CodingKeys: String, CodingKey {
        case pFalseAlarm = "p_fa", pMiss = "p_miss", threshold
    }
}

/// The operating points of a labelled score set, shared by every metric: one sort per class,
/// then one merge over the distinct score values (ties are one step).
struct OperatingPoints {
    let sortedTargets: [Double]
    let sortedNontargets: [Double]
    /// Distinct score values, descending.
    var thresholds: [Double] = []
    /// #targets ≥ thresholds[k] and #non-targets ≥ thresholds[k] (cumulative, non-decreasing in k).
    var hits: [Int] = []
    var falseAlarms: [Int] = []

    var nt: Int { sortedTargets.count }
    var nn: Int { sortedNontargets.count }

    init(targets: [Double], nontargets: [Double]) throws(MetricsError) {
        try Metrics.validate(targets: targets, nontargets: nontargets)
        sortedTargets = targets.sorted()
        sortedNontargets = nontargets.sorted()
        var i = sortedTargets.count - 1, j = sortedNontargets.count - 1
        var h = 0, f = 0
        thresholds.reserveCapacity(targets.count + nontargets.count)
        hits.reserveCapacity(targets.count + nontargets.count)
        falseAlarms.reserveCapacity(targets.count + nontargets.count)
        while i >= 0 || j >= 0 {
            let s = i < 0 ? sortedNontargets[j] : j < 0 ? sortedTargets[i] : max(sortedTargets[i], sortedNontargets[j])
            while i >= 0 && sortedTargets[i] == s { h += 1; i -= 1 }
            while j >= 0 && sortedNontargets[j] == s { f += 1; j -= 1 }
            thresholds.append(s); hits.append(h); falseAlarms.append(f)
        }
    }

    /// Point p = 0 is reject-all; point p ≥ 1 is thresholds[p − 1].
    var pointCount: Int { thresholds.count + 1 }
    func misses(_ p: Int) -> Int { p == 0 ? nt : nt - hits[p - 1] }
    func fas(_ p: Int) -> Int { p == 0 ? 0 : falseAlarms[p - 1] }
    /// The reject-all threshold is the next Double above the largest score.
    func threshold(_ p: Int) -> Double { p == 0 ? thresholds[0].nextUp : thresholds[p - 1] }

    func equalErrorRate() -> (rate: Double, threshold: Double) {
        // D_p = (P_miss − P_fa)·N_tar·N_non, exact in integers; D_0 = N_tar·N_non > 0, D_last = −N_tar·N_non.
        func d(_ p: Int) -> Int { misses(p) * nn - fas(p) * nt }
        var i = 1
        while d(i) > 0 { i += 1 }
        let d0 = d(i - 1), d1 = d(i)
        let t = Double(d0) / Double(d0 - d1)
        let rate = (Double(fas(i - 1)) + t * Double(fas(i) - fas(i - 1))) / Double(nn)
        let threshold: Double
        if i - 1 == 0 || t == 1 { threshold = self.threshold(i) }
        else if t == 0 { threshold = self.threshold(i - 1) }
        else { threshold = (1 - t) * self.threshold(i - 1) + t * self.threshold(i) }
        return (rate, threshold)
    }

    /// Normalised DCF of one operating point (same operation order as the Python reference).
    @inline(__always) func cost(misses: Int, fas: Int, prior: Double) -> Double {
        (prior * (Double(misses) / Double(nt)) + (1 - prior) * (Double(fas) / Double(nn))) / min(prior, 1 - prior)
    }

    func minimumDCF(prior: Double) -> (value: Double, threshold: Double) {
        var best = cost(misses: nt, fas: 0, prior: prior), bestPoint = 0
        for p in 1..<pointCount {
            let c = cost(misses: misses(p), fas: fas(p), prior: prior)
            if c < best { best = c; bestPoint = p }
        }
        return (best, threshold(bestPoint))
    }

    func actualDCF(prior: Double) -> Double {
        let theta = Metrics.bayesThreshold(targetPrior: prior)
        let misses = Self.countBelow(sortedTargets, theta)
        let fas = nn - Self.countBelow(sortedNontargets, theta)
        return cost(misses: misses, fas: fas, prior: prior)
    }

    /// Number of elements < x in an ascending array.
    static func countBelow(_ a: [Double], _ x: Double) -> Int {
        var lo = 0, hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    func minCllr() -> Double {
        // Groups in ascending score order = thresholds reversed; per-group counts from the cumulative ones.
        let g = thresholds.count
        var gt = [Int](repeating: 0, count: g), gn = [Int](repeating: 0, count: g)
        for k in 0..<g {
            let up = g - 1 - k
            gt[k] = hits[up] - (up > 0 ? hits[up - 1] : 0)
            gn[k] = falseAlarms[up] - (up > 0 ? falseAlarms[up - 1] : 0)
        }
        return PAV.minCllr(PAV.blocks(groupTargets: gt, groupNontargets: gn), totalTargets: nt, totalNontargets: nn)
    }

    func detPoints() -> [DETPoint] {
        (1..<pointCount).map { p in
            DETPoint(pFalseAlarm: Double(fas(p)) / Double(nn), pMiss: Double(misses(p)) / Double(nt), threshold: threshold(p))
        }
    }
}

extension Metrics {
    /// Standard normal quantile Φ⁻¹(p) (the "normal deviate" of DET axes): −∞ at 0, +∞ at 1.
    /// A rational start (Abramowitz–Stegun 26.2.23, |error| < 4.5e-4) refined by Halley steps on
    /// Φ(x) = erfc(−x/√2)/2, accurate to ~1e-15 relative over (1e-300, 1 − 1e-16).
    public static func normalDeviate(_ p: Double) -> Double {
        if p.isNaN || p < 0 || p > 1 { return .nan }
        if p == 0 { return -.infinity }
        if p == 1 { return .infinity }
        if p == 0.5 { return 0 }
        // Work in the lower tail q = min(p, 1 − p) where erfc is accurate, then mirror.
        let lower = p < 0.5
        let q = lower ? p : 1 - p
        let r = (-2 * log(q)).squareRoot()
        var x = -(r - (2.515517 + 0.802853 * r + 0.010328 * r * r) / (1 + 1.432788 * r + 0.189269 * r * r + 0.001308 * r * r * r))
        for _ in 0..<4 {
            let cdf = 0.5 * erfc(-x / 2.0.squareRoot())
            let pdf = exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
            guard pdf > 0 else { break }
            let u = (cdf - q) / pdf
            let step = u / (1 + 0.5 * x * u)
            x -= step
            if abs(step) <= 1e-16 * max(1, abs(x)) { break }
        }
        return lower ? x : -x
    }
}
