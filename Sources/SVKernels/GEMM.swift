import COpenBLAS
import Foundation

/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable {
    case none, transposed

    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

/// `C = alpha · op(A) · op(B) + beta · C`, all row-major, through OpenBLAS.
///
/// op(A) is (m, k), op(B) is (k, n), C is (m, n). `lda`, `ldb`, `ldc` are the row strides of the
/// stored matrices (so for A stored untransposed, `lda ≥ k`; transposed, `lda ≥ m`).
@inline(__always)
public func gemm(
    _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    checkGEMMStrides(transA, transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc)
    if m == 0 || n == 0 { return }
    cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Shape check shared by the fast GEMM and its naive twin: a wrong leading dimension is a
/// programming error, never a silently wrong result.
@inline(__always)
func checkGEMMStrides(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                      lda: Int, ldb: Int, ldc: Int) {
    precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative dimension m=\(m) n=\(n) k=\(k)")
    precondition(lda >= max(1, transA == .none ? k : m), "gemm: lda \(lda) too small for A")
    precondition(ldb >= max(1, transB == .none ? n : k), "gemm: ldb \(ldb) too small for B")
    precondition(ldc >= max(1, n), "gemm: ldc \(ldc) too small for C (n = \(n))")
}

/// Process-wide OpenBLAS settings.
public enum BLAS {
    /// Sets the number of OpenBLAS worker threads for the whole process (prefer `withThreads`).
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(clamping: max(1, count)))
    }

    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Runs `body` with `count` OpenBLAS threads and restores the count it found. The setting is the
    /// whole process's, and OpenBLAS splits (and so rounds) some sums by it: so callers take turns —
    /// a process-wide lock is held for the body (recursive: a body may call this again on its thread),
    /// and nobody else changes the count in between, so a run repeated under the same count is
    /// repeated bit for bit even while other threads embed or train.
    public static func withThreads<Result, Failure: Error>(_ count: Int, _ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        threadSettingLock.lock()
        defer { threadSettingLock.unlock() }
        let previous = threads
        setThreads(count)
        defer { setThreads(previous) }
        return try body()
    }

    private static let threadSettingLock = NSRecursiveLock()

    /// The kernel family OpenBLAS selected at run time (e.g. "Cooperlake" on Zen 4).
    public static var coreName: String { String(cString: openblas_get_corename()) }
}
