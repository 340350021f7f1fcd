import Foundation

extension Plots {
    /// DET curve on normal-deviate (probit) axes: P_fa along x, P_miss along y, both in percent,
    /// ticks at 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 40 % (the range grows to 0.01 % when an EER is
    /// below 0.5 % or a minDCF operating point lies below 0.1 %, and to 90 % when an EER is above 25 %). Each curve marks its EER point (circle, on
    /// the dotted P_miss = P_fa diagonal) and its minDCF operating points (square P_target 0.01,
    /// diamond 0.05; markers of off-scale points sit on the frame, a reject-all optimum at the top-left
    /// corner). Tick labels that would collide are skipped (their grid lines stay). The legend
    /// below the plot is a table of each curve's label, EER and minDCFs, then the marker key;
    /// several curves allowed.
    public static func detSVG(_ curves: [(label: String, points: [DETPoint], report: EvaluationReport)], title: String) -> String {
        let eers = curves.map(\.report.eer)
        var ticks = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 40]
        var lo = 0.1, hi = 50.0
        // Reach down to 0.01 % for strong systems and for minDCF operating points below 0.1 %.
        let lowOperatingPoint = curves.contains { c in
            [c.report.minDCF01Threshold, c.report.minDCF05Threshold].contains { t in
                guard let p = point(at: t, in: c.points) else { return false }
                return (p.pFalseAlarm > 0 && p.pFalseAlarm < 0.001) || (p.pMiss > 0 && p.pMiss < 0.001)
            }
        }
        if let m = eers.min(), m < 0.5 || lowOperatingPoint { lo = 0.01; ticks = [0.01, 0.02, 0.05] + ticks }
        if let m = eers.max(), m > 25 { hi = 90; ticks += [60, 80, 90] }
        let zLo = Metrics.normalDeviate(lo / 100), zHi = Metrics.normalDeviate(hi / 100)

        let left = 80.0, plot = 480.0, top = 56.0
        let legendTop = top + plot + 66
        // Legend table: label | EER | minDCF 0.01 | minDCF 0.05, below the axes so it never hides the curves.
        let labelWidth = max(60, curves.map { SVGCanvas.textWidth($0.label, size: 12) }.max() ?? 0) + 44
        let columnWidth = 128.0
        let width = max(left + plot + 40, left + labelWidth + 3 * columnWidth + 20)
        var svg = SVGCanvas(width: width, height: legendTop + Double(curves.count + 2) * 20 + 10)
        func px(_ p: Double) -> Double {
            let z = max(zLo - 1, min(zHi + 1, Metrics.normalDeviate(p)))
            return left + (z - zLo) / (zHi - zLo) * plot
        }
        func py(_ p: Double) -> Double {
            let z = max(zLo - 1, min(zHi + 1, Metrics.normalDeviate(p)))
            return top + plot - (z - zLo) / (zHi - zLo) * plot
        }
        /// Markers of operating points beyond the axes sit on the frame.
        func clampX(_ x: Double) -> Double { max(left, min(left + plot, x)) }
        func clampY(_ y: Double) -> Double { max(top, min(top + plot, y)) }

        svg.text(title, x: left + plot / 2, y: 30, size: 16, anchor: .middle, weight: "bold")
        svg.raw(#"<defs><clipPath id="det-plot-area"><rect x="\#(SVGCanvas.num(left))" y="\#(SVGCanvas.num(top))" width="\#(SVGCanvas.num(plot))" height="\#(SVGCanvas.num(plot))"/></clipPath></defs>"#)
        // Grid on every tick; labels only where they do not run into the previous one.
        var lastX = -Double.infinity, lastY = Double.infinity
        for t in ticks {
            let x = px(t / 100), y = py(t / 100), label = tickLabel(t)
            svg.line(x, top, x, top + plot, stroke: "#dddddd")
            svg.line(left, y, left + plot, y, stroke: "#dddddd")
            let half = SVGCanvas.textWidth(label, size: 11) / 2
            if x - half >= lastX + 4 {
                svg.text(label, x: x, y: top + plot + 18, size: 11, anchor: .middle, fill: "#444444")
                lastX = x + half
            }
            if y <= lastY - 13 {
                svg.text(label, x: left - 7, y: y + 4, size: 11, anchor: .end, fill: "#444444")
                lastY = y
            }
        }
        svg.line(px(lo / 100), py(lo / 100), px(hi / 100), py(hi / 100), stroke: "#999999", dash: "2 3")
        svg.rect(left, top, plot, plot, fill: "none", stroke: "#444444")
        svg.text("False alarm probability (%)", x: left + plot / 2, y: top + plot + 42, size: 13, anchor: .middle)
        svg.text("Miss probability (%)", x: 24, y: top + plot / 2, size: 13, anchor: .middle, rotate: -90)

        // Curves, then markers on top.
        var markers: [String] = []
        for (k, curve) in curves.enumerated() {
            let colour = palette[k % palette.count]
            let pts = [(x: px(0), y: py(1))] + curve.points.map { (x: px($0.pFalseAlarm), y: py($0.pMiss)) }
            svg.raw(#"<path id="det-curve-\#(k)" d="\#(SVGCanvas.pathData(pts))" fill="none" stroke="\#(colour)" stroke-width="2" stroke-linejoin="round" clip-path="url(#det-plot-area)"/>"#)
            let e = curve.report.eer / 100
            markers.append(circle(clampX(px(e)), clampY(py(e)), colour))
            for (threshold, shape) in [(curve.report.minDCF01Threshold, square), (curve.report.minDCF05Threshold, diamond)] {
                // A reject-all optimum is the point (P_fa 0, P_miss 1), the frame's top-left corner.
                let p = point(at: threshold, in: curve.points) ?? DETPoint(pFalseAlarm: 0, pMiss: 1, threshold: threshold)
                markers.append(shape(clampX(px(p.pFalseAlarm)), clampY(py(p.pMiss)), colour))
            }
        }
        for m in markers { svg.raw(m) }

        // Legend below the axes: a header, one row per curve, then the marker key.
        var y = legendTop
        let columns = [left + labelWidth, left + labelWidth + columnWidth, left + labelWidth + 2 * columnWidth]
        for (x, header) in zip(columns, ["EER (%)", "minDCF P=0.01", "minDCF P=0.05"]) {
            svg.text(header, x: x + columnWidth - 14, y: y, size: 12, anchor: .end, weight: "bold", fill: "#444444")
        }
        y += 20
        for (k, curve) in curves.enumerated() {
            let colour = palette[k % palette.count]
            svg.line(left, y - 4, left + 30, y - 4, stroke: colour, width: 2.5)
            svg.text(curve.label, x: left + 38, y: y, size: 12)
            let r = curve.report
            for (x, value) in zip(columns, [String(format: "%.2f", r.eer), String(format: "%.4f", r.minDCF01), String(format: "%.4f", r.minDCF05)]) {
                svg.text(value, x: x + columnWidth - 14, y: y, size: 12, anchor: .end)
            }
            y += 20
        }
        var x = left + 6
        for (name, shape) in [("EER point", circle), ("minDCF P=0.01", square), ("minDCF P=0.05", diamond)] {
            svg.raw(shape(x, y - 4, "#555555"))
            svg.text(name, x: x + 10, y: y, size: 12, fill: "#444444")
            x += 24 + SVGCanvas.textWidth(name, size: 12)
        }
        svg.text("(markers on the frame: off scale)", x: x, y: y, size: 11, fill: "#777777")
        return svg.document(title: title)
    }

    static func tickLabel(_ percent: Double) -> String {
        percent >= 1 ? String(Int(percent)) : String(format: percent >= 0.1 ? "%.1f" : "%.2f", percent)
    }

    /// The DET point with exactly this threshold (the points are by decreasing threshold).
    static func point(at threshold: Double, in points: [DETPoint]) -> DETPoint? {
        var lo = 0, hi = points.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if points[mid].threshold > threshold { lo = mid + 1 } else { hi = mid }
        }
        return lo < points.count && points[lo].threshold == threshold ? points[lo] : nil
    }

    static func circle(_ x: Double, _ y: Double, _ colour: String) -> String {
        ##"<circle cx="\##(SVGCanvas.num(x))" cy="\##(SVGCanvas.num(y))" r="5" fill="#ffffff" stroke="\##(colour)" stroke-width="2"/>"##
    }

    static func square(_ x: Double, _ y: Double, _ colour: String) -> String {
        ##"<rect x="\##(SVGCanvas.num(x - 4.5))" y="\##(SVGCanvas.num(y - 4.5))" width="9" height="9" fill="\##(colour)" stroke="#ffffff" stroke-width="1"/>"##
    }

    static func diamond(_ x: Double, _ y: Double, _ colour: String) -> String {
        let p = [(x, y - 6), (x + 6, y), (x, y + 6), (x - 6, y)].map { "\(SVGCanvas.num($0.0)),\(SVGCanvas.num($0.1))" }.joined(separator: " ")
        return ##"<polygon points="\##(p)" fill="\##(colour)" stroke="#ffffff" stroke-width="1"/>"##
    }
}
