// MARK: - Shape ops: reshape, slice/chunk and concat along any axis

extension Graph {
    /// Same values, new shape (row-major order kept).
    public func reshape(_ x: Variable, _ shape: [Int]) -> Variable {
        precondition(product(shape) == x.count, "reshape: \(x.shape) has \(x.count) values, \(shape) needs \(product(shape))")
        return record(Tensor(shape: shape, values: x.value.values), inputs: [x]) { out in
            let dy = out.grad!
            x.accumulateGrad { dx in for i in 0..<dy.count { dx[i] += dy[i] } }
        }
    }

    /// Elements `range` of `axis` (PyTorch `x.narrow(axis, start, length)`).
    public func slice(_ x: Variable, axis: Int, _ range: Range<Int>) -> Variable {
        let shape = x.shape
        precondition(axis >= 0 && axis < shape.count && range.lowerBound >= 0 && range.upperBound <= shape[axis],
                     "slice: range \(range) out of bounds for axis \(axis) of \(shape)")
        let outer = product(shape[..<axis]), inner = product(shape[(axis + 1)...])
        let n = shape[axis], len = range.count
        var outShape = shape; outShape[axis] = len
        let xv = x.value.values
        var y = [Float](repeating: 0, count: outer * len * inner)
        for o in 0..<outer {
            let src = (o * n + range.lowerBound) * inner, dst = o * len * inner
            for i in 0..<(len * inner) { y[dst + i] = xv[src + i] }
        }
        return record(Tensor(shape: outShape, values: y), inputs: [x]) { out in
            let dy = out.grad!
            x.accumulateGrad { dx in
                for o in 0..<outer {
                    let src = (o * n + range.lowerBound) * inner, dst = o * len * inner
                    for i in 0..<(len * inner) { dx[src + i] += dy[dst + i] }
                }
            }
        }
    }

    /// `parts` equal chunks along `axis` (PyTorch `torch.chunk` with a divisible size).
    public func chunk(_ x: Variable, _ parts: Int, axis: Int) -> [Variable] {
        let n = x.shape[axis]
        precondition(parts > 0 && n % parts == 0, "chunk: \(n) is not divisible into \(parts) parts")
        let w = n / parts
        return (0..<parts).map { slice(x, axis: axis, ($0 * w)..<(($0 + 1) * w)) }
    }

    /// Concatenation along `axis`; the other dimensions must agree.
    public func concat(_ xs: [Variable], axis: Int) -> Variable {
        precondition(!xs.isEmpty, "concat: no inputs")
        let first = xs[0].shape
        for x in xs {
            precondition(x.shape.count == first.count && (0..<first.count).allSatisfy { $0 == axis || x.shape[$0] == first[$0] },
                         "concat: shape \(x.shape) does not match \(first) outside axis \(axis)")
        }
        let outer = product(first[..<axis]), inner = product(first[(axis + 1)...])
        let sizes = xs.map { $0.shape[axis] }, total = sizes.reduce(0, +)
        var outShape = first; outShape[axis] = total
        var y = [Float](repeating: 0, count: outer * total * inner)
        var offset = 0
        var offsets: [Int] = []
        for (x, n) in zip(xs, sizes) {
            offsets.append(offset)
            let xv = x.value.values
            for o in 0..<outer {
                let dst = (o * total + offset) * inner, src = o * n * inner
                for i in 0..<(n * inner) { y[dst + i] = xv[src + i] }
            }
            offset += n
        }
        return record(Tensor(shape: outShape, values: y), inputs: xs) { out in
            let dy = out.grad!
            for (k, x) in xs.enumerated() where x.requiresGrad {
                let n = sizes[k], off = offsets[k]
                x.accumulateGrad { dx in
                    for o in 0..<outer {
                        let src = (o * total + off) * inner, dst = o * n * inner
                        for i in 0..<(n * inner) { dx[dst + i] += dy[src + i] }
                    }
                }
            }
        }
    }
}
