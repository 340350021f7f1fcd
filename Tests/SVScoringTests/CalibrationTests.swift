import Foundation
import SVKernels
import Testing
import _SVTestSupport
@testable import SVScoring

/// Golden sets from tools/reference/make_calibration_fixtures.py (scipy.optimize on the same objective).
struct CalibrationGolden: Decodable {
    struct Fit: Decodable {
        var prior: Double
        var scale: Double
        var offset: Double
        var objective: Double
    }
    struct Set: Decodable {
        var name: String
        var targets: [Double]
        var nontargets: [Double]
        var fits: [Fit]
    }
    var sets: [Set]

    static func load() throws -> [Set] {
        let data = try Data(contentsOf: Fixtures.url("scoring/calibration.json"))
        return try JSONDecoder().decode(CalibrationGolden.self, from: data).sets
    }
}

@Suite struct CalibrationTests {
    /// Relative agreement of (scale, offset) with scipy.
    static let goldenRelativeTolerance = 1e-6

    static func gaussian(_ rng: inout SplitMix64, mean: Double, sd: Double) -> Double {
        // Box–Muller from two 53-bit uniforms in (0, 1]
        let u1 = (Double(rng.next() >> 11) + 1) / Double(1 << 53), u2 = Double(rng.next() >> 11) / Double(1 << 53)
        return mean + sd * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }

    @Test func goldenAgainstScipy() throws {
        let sets = try CalibrationGolden.load()
        #expect(sets.count == 4)
        var worst = 0.0
        defer { print("calibration golden: max relative difference from scipy \(worst)") }
        for set in sets {
            for golden in set.fits {
                let c = try LinearCalibration.fit(targets: set.targets, nontargets: set.nontargets, prior: golden.prior)
                let relScale = abs(c.scale - golden.scale) / abs(golden.scale)
                let relOffset = abs(c.offset - golden.offset) / abs(golden.offset)
                worst = max(worst, relScale, relOffset)
                #expect(relScale <= Self.goldenRelativeTolerance && relOffset <= Self.goldenRelativeTolerance,
                        "\(set.name) P=\(golden.prior): scale \(c.scale) vs \(golden.scale), offset \(c.offset) vs \(golden.offset)")
                #expect(c.prior == golden.prior)
                let f = LinearCalibration.objective(scale: c.scale, offset: c.offset, targets: set.targets,
                                                    nontargets: set.nontargets, prior: golden.prior)
                #expect(f <= golden.objective * (1 + 1e-12), "\(set.name): objective \(f) vs scipy \(golden.objective)")
            }
        }
    }

    /// At the optimum the gradient vanishes (relative to the gradient at the start, (0, 0)).
    @Test func gradientIsZeroAtTheOptimum() throws {
        for set in try CalibrationGolden.load() {
            for prior in [0.01, 0.05, 0.5, 0.9] {
                let c = try LinearCalibration.fit(targets: set.targets, nontargets: set.nontargets, prior: prior)
                let g = LinearCalibration.gradient(scale: c.scale, offset: c.offset, targets: set.targets,
                                                   nontargets: set.nontargets, prior: prior)
                let g0 = LinearCalibration.gradient(scale: 0, offset: 0, targets: set.targets,
                                                    nontargets: set.nontargets, prior: prior)
                let scoreScale = set.targets.map(abs).max()!
                #expect(abs(g.scale) <= 1e-9 * max(abs(g0.scale), 1e-3) && abs(g.offset) <= 1e-9 * scoreScale,
                        "\(set.name) P=\(prior): gradient \(g) (start \(g0))")
            }
        }
    }

    /// The analytic gradient matches central differences of the objective.
    @Test func gradientMatchesFiniteDifferences() {
        let t = [0.3, 1.2, -0.1, 2.0], n = [-1.0, 0.2, -0.5, 0.4, -2.0]
        for (a, b, p) in [(1.0, 0.0, 0.5), (2.5, -1.0, 0.01), (-0.7, 3.0, 0.2)] {
            let g = LinearCalibration.gradient(scale: a, offset: b, targets: t, nontargets: n, prior: p)
            let h = 1e-6
            func f(_ a: Double, _ b: Double) -> Double {
                LinearCalibration.objective(scale: a, offset: b, targets: t, nontargets: n, prior: p)
            }
            #expect(abs(g.scale - (f(a + h, b) - f(a - h, b)) / (2 * h)) < 1e-8)
            #expect(abs(g.offset - (f(a, b + h) - f(a, b - h)) / (2 * h)) < 1e-8)
        }
    }

    /// Calibrated LLRs have lower Cllr than raw (uncalibrated) scores on held-out draws.
    @Test(arguments: [(0.5, 0.15, 0.1, 0.1), (3.0, 1.0, -2.0, 2.0), (0.2, 0.3, 0.0, 0.3)])
    func calibrationLowersHeldOutCllr(meanTarget: Double, sdTarget: Double, meanNon: Double, sdNon: Double) throws {
        var rng = SplitMix64(seed: 99)
        func draw(_ count: Int, _ m: Double, _ s: Double) -> [Double] {
            (0..<count).map { _ in Self.gaussian(&rng, mean: m, sd: s) }
        }
        let t = draw(300, meanTarget, sdTarget), n = draw(900, meanNon, sdNon)
        let heldT = draw(300, meanTarget, sdTarget), heldN = draw(900, meanNon, sdNon)
        for prior in [0.5, 0.01] {
            let c = try LinearCalibration.fit(targets: t, nontargets: n, prior: prior)
            let raw = LinearCalibration.crossEntropyBits(targetLLRs: heldT, nontargetLLRs: heldN)
            let calibrated = LinearCalibration.crossEntropyBits(targetLLRs: heldT.map(c.llr), nontargetLLRs: heldN.map(c.llr))
            #expect(calibrated < raw, "P=\(prior): Cllr \(calibrated) calibrated vs \(raw) raw")
            #expect(calibrated < 1, "calibrated LLRs must beat the useless LLR 0 (Cllr 1)")
        }
    }

    /// Well-calibrated input stays (nearly) put: Gaussian LLRs N(±μ/2 ... ) with equal variance are
    /// already LLRs when μ = σ², so the fit at P = 0.5 recovers scale ≈ 1, offset ≈ 0.
    @Test func recoversIdentityOnCalibratedLLRs() throws {
        var rng = SplitMix64(seed: 7)
        let t = (0..<20000).map { _ in Self.gaussian(&rng, mean: 2, sd: 2) }
        let n = (0..<20000).map { _ in Self.gaussian(&rng, mean: -2, sd: 2) }
        let c = try LinearCalibration.fit(targets: t, nontargets: n, prior: 0.5)
        #expect(abs(c.scale - 1) < 0.05 && abs(c.offset) < 0.05, "\(c)")
    }

    @Test func errors() {
        #expect(throws: CalibrationError.emptyClass(.target)) { try LinearCalibration.fit(targets: [], nontargets: [1], prior: 0.5) }
        #expect(throws: CalibrationError.emptyClass(.nontarget)) { try LinearCalibration.fit(targets: [1], nontargets: [], prior: 0.5) }
        #expect(throws: CalibrationError.nonFinite(.nontarget, index: 1, value: .infinity)) {
            try LinearCalibration.fit(targets: [1, 0], nontargets: [0, .infinity], prior: 0.5)
        }
        #expect(throws: CalibrationError.self) { try LinearCalibration.fit(targets: [.nan, 0], nontargets: [0, 1], prior: 0.5) }
        for p in [0, 1, -0.1, 1.5, .nan] {
            #expect(throws: CalibrationError.self) { try LinearCalibration.fit(targets: [1, 0], nontargets: [0, 1], prior: p) }
        }
        #expect(throws: CalibrationError.constantScores(0.5)) {
            try LinearCalibration.fit(targets: [0.5, 0.5], nontargets: [0.5], prior: 0.5)
        }
        #expect(throws: CalibrationError.separable(targetsAbove: true)) {
            try LinearCalibration.fit(targets: [1, 2, 3], nontargets: [-1, 0, 1], prior: 0.01)  // touching at 1
        }
        #expect(throws: CalibrationError.separable(targetsAbove: false)) {
            try LinearCalibration.fit(targets: [-3, -2], nontargets: [0, 1], prior: 0.5)
        }
        for e: CalibrationError in [.emptyClass(.target), .separable(targetsAbove: false), .noConvergence(iterations: 200),
                                    .invalidPrior(2), .constantScores(1), .nonFinite(.target, index: 0, value: .nan)] {
            #expect(e.description.hasPrefix("calibration: "))
        }
    }

    @Test func barelyOverlappingClassesStillConverge() throws {
        // one target below one non-target: a finite (large) scale
        let c = try LinearCalibration.fit(targets: [0.9, 1, 2, 3, 4], nontargets: [-3, -2, -1, 0, 1.1], prior: 0.5)
        #expect(c.scale > 1 && c.scale.isFinite)
        let g = LinearCalibration.gradient(scale: c.scale, offset: c.offset, targets: [0.9, 1, 2, 3, 4],
                                           nontargets: [-3, -2, -1, 0, 1.1], prior: 0.5)
        #expect(abs(g.scale) < 1e-10 && abs(g.offset) < 1e-10)
    }

    @Test func bayesThreshold() {
        #expect(abs(BayesDecision.threshold(targetPrior: 0.01) - log(99)) <= 1e-14)
        #expect(BayesDecision.threshold(targetPrior: 0.5) == 0)
        #expect(abs(BayesDecision.threshold(targetPrior: 0.05) - log(19)) <= 1e-14)
        #expect(BayesDecision.threshold(targetPrior: 0) == .infinity)
        #expect(BayesDecision.accept(llr: log(99), targetPrior: 0.01) == (log(99) >= BayesDecision.threshold(targetPrior: 0.01)))
        #expect(!BayesDecision.accept(llr: 4.5, targetPrior: 0.01) && BayesDecision.accept(llr: 4.6, targetPrior: 0.01))
        let c = LinearCalibration(scale: 2, offset: -1, prior: 0.01)
        #expect(c.llr(3) == 5)
    }
}
