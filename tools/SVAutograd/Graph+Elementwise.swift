import Foundation

// MARK: - Unary element-wise ops

/// An element-wise function and its derivative dy/dx from the input x and output y. Ops take these as
/// concrete types (not closures) so that the compiler inlines them into the loops.
protocol ElementwiseFunction: Sendable {
    func value(_ x: Float) -> Float
    func derivative(_ x: Float, _ y: Float) -> Float
}

/// max(0, x); the derivative at 0 is 0 (PyTorch).
struct ReLUFunction: ElementwiseFunction {
    @inline(__always) func value(_ x: Float) -> Float { max(0, x) }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { x > 0 ? 1 : 0 }
}

/// Exact GELU, x·Φ(x) = ½x(1 + erf(x/√2)).
struct GELUFunction: ElementwiseFunction {
    func value(_ x: Float) -> Float { 0.5 * x * (1 + erf(x / Float(2.0.squareRoot()))) }
    func derivative(_ x: Float, _ y: Float) -> Float {
        let cdf = 0.5 * (1 + erf(x / Float(2.0.squareRoot())))
        let pdf = expf(-0.5 * x * x) / Float((2 * Double.pi).squareRoot())
        return cdf + x * pdf
    }
}

struct SigmoidFunction: ElementwiseFunction {
    func value(_ x: Float) -> Float { x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x)) }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { y * (1 - y) }
}

struct TanhFunction: ElementwiseFunction {
    func value(_ x: Float) -> Float { tanhf(x) }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { 1 - y * y }
}

/// √x (the derivative is taken as 0 at x = 0).
struct SquareRootFunction: ElementwiseFunction {
    @inline(__always) func value(_ x: Float) -> Float { x.squareRoot() }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { y > 0 ? 0.5 / y : 0 }
}

/// max(x, floor) (gradient 1 where x ≥ floor).
struct ClampMinFunction: ElementwiseFunction {
    let floor: Float
    @inline(__always) func value(_ x: Float) -> Float { max(x, floor) }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { x >= floor ? 1 : 0 }
}

/// a·x + b.
struct AffineFunction: ElementwiseFunction {
    let a: Float, b: Float
    @inline(__always) func value(_ x: Float) -> Float { a * x + b }
    @inline(__always) func derivative(_ x: Float, _ y: Float) -> Float { a }
}

extension Graph {
    /// Applies `f` element-wise (elements split over the workers).
    private func unary<F: ElementwiseFunction>(_ x: Variable, _ f: F) -> Variable {
        let xv = x.value.values
        let yv = xv.withUnsafeBufferPointer { xp in
            parallelArray(xv.count) { y, range in for i in range { y[i] = f.value(xp[i]) } }
        }
        return record(Tensor(shape: x.shape, values: yv), inputs: [x]) { [split] out in
            let dy = out.grad!
            x.accumulateGrad(split) { dx in
                let dxo = SharedFloats(base: dx)
                dy.withUnsafeBufferPointer { dyp in
                    xv.withUnsafeBufferPointer { xp in
                        yv.withUnsafeBufferPointer { yp in
                            split.run(dyp.count, cost: 4) { range, _ in
                                for i in range { dxo[i] += dyp[i] * f.derivative(xp[i], yp[i]) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// max(0, x); the derivative at 0 is 0 (PyTorch).
    public func relu(_ x: Variable) -> Variable { unary(x, ReLUFunction()) }

    /// Exact GELU, x·Φ(x) = ½x(1 + erf(x/√2)) (PyTorch's default `approximate='none'`).
    public func gelu(_ x: Variable) -> Variable { unary(x, GELUFunction()) }

    public func sigmoid(_ x: Variable) -> Variable { unary(x, SigmoidFunction()) }

    public func tanh(_ x: Variable) -> Variable { unary(x, TanhFunction()) }

    /// √x (the derivative is taken as 0 at x = 0).
    public func sqrt(_ x: Variable) -> Variable { unary(x, SquareRootFunction()) }

    /// max(x, floor) (PyTorch `clamp(min:)`: gradient 1 where x ≥ floor).
    public func clampMin(_ x: Variable, _ floor: Float) -> Variable { unary(x, ClampMinFunction(floor: floor)) }

    /// a·x + b with constants.
    public func affine(_ x: Variable, scale a: Float, shift b: Float = 0) -> Variable { unary(x, AffineFunction(a: a, b: b)) }

    public func negate(_ x: Variable) -> Variable { affine(x, scale: -1) }
}


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

/// How a same-rank broadcast lays out: both operands whole (`same`), or one whole and the other
/// constant along the last axis (`rows`: a per-row value, e.g. (N, C, 1) against (N, C, T)) — the
/// shapes of the graph's hot ops, computed on contiguous runs; anything else goes element by element.
enum BroadcastLayout {
    case same
    /// `a` whole, `b` one value per row of `inner` elements.
    case bRows(inner: Int)
    /// `b` whole, `a` one value per row.
    case aRows(inner: Int)
    case general

    init(_ a: [Int], _ b: [Int], out: [Int]) {
        if a == b { self = .same; return }
        guard let last = out.last, out.count >= 2, Array(a.dropLast()) == Array(b.dropLast()) else { self = .general; return }
        if a == out && b.last == 1 { self = .bRows(inner: last) }
        else if b == out && a.last == 1 { self = .aRows(inner: last) }
        else { self = .general }
    }
}

/// An element-wise function of two operands and its local gradients: `da(dy, a, b)`, `db(dy, a, b)`.
protocol BinaryFunction: Sendable {
    func value(_ a: Float, _ b: Float) -> Float
    func da(_ g: Float, _ a: Float, _ b: Float) -> Float
    func db(_ g: Float, _ a: Float, _ b: Float) -> Float
}

struct AddFunction: BinaryFunction {
    @inline(__always) func value(_ a: Float, _ b: Float) -> Float { a + b }
    @inline(__always) func da(_ g: Float, _ a: Float, _ b: Float) -> Float { g }
    @inline(__always) func db(_ g: Float, _ a: Float, _ b: Float) -> Float { g }
}

struct SubtractFunction: BinaryFunction {
    @inline(__always) func value(_ a: Float, _ b: Float) -> Float { a - b }
    @inline(__always) func da(_ g: Float, _ a: Float, _ b: Float) -> Float { g }
    @inline(__always) func db(_ g: Float, _ a: Float, _ b: Float) -> Float { -g }
}

struct MultiplyFunction: BinaryFunction {
    @inline(__always) func value(_ a: Float, _ b: Float) -> Float { a * b }
    @inline(__always) func da(_ g: Float, _ a: Float, _ b: Float) -> Float { g * b }
    @inline(__always) func db(_ g: Float, _ a: Float, _ b: Float) -> Float { g * a }
}

extension Graph {
    /// y = f(a, b) with same-rank broadcasting. A broadcast operand sums its gradient over the
    /// positions it was repeated to, in element order (the order of the element-by-element loop,
    /// so every layout gives the same sums).
    private func binary<F: BinaryFunction>(_ a: Variable, _ b: Variable, _ f: F) -> Variable {
        let shape = broadcastShape(a.shape, b.shape)
        let layout = BroadcastLayout(a.shape, b.shape, out: shape)
        let av = a.value.values, bv = b.value.values, count = product(shape)
        let y: [Float] = av.withUnsafeBufferPointer { ap in
            bv.withUnsafeBufferPointer { bp in
                switch layout {
                case .same:
                    return parallelArray(count) { y, range in for i in range { y[i] = f.value(ap[i], bp[i]) } }
                case .bRows(let inner):
                    return parallelArray(count) { y, range in for i in range { y[i] = f.value(ap[i], bp[i / inner]) } }
                case .aRows(let inner):
                    return parallelArray(count) { y, range in for i in range { y[i] = f.value(ap[i / inner], bp[i]) } }
                case .general:
                    let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
                    var y = [Float](repeating: 0, count: count)
                    forEachBroadcast(shape, sa, sb) { o, i, j in y[o] = f.value(ap[i], bp[j]) }
                    return y
                }
            }
        }
        return record(Tensor(shape: shape, values: y), inputs: [a, b]) { [split] out in
            let dy = out.grad!
            dy.withUnsafeBufferPointer { g in
                av.withUnsafeBufferPointer { ap in
                    bv.withUnsafeBufferPointer { bp in
                        switch layout {
                        case .same:
                            if a.requiresGrad {
                                a.accumulateGrad(split) { d in
                                    let o = SharedFloats(base: d)
                                    split.run(count, cost: 4) { range, _ in for i in range { o[i] += f.da(g[i], ap[i], bp[i]) } }
                                }
                            }
                            if b.requiresGrad {
                                b.accumulateGrad(split) { d in
                                    let o = SharedFloats(base: d)
                                    split.run(count, cost: 4) { range, _ in for i in range { o[i] += f.db(g[i], ap[i], bp[i]) } }
                                }
                            }
                        case .bRows(let inner), .aRows(let inner):
                            let aWhole: Bool = if case .bRows = layout { true } else { false }
                            let (whole, rows) = aWhole ? (a, b) : (b, a)
                            // (a, b) values at element i, whichever operand is the per-row one.
                            @inline(__always) func pair(_ i: Int) -> (Float, Float) {
                                aWhole ? (ap[i], bp[i / inner]) : (ap[i / inner], bp[i])
                            }
                            if whole.requiresGrad {
                                whole.accumulateGrad(split) { d in
                                    let o = SharedFloats(base: d)
                                    split.run(count, cost: 4) { range, _ in
                                        for i in range { let (x, z) = pair(i); o[i] += aWhole ? f.da(g[i], x, z) : f.db(g[i], x, z) }
                                    }
                                }
                            }
                            if rows.requiresGrad {
                                rows.accumulateGrad(split) { d in
                                    let o = SharedFloats(base: d)
                                    split.run(count / inner, cost: 4 * inner) { range, _ in
                                        for r in range {
                                            var s = o[r]
                                            for i in (r * inner)..<((r + 1) * inner) { let (x, z) = pair(i); s += aWhole ? f.db(g[i], x, z) : f.da(g[i], x, z) }
                                            o[r] = s
                                        }
                                    }
                                }
                            }
                        case .general:
                            let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
                            if a.requiresGrad { a.accumulateGrad(split) { d in forEachBroadcast(shape, sa, sb) { o, i, j in d[i] += f.da(g[o], ap[i], bp[j]) } } }
                            if b.requiresGrad { b.accumulateGrad(split) { d in forEachBroadcast(shape, sa, sb) { o, i, j in d[j] += f.db(g[o], ap[i], bp[j]) } } }
                        }
                    }
                }
            }
        }
    }

    /// a + b with same-rank broadcasting (residuals, per-channel biases of shape (N, C, 1)).
    public func add(_ a: Variable, _ b: Variable) -> Variable {
        binary(a, b, AddFunction())
    }

    /// a − b with same-rank broadcasting.
    public func sub(_ a: Variable, _ b: Variable) -> Variable {
        binary(a, b, SubtractFunction())
    }

    /// a ⊙ b with same-rank broadcasting (per-channel scales, SE gates).
    public func mul(_ a: Variable, _ b: Variable) -> Variable {
        binary(a, b, MultiplyFunction())
    }

    /// Repeats size-1 dimensions of `x` to `shape` (PyTorch `expand`/`repeat`).
    public func broadcast(_ x: Variable, to shape: [Int]) -> Variable {
        precondition(broadcastShape(x.shape, shape) == shape, "broadcast: \(x.shape) does not expand to \(shape)")
        if case .bRows(let inner) = BroadcastLayout(shape, x.shape, out: shape), x.shape != shape {
            // One value per row repeated along the last axis (pooled statistics over time).
            let xv = x.value.values, count = product(shape)
            let y = xv.withUnsafeBufferPointer { xp in parallelArray(count) { y, range in for i in range { y[i] = xp[i / inner] } } }
            return record(Tensor(shape: shape, values: y), inputs: [x]) { [split] out in
                let dy = out.grad!
                dy.withUnsafeBufferPointer { g in
                    x.accumulateGrad(split) { dx in
                        let o = SharedFloats(base: dx)
                        split.run(count / inner, cost: inner) { range, _ in
                            for r in range { var s = o[r]; for i in (r * inner)..<((r + 1) * inner) { s += g[i] }; o[r] = s }
                        }
                    }
                }
            }
        }
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
