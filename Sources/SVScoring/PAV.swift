import Foundation

/// Pool-adjacent-violators on grouped binary labels, for min Cllr.
enum PAV {
    /// One block of the isotonic fit: the groups it pools and their label counts.
    struct Block: Equatable, Sendable {
        var targets: Int
        var nontargets: Int
        var count: Int { targets + nontargets }
    }

    /// Fits the non-decreasing step function of P(target) over groups given in ascending score
    /// order (each group = the trials sharing one score, so ties are pooled by construction).
    /// Block means are compared exactly in integers (t₁·c₂ vs t₂·c₁); adjacent blocks are merged
    /// while the left one's target fraction is ≥ the right one's, so the block fractions of the
    /// result are strictly increasing. O(groups) amortised.
    static func blocks(groupTargets: [Int], groupNontargets: [Int]) -> [Block] {
        precondition(groupTargets.count == groupNontargets.count, "PAV: \(groupTargets.count) target counts, \(groupNontargets.count) non-target counts")
        var stack: [Block] = []
        stack.reserveCapacity(groupTargets.count)
        for g in groupTargets.indices {
            var block = Block(targets: groupTargets[g], nontargets: groupNontargets[g])
            while let last = stack.last, last.targets * block.count >= block.targets * last.count {
                block.targets += last.targets
                block.nontargets += last.nontargets
                stack.removeLast()
            }
            stack.append(block)
        }
        return stack
    }

    /// BOSARIS-style min Cllr from PAV blocks; see `Metrics.minCllr`.
    static func minCllr(_ blocks: [Block], totalTargets nt: Int, totalNontargets nn: Int) -> Double {
        let ntD = Double(nt), nnD = Double(nn)
        var tarSum = 0.0, tarC = 0.0, nonSum = 0.0, nonC = 0.0
        func add(_ x: Double, _ sum: inout Double, _ c: inout Double) {
            let t = sum + x
            c += abs(sum) >= abs(x) ? (sum - t) + x : (x - t) + sum
            sum = t
        }
        for b in blocks {
            let t = Double(b.targets), n = Double(b.nontargets)
            // e^{−llr} = (n/t)·(N_tar/N_non); a target pays log(1 + e^{−llr}), a non-target log(1 + e^{llr}).
            if b.targets > 0 && b.nontargets > 0 {
                add(t * log1p((n * ntD) / (t * nnD)), &tarSum, &tarC)
                add(n * log1p((t * nnD) / (n * ntD)), &nonSum, &nonC)
            }
        }
        return ((tarSum + tarC) / ntD + (nonSum + nonC) / nnD) / (2 * M_LN2)
    }
}
