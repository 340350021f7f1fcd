import Foundation

/// Plots of evaluation results as self-contained SVG 1.1 (white background, system sans-serif
/// fonts, no scripts or external references), deterministic byte for byte for the same input.
public enum Plots {
    /// Curve colours (colour-blind-safe Okabe–Ito order).
    static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
    static let fontFamily = "DejaVu Sans, Helvetica, Arial, sans-serif"
}

/// A tiny SVG writer: elements are appended as text, numbers printed with fixed decimals.
struct SVGCanvas {
    let width: Double
    let height: Double
    private(set) var elements: [String] = []

    init(width: Double, height: Double) {
        self.width = width; self.height = height
        elements.append(##"<rect x="0" y="0" width="\##(Self.num(width))" height="\##(Self.num(height))" fill="#ffffff"/>"##)
    }

    static func num(_ x: Double) -> String {
        let r = (x * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(format: "%.2f", r)
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(ch)
            }
        }
        return out
    }

    mutating func raw(_ element: String) { elements.append(element) }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1,
                       dash: String? = nil, extra: String = "") {
        let d = dash.map { #" stroke-dasharray="\#($0)""# } ?? ""
        elements.append(#"<line x1="\#(Self.num(x1))" y1="\#(Self.num(y1))" x2="\#(Self.num(x2))" y2="\#(Self.num(y2))" stroke="\#(stroke)" stroke-width="\#(Self.num(width))"\#(d)\#(extra)/>"#)
    }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, opacity: Double? = nil,
                       stroke: String? = nil, strokeWidth: Double = 1) {
        let o = opacity.map { #" fill-opacity="\#(Self.num($0))""# } ?? ""
        let s = stroke.map { #" stroke="\#($0)" stroke-width="\#(Self.num(strokeWidth))""# } ?? ""
        elements.append(#"<rect x="\#(Self.num(x))" y="\#(Self.num(y))" width="\#(Self.num(w))" height="\#(Self.num(h))" fill="\#(fill)"\#(o)\#(s)/>"#)
    }

    enum Anchor: String { case start, middle, end }

    mutating func text(_ s: String, x: Double, y: Double, size: Double = 12, anchor: Anchor = .start, weight: String? = nil,
                       fill: String = "#222222", rotate: Double? = nil, id: String? = nil) {
        let w = weight.map { #" font-weight="\#($0)""# } ?? ""
        let r = rotate.map { #" transform="rotate(\#(Self.num($0)) \#(Self.num(x)) \#(Self.num(y)))""# } ?? ""
        let i = id.map { #" id="\#($0)""# } ?? ""
        elements.append(#"<text\#(i) x="\#(Self.num(x))" y="\#(Self.num(y))" font-size="\#(Self.num(size))" text-anchor="\#(anchor.rawValue)"\#(w) fill="\#(fill)"\#(r)>\#(Self.escape(s))</text>"#)
    }

    /// Polyline through pixel points, dropping points closer than `minStep` px to the last kept one
    /// (the first and last are always kept), so 10⁶-point curves stay small.
    static func pathData(_ points: [(x: Double, y: Double)], minStep: Double = 0.5) -> String {
        guard let first = points.first else { return "" }
        var parts = ["M\(num(first.x)) \(num(first.y))"]
        var last = first
        for (k, p) in points.enumerated().dropFirst() {
            let isLast = k == points.count - 1
            if isLast || abs(p.x - last.x) >= minStep || abs(p.y - last.y) >= minStep {
                parts.append("L\(num(p.x)) \(num(p.y))")
                last = p
            }
        }
        return parts.joined(separator: " ")
    }

    func document(title: String) -> String {
        var out = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        out += #"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\#(Self.num(width))" height="\#(Self.num(height))" viewBox="0 0 \#(Self.num(width)) \#(Self.num(height))" font-family="\#(Plots.fontFamily)">"# + "\n"
        out += "<title>\(Self.escape(title))</title>\n"
        for e in elements { out += e + "\n" }
        out += "</svg>\n"
        return out
    }

    /// Rough rendered width of a string in px (sans-serif ≈ 0.6 em per character).
    static func textWidth(_ s: String, size: Double) -> Double { Double(s.count) * size * 0.6 }
}

extension Plots {
    /// "1,234,567".
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// A short number for labels: up to 4 significant digits, no trailing zeros.
    static func short(_ x: Double) -> String {
        if !x.isFinite { return x > 0 ? "+inf" : x < 0 ? "-inf" : "nan" }
        if x == 0 { return "0" }
        let a = abs(x)
        if a >= 1e5 || a < 1e-3 { return String(format: "%.3g", x) }
        var s = String(format: a >= 100 ? "%.1f" : a >= 10 ? "%.2f" : a >= 1 ? "%.3f" : "%.4f", x)
        if s.contains(".") { while s.hasSuffix("0") { s.removeLast() }; if s.hasSuffix(".") { s.removeLast() } }
        return s
    }
}
