import Foundation

extension Plots {
    /// Target and non-target score histograms on the same bins, each normalised to unit area
    /// (density), drawn as translucent bars with a solid outline (targets blue, non-targets
    /// vermilion), with labelled dashed vertical lines at `thresholds`. The x range covers the
    /// 0.1–99.9 % quantiles of each class, widened to the thresholds that lie inside the data or
    /// within half that span of it (others are drawn on the frame, labelled "off scale"); scores
    /// beyond it are counted in the edge bins, which the caption says. The bin width is the
    /// geometric mean of the two classes' Freedman–Diaconis widths, 20 to 100 bins. The legend below the axes gives the counts.
    public static func histogramSVG(targets: [Double], nontargets: [Double], thresholds: [(label: String, value: Double)],
                                    title: String, scoreLabel: String) -> String {
        let tar = targets.filter(\.isFinite).sorted(), non = nontargets.filter(\.isFinite).sorted()
        let all = (tar + non).sorted()
        let left = 72.0, plotW = 540.0, top = 56.0, plotH = 300.0, right = 28.0
        let legendTop = top + plotH + 62
        let thresholdRows = (thresholds.count + 1) / 2
        var svg = SVGCanvas(width: left + plotW + right, height: legendTop + Double(1 + thresholdRows) * 20 + 46)
        svg.text(title, x: left + plotW / 2, y: 30, size: 16, anchor: .middle, weight: "bold")

        // Range and bins.
        var lo = 0.0, hi = 1.0
        if let first = all.first, let last = all.last {
            // Per-class quantiles, so a small class is not cut by the large one's tails.
            lo = min(tar.isEmpty ? .infinity : quantile(tar, 0.001), non.isEmpty ? .infinity : quantile(non, 0.001))
            hi = max(tar.isEmpty ? -.infinity : quantile(tar, 0.999), non.isEmpty ? -.infinity : quantile(non, 0.999))
            // Thresholds inside the data or within half the span beyond it widen the range.
            let span = max(hi - lo, 0), reachLo = min(first, lo - 0.5 * span), reachHi = max(last, hi + 0.5 * span)
            for t in thresholds where t.value.isFinite && t.value >= reachLo && t.value <= reachHi {
                lo = min(lo, t.value); hi = max(hi, t.value)
            }
            if hi - lo <= 0 || !(hi - lo).isFinite {
                let c = lo, half = max(0.5, abs(c) * 0.05)
                lo = c - half; hi = c + half
            } else {
                let pad = 0.03 * (hi - lo); lo -= pad; hi += pad
            }
        }
        // Freedman–Diaconis width of each class; their geometric mean, so that neither a small class
        // turns into noise nor a large one into a few blocks.
        func fdWidth(_ s: [Double]) -> Double {
            guard s.count > 1 else { return 0 }
            return 2 * (quantile(s, 0.75) - quantile(s, 0.25)) / pow(Double(s.count), 1.0 / 3)
        }
        let ht = fdWidth(tar), hn = fdWidth(non)
        let h = ht > 0 && hn > 0 ? (ht * hn).squareRoot() : max(ht, hn)
        var bins = 30
        if h > 0 && h.isFinite { bins = Int(((hi - lo) / h).rounded(.up)) }
        bins = max(20, min(100, bins))
        let width = (hi - lo) / Double(bins)
        func histogram(_ s: [Double]) -> (density: [Double], clipped: Int) {
            var counts = [Int](repeating: 0, count: bins), clipped = 0
            for v in s {
                var b = Int(((v - lo) / width).rounded(.down))
                if b < 0 || b >= bins { clipped += 1; b = max(0, min(bins - 1, b)) }
                counts[b] += 1
            }
            let n = Double(max(s.count, 1))
            return (counts.map { Double($0) / (n * width) }, clipped)
        }
        let (dt, ct) = histogram(tar), (dn, cn) = histogram(non)
        let yTicks = niceTicks(0, max(dt.max() ?? 0, dn.max() ?? 0, 1e-300) * 1.08)
        let yMax = yTicks.last!
        let xTicks = niceTicks(lo, hi).filter { $0 >= lo && $0 <= hi }
        func px(_ v: Double) -> Double { left + (v - lo) / (hi - lo) * plotW }
        func py(_ d: Double) -> Double { top + plotH - d / yMax * plotH }

        // Grid and axes.
        for t in yTicks {
            svg.line(left, py(t), left + plotW, py(t), stroke: "#e3e3e3")
            svg.text(tickText(t, ticks: yTicks), x: left - 7, y: py(t) + 4, size: 11, anchor: .end, fill: "#444444")
        }
        for t in xTicks {
            svg.line(px(t), top + plotH, px(t), top + plotH + 5, stroke: "#444444")
            svg.text(tickText(t, ticks: xTicks), x: px(t), y: top + plotH + 19, size: 11, anchor: .middle, fill: "#444444")
        }
        // Bars then outlines (non-targets first, targets on top).
        let colours = (target: palette[0], nontarget: palette[1])
        for (density, colour, id) in [(dn, colours.nontarget, "nontarget"), (dt, colours.target, "target")] {
            for (b, d) in density.enumerated() where d > 0 {
                svg.rect(px(lo + Double(b) * width), py(d), plotW / Double(bins), py(0) - py(d), fill: colour, opacity: 0.35)
            }
            var outline: [(x: Double, y: Double)] = [(px(lo), py(0))]
            for (b, d) in density.enumerated() {
                outline.append((px(lo + Double(b) * width), py(d)))
                outline.append((px(lo + Double(b + 1) * width), py(d)))
            }
            outline.append((px(hi), py(0)))
            svg.raw(#"<path id="histogram-\#(id)" d="\#(SVGCanvas.pathData(outline, minStep: 0.01))" fill="none" stroke="\#(colour)" stroke-width="1.5"/>"#)
        }
        svg.rect(left, top, plotW, plotH, fill: "none", stroke: "#444444")

        // Threshold lines, labels staggered so neighbours do not collide.
        let dashes = ["6 4", "2 3", "8 3 2 3", "12 4"]
        for (k, t) in thresholds.enumerated() where t.value.isFinite {
            let x = max(left, min(left + plotW, px(t.value)))
            svg.line(x, top, x, top + plotH, stroke: "#222222", width: 1.5, dash: dashes[k % dashes.count])
            let label = t.value < lo || t.value > hi ? "\(t.label) (off scale)" : t.label
            let y = top + 16 + Double(k) * 16
            let fits = x + 6 + SVGCanvas.textWidth(label, size: 11) <= left + plotW - 4
            svg.raw(##"<rect x="\##(SVGCanvas.num(fits ? x + 3 : x - 5 - SVGCanvas.textWidth(label, size: 11)))" y="\##(SVGCanvas.num(y - 11))" width="\##(SVGCanvas.num(SVGCanvas.textWidth(label, size: 11) + 4))" height="14" fill="#ffffff" fill-opacity="0.8"/>"##)
            svg.text(label, x: fits ? x + 5 : x - 3, y: y, size: 11, anchor: fits ? .start : .end, fill: "#222222")
        }
        svg.text(scoreLabel, x: left + plotW / 2, y: top + plotH + 42, size: 13, anchor: .middle)
        svg.text("density", x: 22, y: top + plotH / 2, size: 13, anchor: .middle, rotate: -90)

        // Legend: classes with counts, then thresholds with their values.
        var y = legendTop
        svg.rect(left, y - 11, 22, 12, fill: colours.target, opacity: 0.35, stroke: colours.target, strokeWidth: 1.5)
        svg.text("target trials (n = \(grouped(targets.count)))", x: left + 30, y: y, size: 12)
        let x2 = left + plotW / 2
        svg.rect(x2, y - 11, 22, 12, fill: colours.nontarget, opacity: 0.35, stroke: colours.nontarget, strokeWidth: 1.5)
        svg.text("non-target trials (n = \(grouped(nontargets.count)))", x: x2 + 30, y: y, size: 12)
        for (k, t) in thresholds.enumerated() {
            if k % 2 == 0 { y += 20 }
            let x = k % 2 == 0 ? left : x2
            svg.line(x, y - 4, x + 22, y - 4, stroke: "#222222", width: 1.5, dash: dashes[k % dashes.count])
            svg.text("\(t.label) = \(short(t.value))", x: x + 30, y: y, size: 12)
        }
        let outside = ct + cn
        svg.text("\(bins) bins of width \(short(width)); each class normalised to unit area", x: left, y: y + 24, size: 11, fill: "#666666")
        if outside > 0 {
            svg.text("\(grouped(outside)) scores beyond the x range are counted in the edge bins", x: left, y: y + 40, size: 11, fill: "#666666")
        }
        return svg.document(title: title)
    }

    /// Linear-interpolated quantile of an ascending array.
    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        let pos = q * Double(sorted.count - 1)
        let i = Int(pos.rounded(.down)), f = pos - Double(i)
        return i + 1 < sorted.count ? sorted[i] + f * (sorted[i + 1] - sorted[i]) : sorted[i]
    }

    /// About six ticks at multiples of 1, 2 or 5 × 10^k covering [lo, hi] (the last one ≥ hi).
    static func niceTicks(_ lo: Double, _ hi: Double) -> [Double] {
        let span = hi - lo
        guard span > 0, span.isFinite else { return [lo, lo + 1] }
        let raw = span / 6, mag = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var ticks: [Double] = []
        var v = (lo / step).rounded(.down) * step
        while v < hi + step * 0.999 && ticks.count < 40 {
            ticks.append(abs(v) < step * 1e-9 ? 0 : v)
            v += step
        }
        return ticks
    }

    static func tickText(_ v: Double, ticks: [Double]) -> String {
        let step = ticks.count > 1 ? abs(ticks[1] - ticks[0]) : 1
        if abs(v) >= 1e5 || (abs(v) < 1e-3 && v != 0) { return String(format: "%.2g", v) }
        let decimals = max(0, Int((-log10(step)).rounded(.up)))
        return String(format: "%.\(decimals)f", v)
    }
}
