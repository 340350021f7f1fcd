import Foundation
import Testing
import SVKernels
@testable import SVScoring

/// Hand-computed cases (arithmetic in the comments), errors, and properties of the metrics.
/// Notation: points by decreasing threshold, "accept if score ≥ θ"; D = miss·N_non − fa·N_tar.
@Suite struct MetricsTests {
    static let ln2 = M_LN2

    @Test func separableSet() throws {
        // tar [3,4], non [1,2]: θ=4 → miss 1/2, fa 0; θ=3 → miss 0, fa 0 (D = 0 first) → EER 0 at θ 3.
        let r = try Metrics.evaluate(targets: [3, 4], nontargets: [1, 2], scoresAreLLR: false)
        #expect(r.eer == 0 && r.eerThreshold == 3)
        // DCF at θ=3 is 0; reject-all costs P·1/P = 1; θ=4 costs 0.5.
        #expect(r.minDCF01 == 0 && r.minDCF05 == 0 && r.minDCF01Threshold == 3)
        #expect(r.actDCF01 == nil && r.cllr == nil && r.minCllr == nil)
        #expect(try Metrics.minCllr(targets: [3, 4], nontargets: [1, 2]) == 0)
    }

    @Test func interpolatedCrossing() throws {
        // tar [2,4,5], non [1,3]; N_tar 3, N_non 2.
        // reject-all: miss 3 fa 0 D 6; θ5: miss 2 fa 0 D 4; θ4: miss 1 fa 0 D 2; θ3: miss 1 fa 1 D 2−3 = −1.
        // t = 2/(2+1) = 2/3; EER = (0 + 2/3·1)/2 = 1/3; threshold (1/3)·4 + (2/3)·3 = 10/3.
        let (rate, threshold) = try Metrics.equalErrorRate(targets: [2, 4, 5], nontargets: [1, 3])
        #expect(abs(rate - 1.0 / 3) < 1e-15)
        #expect(abs(threshold - 10.0 / 3) < 1e-14)
        // minDCF(0.01): reject 1; θ5 2/3; θ4 1/3; θ3 (0.01/3 + 0.99/2)/0.01 ≈ 49.8 → 1/3 at θ 4.
        let dcf = try Metrics.minimumDCF(targets: [2, 4, 5], nontargets: [1, 3], targetPrior: 0.01)
        #expect(abs(dcf.value - 1.0 / 3) < 1e-15 && dcf.threshold == 4)
        // minDCF(0.05): θ4 → (0.05/3)/0.05 = 1/3; θ3 → 1/3 + 0.95·0.5/0.05 = 9.83.
        let dcf05 = try Metrics.minimumDCF(targets: [2, 4, 5], nontargets: [1, 3], targetPrior: 0.05)
        #expect(abs(dcf05.value - 1.0 / 3) < 1e-15 && dcf05.threshold == 4)
    }

    @Test func tiesAreOneStep() throws {
        // tar [1,2,2], non [2,0]: reject-all D = 3·2 = 6; θ2 accepts both target 2s and the non-target 2
        // in one step: miss 1, fa 1, D = 2 − 3 = −1. t = 6/7; EER = (6/7·1)/2 = 3/7; the left point is
        // reject-all, so the threshold is 2.
        let (rate, threshold) = try Metrics.equalErrorRate(targets: [1, 2, 2], nontargets: [2, 0])
        #expect(abs(rate - 3.0 / 7) < 1e-15 && threshold == 2)
        let det = try Metrics.detCurve(targets: [1, 2, 2], nontargets: [2, 0])
        #expect(det.map(\.threshold) == [2, 1, 0])
        #expect(det.map(\.pFalseAlarm) == [0.5, 0.5, 1])
        #expect(abs(det[0].pMiss - 1.0 / 3) < 1e-16 && det[1].pMiss == 0 && det[2].pMiss == 0)
    }

    @Test func allEqualScores() throws {
        // One step from (P_fa 0, P_miss 1) to (1, 0): t = 1/2, EER 50 % exactly at the common score.
        let r = try Metrics.evaluate(targets: [0.7, 0.7, 0.7], nontargets: [0.7, 0.7], scoresAreLLR: true)
        #expect(r.eer == 50 && r.eerThreshold == 0.7)
        // Accept-all costs (1−P)/P = 99; reject-all costs 1 and wins, at the threshold just above 0.7.
        #expect(r.minDCF01 == 1 && r.minDCF01Threshold == 0.7.nextUp)
        // PAV: one block holding everything, llr 0 → min Cllr 1.
        #expect(abs(r.minCllr! - 1) < 1e-15)
    }

    @Test func singleTarget() throws {
        // tar [0.5], non [0, 1]: reject D 2; θ1: miss 1 fa 1 D = 2 − 1 = 1; θ0.5: miss 0 fa 1 D = −1.
        // t = 1/2, EER = (1 + 0)/2 = 50 %, threshold (1 + 0.5)/2 = 0.75.
        let (rate, threshold) = try Metrics.equalErrorRate(targets: [0.5], nontargets: [0, 1])
        #expect(rate == 0.5 && threshold == 0.75)
        // minDCF(0.01): reject 1; θ1 (0.01 + 0.99/2)/0.01 = 50.5; θ0.5 49.5; θ0 99 → 1, reject-all.
        let dcf = try Metrics.minimumDCF(targets: [0.5], nontargets: [0, 1], targetPrior: 0.01)
        #expect(dcf.value == 1 && dcf.threshold == 1.0.nextUp)
    }

    @Test func actualDCFAcceptsAtTheBayesThreshold() throws {
        // θ = log(0.99/0.01). tar [θ, 0]: θ accepted (tie = accept), 0 missed → P_miss 1/2;
        // non [θ, −5]: θ accepted → P_fa 1/2. Cost (0.01·0.5 + 0.99·0.5)/0.01 = 50.
        let theta = Metrics.bayesThreshold(targetPrior: 0.01)
        #expect(abs(theta - log(99.0)) < 1e-14)
        let a = try Metrics.actualDCF(targets: [theta, 0], nontargets: [theta, -5], targetPrior: 0.01)
        #expect(abs(a - 50) < 1e-12)
        // Calibrated-looking LLRs far from θ: tar 10 (accepted), non −10 (rejected) → 0.
        #expect(try Metrics.actualDCF(targets: [10], nontargets: [-10], targetPrior: 0.05) == 0)
    }

    @Test func cllrHandValues() throws {
        // All-zero LLRs: every term is softplus(0) = ln 2 → (ln2 + ln2)/(2 ln2) = 1 exactly, any sizes.
        for (nt, nn) in [(1, 1), (3, 7), (1000, 33), (12345, 9876)] {
            #expect(try Metrics.cllr(targets: .init(repeating: 0, count: nt), nontargets: .init(repeating: 0, count: nn)) == 1)
        }
        // tar [0] → ln 2; non [ln 3] → ln(1 + 3) = 2 ln 2 → Cllr = 3 ln2/(2 ln2) = 1.5.
        #expect(abs(try Metrics.cllr(targets: [0], nontargets: [log(3.0)]) - 1.5) < 1e-15)
        // Confident and right: ~0; confident and wrong by 1000 nats: ≈ 1000/(2 ln 2)·2 / 2 per class.
        #expect(try Metrics.cllr(targets: [800], nontargets: [-800]) < 1e-300)
        let wrong = try Metrics.cllr(targets: [-1000], nontargets: [1000])
        #expect(abs(wrong - 1000 / Self.ln2) < 1e-9)
    }

    @Test func minCllrHandValue() throws {
        // Ascending: non 1, tar 2, non 3, tar 4 → target fractions 0,1,0,1; PAV pools {2,3} → blocks
        // (0t,1n), (1t,1n), (1t,0n). Only the middle block is finite: llr = logit(1/2) − logit(2/4) = 0,
        // each of its trials pays ln 2 → min Cllr = (ln2/2 + ln2/2)/(2 ln2) = 0.5.
        #expect(abs(try Metrics.minCllr(targets: [2, 4], nontargets: [1, 3]) - 0.5) < 1e-15)
        // Reversed order: one block with everything → 1.
        #expect(abs(try Metrics.minCllr(targets: [1, 2], nontargets: [3, 4]) - 1) < 1e-15)
    }

    @Test func errorsNameTheProblem() {
        #expect(throws: MetricsError.noTargets) { try Metrics.evaluate(targets: [], nontargets: [1], scoresAreLLR: false) }
        #expect(throws: MetricsError.noNontargets) { try Metrics.equalErrorRate(targets: [1], nontargets: []) }
        #expect(throws: MetricsError.nonFiniteScore(index: 2, isTarget: false)) {
            try Metrics.minCllr(targets: [1, 2], nontargets: [0, 1, .nan])
        }
        #expect(throws: MetricsError.nonFiniteScore(index: 0, isTarget: true)) {
            try Metrics.cllr(targets: [-.infinity], nontargets: [0])
        }
        #expect(throws: MetricsError.invalidPrior(1)) { try Metrics.minimumDCF(targets: [1], nontargets: [0], targetPrior: 1) }
        let text = MetricsError.nonFiniteScore(index: 2, isTarget: false).description
        #expect(text.contains("non-target score #2") && text.contains("not a finite number"))
        #expect(MetricsError.noTargets.description.contains("no target trials"))
    }

    @Test func reportJSONKeysAndRoundTrip() throws {
        let r = try Metrics.evaluate(targets: [2, 4, 5], nontargets: [1, 3], scoresAreLLR: true)
        let data = try JSONEncoder().encode(r)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        for key in ["eer", "eer_threshold", "min_dcf_01", "min_dcf_05", "act_dcf_01", "act_dcf_05", "cllr", "min_cllr", "targets", "nontargets"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect(try JSONDecoder().decode(EvaluationReport.self, from: data) == r)
        // Not LLR: the LLR-only keys are absent. Reject-all at the largest finite Double: threshold "inf".
        let plain = try Metrics.evaluate(targets: [.greatestFiniteMagnitude], nontargets: [.greatestFiniteMagnitude], scoresAreLLR: false)
        let plainData = try JSONEncoder().encode(plain)
        let plainObject = try JSONSerialization.jsonObject(with: plainData) as! [String: Any]
        #expect(plainObject["cllr"] == nil && plainObject["act_dcf_01"] == nil)
        #expect(plainObject["min_dcf_01_threshold"] as? String == "inf")
        #expect(try JSONDecoder().decode(EvaluationReport.self, from: plainData) == plain)
    }

    // MARK: - Properties

    /// Integer-valued scores with many ties, so that exact monotone transforms stay exact.
    static func integerScores(seed: UInt64) -> (targets: [Double], nontargets: [Double]) {
        var rng = SplitMix64(seed: seed)
        let nt = 1 + Int(rng.next() % 60), nn = 1 + Int(rng.next() % 200)
        let spread = 5 + Int(rng.next() % 200)
        let t = (0..<nt).map { _ in Double(Int(rng.next() % UInt64(spread)) - spread / 3) }
        let n = (0..<nn).map { _ in Double(Int(rng.next() % UInt64(spread)) - spread / 2) }
        return (t, n)
    }

    /// O(n · distinct) twin of the operating-point sweep (the naive oracle).
    static func naive(_ tar: [Double], _ non: [Double], prior: Double) -> (eer: Double, minDCF: Double) {
        let cands = [Swift.max(tar.max()!, non.max()!).nextUp] + Set(tar + non).sorted(by: >)
        let nt = tar.count, nn = non.count
        var pts: [(miss: Int, fa: Int)] = []
        for c in cands { pts.append((tar.filter { $0 < c }.count, non.filter { $0 >= c }.count)) }
        var best = Double.infinity
        for p in pts { best = Swift.min(best, (prior * (Double(p.miss) / Double(nt)) + (1 - prior) * (Double(p.fa) / Double(nn))) / Swift.min(prior, 1 - prior)) }
        let i = pts.firstIndex { Double($0.miss) / Double(nt) <= Double($0.fa) / Double(nn) }!
        let d0 = Double(pts[i - 1].miss) / Double(nt) - Double(pts[i - 1].fa) / Double(nn)
        let d1 = Double(pts[i].miss) / Double(nt) - Double(pts[i].fa) / Double(nn)
        let t = d0 / (d0 - d1)
        let eer = Double(pts[i - 1].fa) / Double(nn) + t * (Double(pts[i].fa - pts[i - 1].fa) / Double(nn))
        return (eer, best)
    }

    @Test(arguments: 0..<40 as Range<UInt64>)
    func agreesWithNaiveSweep(seed: UInt64) throws {
        let (t, n) = Self.integerScores(seed: seed)
        let oracle = Self.naive(t, n, prior: 0.01)
        #expect(abs(try Metrics.equalErrorRate(targets: t, nontargets: n).rate - oracle.eer) < 1e-12)
        #expect(abs(try Metrics.minimumDCF(targets: t, nontargets: n, targetPrior: 0.01).value - oracle.minDCF) < 1e-12)
    }

    @Test(arguments: 0..<30 as Range<UInt64>)
    func invariantUnderMonotoneTransforms(seed: UInt64) throws {
        let (t, n) = Self.integerScores(seed: seed)
        let base = try Metrics.evaluate(targets: t, nontargets: n, scoresAreLLR: false)
        let baseMinCllr = try Metrics.minCllr(targets: t, nontargets: n)
        let transforms: [(Double) -> Double] = [{ $0 * 1024 }, { $0 * $0 * $0 + 5 * $0 }, { exp($0 / 64) }, { $0 - 1e6 }]
        for f in transforms {
            let r = try Metrics.evaluate(targets: t.map(f), nontargets: n.map(f), scoresAreLLR: false)
            #expect(r.eer == base.eer && r.minDCF01 == base.minDCF01 && r.minDCF05 == base.minDCF05)
            if base.minDCF01Threshold != Swift.max(t.max()!, n.max()!).nextUp { #expect(r.minDCF01Threshold == f(base.minDCF01Threshold)) }
            #expect(abs(try Metrics.minCllr(targets: t.map(f), nontargets: n.map(f)) - baseMinCllr) < 1e-14)
        }
    }

    @Test(arguments: 0..<30 as Range<UInt64>)
    func swappingClassesMirrorsTheDET(seed: UInt64) throws {
        let (t, n) = Self.integerScores(seed: seed)
        let a = try Metrics.detCurve(targets: t, nontargets: n), b = try Metrics.detCurve(targets: n, nontargets: t)
        // Same thresholds; P_fa' = #tar ≥ θ / N_tar = 1 − P_miss, P_miss' = #non < θ / N_non = 1 − P_fa.
        #expect(a.map(\.threshold) == b.map(\.threshold))
        for (p, q) in zip(a, b) {
            #expect(abs(q.pFalseAlarm - (1 - p.pMiss)) < 1e-15 && abs(q.pMiss - (1 - p.pFalseAlarm)) < 1e-15)
        }
        // Swapping and negating reflects the curve in the diagonal: the EER is unchanged.
        let e1 = try Metrics.equalErrorRate(targets: t, nontargets: n).rate
        let e2 = try Metrics.equalErrorRate(targets: n.map { -$0 }, nontargets: t.map { -$0 }).rate
        #expect(abs(e1 - e2) < 1e-12)
    }

    @Test(arguments: 0..<30 as Range<UInt64>)
    func minCllrBounds(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed &+ 1000)
        func gauss() -> Double { (0..<4).reduce(0.0) { acc, _ in acc + Double(rng.nextFloat()) } - 2 }
        let t = (0..<(5 + Int(rng.next() % 300))).map { _ in 2 + 3 * gauss() }
        let n = (0..<(5 + Int(rng.next() % 300))).map { _ in -2 + 3 * gauss() }
        let c = try Metrics.cllr(targets: t, nontargets: n), m = try Metrics.minCllr(targets: t, nontargets: n)
        #expect(m <= c + 1e-12 && m >= 0 && m <= 1 + 1e-12)
    }

    @Test func millionTrials() throws {
        var rng = SplitMix64(seed: 42)
        func gauss() -> Double { (0..<4).reduce(0.0) { acc, _ in acc + Double(rng.next() >> 11) * 0x1p-53 } - 2 }
        let t = (0..<100_000).map { _ in 3 + 2 * gauss() }, n = (0..<900_000).map { _ in 2 * gauss() }
        let start = ContinuousClock.now
        let r = try Metrics.evaluate(targets: t, nontargets: n, scoresAreLLR: true)
        let elapsed = ContinuousClock.now - start
        print("metrics: 10^6 trials evaluated in \(elapsed)")
        #expect(r.eer > 5 && r.eer < 15 && r.minCllr! < r.cllr!)
        #expect(elapsed < .seconds(30))
    }

    @Test func normalDeviate() {
        #expect(Metrics.normalDeviate(0.5) == 0)
        #expect(abs(Metrics.normalDeviate(0.975) - 1.959963984540054) < 1e-13)
        #expect(abs(Metrics.normalDeviate(0.001) + 3.090232306167813) < 1e-13)
        #expect(abs(Metrics.normalDeviate(1e-10) + 6.361340902404056) < 1e-12)
        #expect(Metrics.normalDeviate(0) == -.infinity && Metrics.normalDeviate(1) == .infinity)
        for p in stride(from: 0.01, to: 1, by: 0.01) {
            #expect(abs(Metrics.normalDeviate(p) + Metrics.normalDeviate(1 - p)) < 1e-12)
        }
    }
}
