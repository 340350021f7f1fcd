import Foundation

// MARK: - Unary element-wise ops

extension Graph {
    /// Applies `f` element-wise; `derivative(x, y)` gives dy/dx from the input and output.
    private func unary(_ x: Variable, _ f: (Float) -> Float, derivative: @escaping (Float, Float) -> Float) -> Variable {
        let xv = x.value.values
        let yv = xv.map(f)
        return record(Tensor(shape: x.shape, values: yv), inputs: [x]) { out in
            let dy = out.grad!
            x.accumulateGrad { dx in for i in 0..<dy.count { dx[i] += dy[i] * derivative(xv[i], yv[i]) } }
        }
    }

    /// max(0, x); the derivative at 0 is 0 (PyTorch).
    public func relu(_ x: Variable) -> Variable {
        unary(x, { max(0, $0) }, derivative: { x, _ in x > 0 ? 1 : 0 })
    }

    /// Exact GELU, x·Φ(x) = ½x(1 + erf(x/√2)) (PyTorch's default `approximate='none'`).
    public func gelu(_ x: Variable) -> Variable {
        unary(x, { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot().asFloat)) }, derivative: { x, _ in
            let cdf = 0.5 * (1 + erf(x / Float(2.0.squareRoot())))
            let pdf = expf(-0.5 * x * x) / Float((2 * Double.pi).squareRoot())
            return cdf + x * pdf
        })
    }

    public func sigmoid(_ x: Variable) -> Variable {
        unary(x, { $0 >= 0 ? 1 / (1 + expf(-$0)) : expf($0) / (1 + expf($0)) }, derivative: { _, y in y * (1 - y) })
    }

    public func tanh(_ x: Variable) -> Variable {
        unary(x, { tanhf($0) }, derivative: { _, y in 1 - y * y })
    }

    /// √x (the derivative is taken as 0 at x = 0).
    public func sqrt(_ x: Variable) -> Variable {
        unary(x, { $0.squareRoot() }, derivative: { _, y in y > 0 ? 0.5 / y : 0 })
    }

    /// max(x, floor) (PyTorch `clamp(min:)`: gradient 1 where x ≥ floor).
    public func clampMin(_ x: Variable, _ floor: Float) -> Variable {
        unary(x, { max($0, floor) }, derivative: { x, _ in x >= floor ? 1 : 0 })
    }

    /// a·x + b with constants.
    public func affine(_ x: Variable, scale a: Float, shift b: Float = 0) -> Variable {
        unary(x, { a * $0 + b }, derivative: { _, _ in a })
    }

    public func negate(_ x: Variable) -> Variable { affine(x, scale: -1) }
}

private extension Double { var asFloat: Float { Float(self) } }

// MARK: - Broadcasting binary ops

/// Same-rank broadcasting: every dimension of `a` and `b` is equal or 1.
func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    precondition(a.count == b.count, "broadcast: ranks differ, \(a) vs \(b) (reshape first)")
    return zip(a, b).map { x, y in
        precondition(x == y || x == 1 || y == 1, "broadcast: shapes \(a) and \(b) are incompatible")
        return max(x, y)
    }
}

/// Row-major strides of `shape` with 0 on broadcast (size-1 → larger) dimensions of `out`.
func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
    var strides = [Int](repeating: 0, count: shape.count)
    var s = 1
    for d in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[d] = (shape[d] == out[d]) ? s : 0
        s *= shape[d]
    }
    return strides
}

/// Calls `body(outOffset, aOffset, bOffset)` for every element of `out`, innermost dimension last.
@inline(__always)
func forEachBroadcast(_ out: [Int], _ sa: [Int], _ sb: [Int], _ body: (Int, Int, Int) -> Void) {
    let total = product(out)
    if total == 0 { return }
    let rank = out.count
    if rank == 0 { body(0, 0, 0); return }
    var index = [Int](repeating: 0, count: rank)
    var ao = 0, bo = 0
    let inner = out[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1]
    var o = 0
    while o < total {
        var a = ao, b = bo
        for _ in 0..<inner { body(o, a, b); o += 1; a += ia; b += ib }
        // Odometer over the outer dimensions.
        var d = rank - 2
        while d >= 0 {
            index[d] += 1; ao += sa[d]; bo += sb[d]
            if index[d] < out[d] { break }
            ao -= sa[d] * out[d]; bo -= sb[d] * out[d]; index[d] = 0
            d -= 1
        }
    }
}

extension Graph {
    /// a + b with same-rank broadcasting (residuals, per-channel biases of shape (N, C, 1)).
    public func add(_ a: Variable, _ b: Variable) -> Variable {
        let shape = broadcastShape(a.shape, b.shape)
        let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
        let av = a.value.values, bv = b.value.values
        var y = [Float](repeating: 0, count: product(shape))
        forEachBroadcast(shape, sa, sb) { o, i, j in y[o] = av[i] + bv[j] }
        return record(Tensor(shape: shape, values: y), inputs: [a, b]) { out in
            let dy = out.grad!
            if a.requiresGrad { a.accumulateGrad { da in forEachBroadcast(shape, sa, sb) { o, i, _ in da[i] += dy[o] } } }
            if b.requiresGrad { b.accumulateGrad { db in forEachBroadcast(shape, sa, sb) { o, _, j in db[j] += dy[o] } } }
        }
    }

    /// a − b with same-rank broadcasting.
    public func sub(_ a: Variable, _ b: Variable) -> Variable {
        let shape = broadcastShape(a.shape, b.shape)
        let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
        let av = a.value.values, bv = b.value.values
        var y = [Float](repeating: 0, count: product(shape))
        forEachBroadcast(shape, sa, sb) { o, i, j in y[o] = av[i] - bv[j] }
        return record(Tensor(shape: shape, values: y), inputs: [a, b]) { out in
            let dy = out.grad!
            if a.requiresGrad { a.accumulateGrad { da in forEachBroadcast(shape, sa, sb) { o, i, _ in da[i] += dy[o] } } }
            if b.requiresGrad { b.accumulateGrad { db in forEachBroadcast(shape, sa, sb) { o, _, j in db[j] -= dy[o] } } }
        }
    }

    /// a ⊙ b with same-rank broadcasting (per-channel scales, SE gates).
    public func mul(_ a: Variable, _ b: Variable) -> Variable {
        let shape = broadcastShape(a.shape, b.shape)
        let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
        let av = a.value.values, bv = b.value.values
        var y = [Float](repeating: 0, count: product(shape))
        forEachBroadcast(shape, sa, sb) { o, i, j in y[o] = av[i] * bv[j] }
        return record(Tensor(shape: shape, values: y), inputs: [a, b]) { out in
            let dy = out.grad!
            if a.requiresGrad { a.accumulateGrad { da in forEachBroadcast(shape, sa, sb) { o, i, j in da[i] += dy[o] * bv[j] } } }
            if b.requiresGrad { b.accumulateGrad { db in forEachBroadcast(shape, sa, sb) { o, i, j in db[j] += dy[o] * av[i] } } }
        }
    }

    /// Repeats size-1 dimensions of `x` to `shape` (PyTorch `expand`/`repeat`).
    public func broadcast(_ x: Variable, to shape: [Int]) -> Variable {
        precondition(broadcastShape(x.shape, shape) == shape, "broadcast: \(x.shape) does not expand to \(shape)")
        let sx = broadcastStrides(x.shape, to: shape), zero = [Int](repeating: 0, count: shape.count)
        let xv = x.value.values
        var y = [Float](repeating: 0, count: product(shape))
        forEachBroadcast(shape, sx, zero) { o, i, _ in y[o] = xv[i] }
        return record(Tensor(shape: shape, values: y), inputs: [x]) { out in
            let dy = out.grad!
            x.accumulateGrad { dx in forEachBroadcast(shape, sx, zero) { o, i, _ in dx[i] += dy[o] } }
        }
    }

    /// Sum of all elements, as a scalar.
    public func sum(_ x: Variable) -> Variable {
        let s = x.value.values.reduce(0.0) { $0 + Double($1) }
        return record(Tensor(scalar: Float(s)), inputs: [x]) { out in
            let g = out.grad![0]
            x.accumulateGrad { dx in for i in 0..<x.count { dx[i] += g } }
        }
    }

    /// Mean of all elements, as a scalar.
    public func mean(_ x: Variable) -> Variable { affine(sum(x), scale: 1 / Float(max(1, x.count))) }
}
