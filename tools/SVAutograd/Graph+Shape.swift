// MARK: - Shape ops: reshape, slice/chunk and concat along any axis

extension Graph {
    /// Same values, new shape (row-major order kept).
    public func reshape(_ x: Variable, _ shape: [Int]) -> Variable {
        precondition(product(shape) == x.count, "reshape: \(x.shape) has \(x.count) values, \(shape) needs \(product(shape))")
        return record(Tensor(shape: shape, values: x.value.values), inputs: [x]) { [split] out in
            let dy = out.grad!
            x.accumulateGrad(split) { dx in
                let o = SharedFloats(base: dx)
                dy.withUnsafeBufferPointer { g in split.run(g.count, cost: 1) { range, _ in for i in range { o[i] += g[i] } } }
            }
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
        let xv = x.value.values, run = len * inner
        let y = xv.withUnsafeBufferPointer { xp in
            parallelBlocks(outer, of: run) { y, b in
                (y.base + b * run).update(from: xp.baseAddress! + (b * n + range.lowerBound) * inner, count: run)
            }
        }
        return record(Tensor(shape: outShape, values: y), inputs: [x]) { [split] out in
            let dy = out.grad!
            x.accumulateGrad(split) { dx in
                let o = SharedFloats(base: dx)
                dy.withUnsafeBufferPointer { g in
                    split.run(outer, cost: run) { blocks, _ in
                        for b in blocks {
                            let src = (b * n + range.lowerBound) * inner, dst = b * run
                            for i in 0..<run { o[src + i] += g[dst + i] }
                        }
                    }
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
        var offset = 0
        var offsets: [Int] = []
        for n in sizes { offsets.append(offset); offset += n }
        let values = xs.map { $0.value.values }
        // Output block b (of `total·inner` floats) is the inputs' blocks b, one after another.
        let y = parallelBlocks(outer, of: total * inner) { y, b in
            for (k, n) in sizes.enumerated() {
                values[k].withUnsafeBufferPointer { xp in
                    (y.base + (b * total + offsets[k]) * inner).update(from: xp.baseAddress! + b * n * inner, count: n * inner)
                }
            }
        }
        return record(Tensor(shape: outShape, values: y), inputs: xs) { [split] out in
            let dy = out.grad!
            dy.withUnsafeBufferPointer { g in
                for (k, x) in xs.enumerated() where x.requiresGrad {
                    let n = sizes[k], off = offsets[k]
                    x.accumulateGrad(split) { dx in
                        let o = SharedFloats(base: dx)
                        split.run(outer, cost: n * inner) { blocks, _ in
                            for b in blocks {
                                let src = (b * total + off) * inner, dst = b * n * inner
                                for i in 0..<(n * inner) { o[dst + i] += g[src + i] }
                            }
                        }
                    }
                }
            }
        }
    }
}
