import Foundation

/// training.svg: training loss and validation EER per epoch, two panels side by side.
public enum TrainingPlot {
    public static func svg(_ log: [TrainingLogRow], title: String) -> String {
        let w = 420.0, h = 300.0, pad = 50.0
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(2 * w))" height="\(Int(h + 30))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(w)" y="18" text-anchor="middle" font-size="14">\(escape(title))</text>

        """
        let panels: [(String, [(Double, Double)], String)] = [
            ("training loss", log.map { (Double($0.epoch), $0.loss) }, "#1f77b4"),
            ("validation EER (%)", log.compactMap { r in r.validationEER.map { (Double(r.epoch), $0) } }, "#d62728"),
        ]
        for (k, (label, points, color)) in panels.enumerated() {
            let x0 = Double(k) * w + pad, y0 = 30 + pad / 2, pw = w - pad - 20, ph = h - pad - 10
            out += "<rect x=\"\(x0)\" y=\"\(y0)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#888\"/>\n"
            out += "<text x=\"\(x0 + pw / 2)\" y=\"\(y0 - 6)\" text-anchor=\"middle\">\(label)</text>\n"
            out += "<text x=\"\(x0 + pw / 2)\" y=\"\(y0 + ph + 28)\" text-anchor=\"middle\">epoch</text>\n"
            guard !points.isEmpty else {
                out += "<text x=\"\(x0 + pw / 2)\" y=\"\(y0 + ph / 2)\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n"
                continue
            }
            let xs = points.map(\.0), ys = points.map(\.1).filter(\.isFinite)
            let xmin = xs.min()!, xmax = max(xs.max()!, xmin + 1)
            var ymin = ys.min() ?? 0, ymax = ys.max() ?? 1
            if ymax - ymin < 1e-9 { ymin -= 0.5; ymax += 0.5 }
            func px(_ x: Double) -> Double { x0 + (x - xmin) / (xmax - xmin) * pw }
            func py(_ y: Double) -> Double { y0 + ph - (y - ymin) / (ymax - ymin) * ph }
            for t in 0...4 {
                let y = ymin + (ymax - ymin) * Double(t) / 4
                out += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", x0 - 4, py(y) + 4, y)
            }
            for t in 0...min(4, Int(xmax - xmin)) {
                let x = xmin + (xmax - xmin) * Double(t) / Double(min(4, Int(xmax - xmin)))
                out += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", px(x), y0 + ph + 14, x)
            }
            let path = points.filter { $0.1.isFinite }.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            for p in points where p.1.isFinite {
                out += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%@\"/>\n", px(p.0), py(p.1), color)
            }
        }
        return out + "</svg>\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
