import SVKernels

extension Graph {
    /// y = x·Wᵀ + b: x (N, in), weight (out, in), bias (out) → (N, out). GEMM on OpenBLAS.
    /// `x` and `weight` may be the same variable (a Gram matrix Z·Zᵀ); both gradients accumulate.
    public func linear(_ x: Variable, weight: Variable, bias: Variable? = nil) -> Variable {
        precondition(x.shape.count == 2 && weight.shape.count == 2 && x.shape[1] == weight.shape[1],
                     "linear: x (N, in) and weight (out, in) expected, got \(x.shape), \(weight.shape)")
        let n = x.shape[0], fin = x.shape[1], fout = weight.shape[0]
        precondition(bias == nil || bias!.shape == [fout], "linear: bias shape \(bias!.shape) != [\(fout)]")
        let xv = x.value.values, wv = weight.value.values
        var y = [Float](repeating: 0, count: n * fout)
        if let bias { let bv = bias.value.values; for r in 0..<n { for o in 0..<fout { y[r * fout + o] = bv[o] } } }
        let beta: Float = bias == nil ? 0 : 1
        y.withUnsafeMutableBufferPointer { yp in
            gemm(.none, .transposed, m: n, n: fout, k: fin, a: xv, lda: fin, b: wv, ldb: fin, beta: beta,
                 c: yp.baseAddress!, ldc: fout)
        }
        let inputs = [x, weight] + (bias.map { [$0] } ?? [])
        return record(Tensor(shape: [n, fout], values: y), inputs: inputs) { out in
            let dy = out.grad!
            if x.requiresGrad {   // dx += dy·W
                x.accumulateGrad { dx in
                    gemm(.none, .none, m: n, n: fin, k: fout, a: dy, lda: fout, b: wv, ldb: fin, beta: 1, c: dx, ldc: fin)
                }
            }
            if weight.requiresGrad {   // dW += dyᵀ·x
                weight.accumulateGrad { dw in
                    gemm(.transposed, .none, m: fout, n: fin, k: n, a: dy, lda: fout, b: xv, ldb: fin, beta: 1, c: dw, ldc: fin)
                }
            }
            if let bias, bias.requiresGrad {
                bias.accumulateGrad { db in for r in 0..<n { for o in 0..<fout { db[o] += dy[r * fout + o] } } }
            }
        }
    }
}
