import Foundation
import Testing
import _SVTestSupport
@testable import SVScoring
import SVKernels

/// Golden comparison with `tools/reference/make_metric_fixtures.py` (scikit-learn ROC + the same
/// interpolation rule for the EER, brute-force minDCF, fsum Cllr, sklearn isotonic regression for
/// min Cllr). Counts-based metrics agree to rounding; tolerances are relative.
@Suite struct MetricsGoldenTests {
    /// EER, DCFs and thresholds come from the same integer counts and the same formula order.
    static let exactTolerance = 1e-12
    /// Cllr and min Cllr are sums of transcendental terms (fsum in Python, compensated here).
    static let sumTolerance = 1e-10

    struct Golden: Decodable {
        struct Generator: Decodable { let seed: UInt64; let n_tar: Int; let n_non: Int; let shift: Double; let scale: Double; let quantum: Double }
        struct Expected: Decodable {
            let targets: Int, nontargets: Int
            let eer: Double, eer_threshold: Double
            let min_dcf_01: Double, min_dcf_01_threshold: Double, act_dcf_01: Double
            let min_dcf_05: Double, min_dcf_05_threshold: Double, act_dcf_05: Double
            let cllr: Double, min_cllr: Double
        }
        struct Case: Decodable {
            let name: String, kind: String
            let target_scores: [Double]?, nontarget_scores: [Double]?
            let generator: Generator?
            let expected: Expected
        }
        let cases: [Case]
    }

    static let golden: Golden = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: Fixtures.path("metrics/golden.json")))
        return try! JSONDecoder().decode(Golden.self, from: data)
    }()

    static var caseNames: [String] { golden.cases.map(\.name) }

    /// Replays the script's SplitMix64 Irwin–Hall generator bit for bit (no libm involved).
    static func generatedScores(_ g: Golden.Generator) -> (targets: [Double], nontargets: [Double]) {
        var rng = SplitMix64(seed: g.seed)
        func uniform() -> Double { Double(rng.next() >> 11) * (1.0 / 9007199254740992.0) }
        func draw(_ offset: Double) -> Double {
            var s = uniform()
            s = s + uniform(); s = s + uniform(); s = s + uniform()
            s = (s - 2.0) * g.scale + offset
            if g.quantum > 0 { s = (s / g.quantum).rounded(.down) * g.quantum }
            return s
        }
        let t = (0..<g.n_tar).map { _ in draw(g.shift) }
        let n = (0..<g.n_non).map { _ in draw(0) }
        return (t, n)
    }

    static func close(_ a: Double, _ b: Double, _ rel: Double) -> Bool {
        a == b || abs(a - b) <= rel * max(abs(a), abs(b)) || abs(a - b) <= 1e-300
    }

    @Test(arguments: caseNames)
    func matchesReference(name: String) throws {
        let c = Self.golden.cases.first { $0.name == name }!
        let (tar, non) = c.kind == "generated" ? Self.generatedScores(c.generator!) : (c.target_scores!, c.nontarget_scores!)
        let e = c.expected
        #expect(tar.count == e.targets && non.count == e.nontargets)
        let r = try Metrics.evaluate(targets: tar, nontargets: non, scoresAreLLR: true)
        let pairs: [(String, Double, Double, Double)] = [
            ("eer", r.eer, e.eer, Self.exactTolerance),
            ("eer_threshold", r.eerThreshold, e.eer_threshold, Self.exactTolerance),
            ("min_dcf_01", r.minDCF01, e.min_dcf_01, Self.exactTolerance),
            ("min_dcf_01_threshold", r.minDCF01Threshold, e.min_dcf_01_threshold, 0),
            ("min_dcf_05", r.minDCF05, e.min_dcf_05, Self.exactTolerance),
            ("min_dcf_05_threshold", r.minDCF05Threshold, e.min_dcf_05_threshold, 0),
            ("act_dcf_01", r.actDCF01!, e.act_dcf_01, Self.exactTolerance),
            ("act_dcf_05", r.actDCF05!, e.act_dcf_05, Self.exactTolerance),
            ("cllr", r.cllr!, e.cllr, Self.sumTolerance),
            ("min_cllr", r.minCllr!, e.min_cllr, Self.sumTolerance),
        ]
        for (metric, got, want, tol) in pairs {
            #expect(Self.close(got, want, tol), "\(name) \(metric): spkv \(got) vs reference \(want), rel diff \(abs(got - want) / max(abs(want), 1e-300))")
        }
    }

    /// Prints the largest relative differences over all cases (for the README / commit message).
    @Test func maxDifferencesSummary() throws {
        var worst: [String: Double] = [:]
        for c in Self.golden.cases {
            let (tar, non) = c.kind == "generated" ? Self.generatedScores(c.generator!) : (c.target_scores!, c.nontarget_scores!)
            let r = try Metrics.evaluate(targets: tar, nontargets: non, scoresAreLLR: true)
            let e = c.expected
            for (k, a, b) in [("eer", r.eer, e.eer), ("eer_threshold", r.eerThreshold, e.eer_threshold),
                              ("min_dcf", r.minDCF01, e.min_dcf_01), ("min_dcf", r.minDCF05, e.min_dcf_05),
                              ("act_dcf", r.actDCF01!, e.act_dcf_01), ("act_dcf", r.actDCF05!, e.act_dcf_05),
                              ("cllr", r.cllr!, e.cllr), ("min_cllr", r.minCllr!, e.min_cllr)] {
                let d = a == b ? 0 : abs(a - b) / max(abs(a), abs(b))
                worst[k] = max(worst[k] ?? 0, d)
            }
        }
        print("metrics golden: max relative differences", worst.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        #expect(worst.values.allSatisfy { $0 <= Self.sumTolerance })
    }
}

