import Testing
import _SVTestSupport
@testable import SVKernels

@Suite struct GEMMTests {
    @Test func smallKnownProduct() {
        let a: [Float] = [1, 2, 3, 4, 5, 6]          // (2,3)
        let b: [Float] = [7, 8, 9, 10, 11, 12]       // (3,2)
        var c = [Float](repeating: 0, count: 4)
        gemm(.none, .none, m: 2, n: 2, k: 3, a: a, lda: 3, b: b, ldb: 2, c: &c, ldc: 2)
        #expect(c == [58, 64, 139, 154])
    }

    @Test(arguments: [(Transpose.none, Transpose.none), (.transposed, .none), (.none, .transposed), (.transposed, .transposed)])
    func matchesNaiveTwin(ta: Transpose, tb: Transpose) {
        let m = 37, n = 29, k = 53
        var rng = SplitMix64(seed: 7)
        let a = (0..<(m * k)).map { _ in rng.nextFloat() - 0.5 }
        let b = (0..<(k * n)).map { _ in rng.nextFloat() - 0.5 }
        let c0 = (0..<(m * n)).map { _ in rng.nextFloat() }
        var fast = c0, slow = c0
        let lda = ta == .none ? k : m, ldb = tb == .none ? n : k
        gemm(ta, tb, m: m, n: n, k: k, alpha: 0.7, a: a, lda: lda, b: b, ldb: ldb, beta: 0.3, c: &fast, ldc: n)
        gemmNaive(ta, tb, m: m, n: n, k: k, alpha: 0.7, a: a, lda: lda, b: b, ldb: ldb, beta: 0.3, c: &slow, ldc: n)
        let diff = maxAbsDifference(fast, slow)
        #expect(diff < 1e-4, "max |fast - naive| = \(diff)")
    }
}
