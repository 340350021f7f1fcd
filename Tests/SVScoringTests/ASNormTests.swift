import Foundation
import SVKernels
import Testing
import _SVTestSupport
@testable import SVScoring

/// Golden cases from tools/reference/make_calibration_fixtures.py: a float64 numpy re-implementation
/// of WeSpeaker's `get_mean_std` (population std) on float32 embeddings.
struct ASNormGolden: Decodable {
    struct Pair: Decodable {
        var enroll: Int
        var test: Int
        var score: Double
        var normalized: Double
    }
    struct Case: Decodable {
        var seed: Int
        var top_n: Int
        var cohort: [[Float]]
        var embeddings: [[Float]]
        var mean: [Double]
        var std: [Double]
        var speechbrain_std: [Double]
        var pairs: [Pair]
    }
    var cases: [Case]
}

@Suite struct ASNormTests {
    /// Cosine scores come from a Float GEMM: statistics agree with float64 numpy to ~1e-7.
    static let statisticsTolerance = 2e-6
    static let normalizedTolerance = 1e-4

    /// How far two Float dot products of unit vectors of `dimension` values may differ when
    /// summed in different orders: each is within d·u of the exact value (u = 2⁻²⁴), so the two within
    /// 2·d·u; so are the means of the top N, and (σ is 1-Lipschitz in the scores) their deviations.
    static func summationOrderBound(dimension d: Int) -> Double { Double(d) * Double(Float.ulpOfOne) }

    static func golden() throws -> [ASNormGolden.Case] {
        try JSONDecoder().decode(ASNormGolden.self, from: Data(contentsOf: Fixtures.url("scoring/asnorm.json"))).cases
    }

    @Test func matchesWeSpeakerFormulaGolden() throws {
        let cases = try Self.golden()
        #expect(cases.count == 3)
        for g in cases {
            let norm = try ASNorm(cohort: g.cohort, topN: g.top_n)
            let stats = norm.statistics(forMany: g.embeddings)
            for i in g.embeddings.indices {
                #expect(abs(stats[i].mean - g.mean[i]) <= Self.statisticsTolerance, "seed \(g.seed) emb \(i) mean")
                #expect(abs(stats[i].std - g.std[i]) <= Self.statisticsTolerance, "seed \(g.seed) emb \(i) std")
                // population, not SpeechBrain's unbiased std
                if g.top_n > 2 { #expect(abs(stats[i].std - g.speechbrain_std[i]) > 10 * Self.statisticsTolerance) }
                // One embedding is a GEMM of another shape (OpenBLAS may take its GEMV path, and
                // kernels differ by CPU and OPENBLAS_CORETYPE): equal to Float rounding, not bit for bit.
                let single = norm.statistics(for: g.embeddings[i])
                let bound = Self.summationOrderBound(dimension: g.cohort[0].count)
                #expect(abs(single.mean - stats[i].mean) <= bound && abs(single.std - stats[i].std) <= bound,
                        "seed \(g.seed) emb \(i): single \(single) vs batched \(stats[i])")
            }
            for p in g.pairs {
                let s = Double(Cosine.similarity(g.embeddings[p.enroll], g.embeddings[p.test]))
                #expect(abs(s - p.score) < 1e-6)
                let n = norm.normalize(score: p.score, enroll: stats[p.enroll], test: stats[p.test])
                #expect(abs(n - p.normalized) <= Self.normalizedTolerance * max(1, abs(p.normalized)),
                        "seed \(g.seed) pair \(p.enroll)-\(p.test): \(n) vs \(p.normalized)")
            }
        }
    }

    @Test func normalizeFormula() throws {
        let norm = try ASNorm(cohort: [[1, 0], [0, 1]], topN: 2)
        // ((0.5 − 0.1)/0.2 + (0.5 − 0.3)/0.1)/2 = (2 + 2)/2
        #expect(abs(norm.normalize(score: 0.5, enroll: (0.1, 0.2), test: (0.3, 0.1)) - 2) < 1e-12)
    }

    /// Quickselect finds the same top N as a full sort, with ties and duplicates.
    @Test(arguments: 0..<40 as Range<UInt64>)
    func topNSelectionMatchesSort(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let count = 1 + Int(rng.next() % 200)
        let topN = 1 + Int(rng.next() % UInt64(count))
        let levels = seed % 3 == 0 ? 5 : 1 << 20  // many ties for some seeds
        var x = (0..<count).map { _ in Float(Int(rng.next() % UInt64(levels))) / Float(levels) }
        let expected = x.sorted(by: >).prefix(topN)
        x.withUnsafeMutableBufferPointer { ASNorm.selectLargest($0, count: topN) }
        #expect(x.prefix(topN).sorted(by: >) == Array(expected))
    }

    @Test func blocksAndScaleInvariance() throws {
        var rng = SplitMix64(seed: 5)
        let cohort = (0..<300).map { _ in (0..<12).map { _ in rng.nextFloat() - 0.5 } }
        let embeddings = (0..<40).map { _ in (0..<12).map { _ in rng.nextFloat() - 0.5 } }
        let norm = try ASNorm(cohort: cohort, topN: 30)
        let many = norm.statistics(forMany: embeddings)
        for (i, e) in embeddings.enumerated() {
            // reference: Double cosine, full sort
            let scores = cohort.map { cosineSimilarity(e, $0) }.sorted(by: >).prefix(30)
            let mean = scores.reduce(0, +) / 30
            let std = (scores.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 30).squareRoot()
            #expect(abs(many[i].mean - mean) < 1e-6 && abs(many[i].std - std) < 1e-6)
            // One row vs forty, and 7.5·e normalises to within a few u of e's normalisation.
            let scaled = norm.statistics(for: e.map { $0 * 7.5 })
            #expect(abs(scaled.mean - many[i].mean) < Self.summationOrderBound(dimension: e.count) + 4 * Double(Float.ulpOfOne))
        }
        #expect(norm.statistics(forMany: []).isEmpty)
        // whole cohort (S-norm) is allowed
        #expect(try ASNorm(cohort: cohort, topN: 300).topN == 300)
    }

    /// topN larger than the cohort is an error, not a clamp (WeSpeaker would silently clamp).
    @Test func errors() {
        let cohort: [[Float]] = [[1, 0], [0, 1], [1, 1]]
        #expect(throws: ASNormError.invalidTopN(topN: 4, cohortSize: 3)) { try ASNorm(cohort: cohort, topN: 4) }
        #expect(throws: ASNormError.invalidTopN(topN: 1, cohortSize: 3)) { try ASNorm(cohort: cohort, topN: 1) }
        #expect(throws: ASNormError.emptyCohort) { try ASNorm(cohort: [], topN: 2) }
        #expect(throws: ASNormError.dimensionMismatch(index: 2, expected: 2, actual: 3)) {
            try ASNorm(cohort: [[1, 0], [0, 1], [1, 1, 1]], topN: 2)
        }
        #expect(throws: ASNormError.self) { try ASNorm(cohort: [[1, 0], [0, 0]], topN: 2) }
        #expect(throws: ASNormError.self) { try ASNorm(cohort: [[1, 0], [.nan, 1]], topN: 2) }
        #expect(ASNormError.invalidTopN(topN: 4, cohortSize: 3).description.contains("2...3"))
    }
}
