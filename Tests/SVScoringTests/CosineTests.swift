import Testing
import SVKernels
@testable import SVScoring

@Suite struct CosineTests {
    @Test func handComputedCases() {
        #expect(Cosine.similarity([1, 0], [0, 1]) == 0)
        #expect(Cosine.similarity([1, 2, 3], [2, 4, 6]) == 1)
        #expect(Cosine.similarity([1, 2, 3], [-1, -2, -3]) == -1)
        // [1,1]·[1,0] / (√2·1) = 1/√2
        #expect(abs(Cosine.similarity([1, 1], [1, 0]) - Float(0.5.squareRoot())) < 1e-7)
        #expect(Cosine.similarity([0, 0], [1, 0]) == 0)
    }

    @Test(arguments: 0..<50 as Range<UInt64>)
    func symmetricBoundedAndScaleInvariant(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let n = 1 + Int(rng.next() % 300)
        let a = (0..<n).map { _ in rng.nextFloat() * 2 - 1 }, b = (0..<n).map { _ in rng.nextFloat() * 2 - 1 }
        let s = Cosine.similarity(a, b)
        #expect(s == Cosine.similarity(b, a))
        #expect(s >= -1 && s <= 1)
        #expect(abs(Cosine.similarity(a.map { $0 * 37.5 }, b) - s) < 1e-5)
        let u = Cosine.normalized(a)
        let norm = u.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(norm - 1) < 1e-5)
    }
}
