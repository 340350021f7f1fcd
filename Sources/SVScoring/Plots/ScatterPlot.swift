import Foundation

extension Plots {
    /// MagNetO's Figure 4: each trial's cosine score (x) against the product of its two magnitudes
    /// (y), targets blue and non-targets vermilion, with a dashed horizontal line at the global linear
    /// calibrator's scale (the constant product every pair gets without MagNetO). Points above the line
    /// are amplified relative to the calibrator, below it attenuated. At most `maxPoints` per class
    /// are drawn (an evenly spaced subsample, so the file stays small); the legend gives the counts.
    public static func magnitudeScatterSVG(targets: [(cosine: Double, product: Double)], nontargets: [(cosine: Double, product: Double)],
                                           globalScale: Double?, title: String, maxPoints: Int = 4000) -> String {
        let left = 72.0, plotW = 540.0, top = 56.0, plotH = 360.0, right = 28.0
        var svg = SVGCanvas(width: left + plotW + right, height: top + plotH + 110)
        svg.text(title, x: left + plotW / 2, y: 30, size: 16, anchor: .middle, weight: "bold")
        let all = (targets + nontargets).filter { $0.cosine.isFinite && $0.product.isFinite }
        var xlo = all.map(\.cosine).min() ?? -1, xhi = all.map(\.cosine).max() ?? 1
        var ylo = 0.0, yhi = all.map(\.product).max() ?? 1
        if let s = globalScale, s.isFinite { yhi = max(yhi, s) }
        if xhi - xlo <= 0 { xlo -= 0.5; xhi += 0.5 }
        if yhi - ylo <= 0 { yhi = ylo + 1 }
        let xTicks = niceTicks(xlo, xhi), yTicks = niceTicks(ylo, yhi * 1.05)
        xlo = xTicks.first!; xhi = xTicks.last!; ylo = yTicks.first!; yhi = yTicks.last!
        func px(_ v: Double) -> Double { left + (v - xlo) / (xhi - xlo) * plotW }
        func py(_ v: Double) -> Double { top + plotH - (v - ylo) / (yhi - ylo) * plotH }
        for t in yTicks {
            svg.line(left, py(t), left + plotW, py(t), stroke: "#e3e3e3")
            svg.text(tickText(t, ticks: yTicks), x: left - 7, y: py(t) + 4, size: 11, anchor: .end, fill: "#444444")
        }
        for t in xTicks {
            svg.line(px(t), top, px(t), top + plotH, stroke: "#f0f0f0")
            svg.text(tickText(t, ticks: xTicks), x: px(t), y: top + plotH + 19, size: 11, anchor: .middle, fill: "#444444")
        }
        func subsample(_ points: [(cosine: Double, product: Double)]) -> [(cosine: Double, product: Double)] {
            guard points.count > maxPoints else { return points }
            return (0..<maxPoints).map { points[$0 * points.count / maxPoints] }
        }
        for (points, colour, id) in [(subsample(nontargets), palette[1], "nontarget"), (subsample(targets), palette[0], "target")] {
            var dots: [String] = []
            for p in points where p.cosine.isFinite && p.product.isFinite {
                dots.append(#"<circle cx="\#(SVGCanvas.num(px(p.cosine)))" cy="\#(SVGCanvas.num(py(p.product)))" r="1.6"/>"#)
            }
            svg.raw(#"<g id="scatter-\#(id)" fill="\#(colour)" fill-opacity="0.45">"# + dots.joined() + "</g>")
        }
        if let s = globalScale, s.isFinite {
            svg.line(left, py(s), left + plotW, py(s), stroke: "#222222", width: 1.5, dash: "6 4")
            svg.text("global calibrator scale \(short(s))", x: left + plotW - 4, y: py(s) - 5, size: 11, anchor: .end, fill: "#222222")
        }
        svg.rect(left, top, plotW, plotH, fill: "none", stroke: "#444444")
        svg.text("cosine score", x: left + plotW / 2, y: top + plotH + 42, size: 13, anchor: .middle)
        svg.text("magnitude product aᵢ·aⱼ", x: 22, y: top + plotH / 2, size: 13, anchor: .middle, rotate: -90)
        let y = top + plotH + 72
        svg.rect(left, y - 10, 10, 10, fill: palette[0], opacity: 0.6)
        svg.text("target trials (n = \(grouped(targets.count)))", x: left + 16, y: y, size: 12)
        svg.rect(left + plotW / 2, y - 10, 10, 10, fill: palette[1], opacity: 0.6)
        svg.text("non-target trials (n = \(grouped(nontargets.count)))", x: left + plotW / 2 + 16, y: y, size: 12)
        if targets.count > maxPoints || nontargets.count > maxPoints {
            svg.text("at most \(grouped(maxPoints)) points per class drawn (evenly spaced subsample)", x: left, y: y + 20, size: 11, fill: "#666666")
        }
        return svg.document(title: title)
    }
}
