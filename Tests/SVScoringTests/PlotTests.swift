import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import SVKernels
import _SVTestSupport
@testable import SVScoring

/// SVG plots: well-formed, deterministic, containing the curve and the labels; written to disk
/// (PNG too when a converter exists). Set SPKV_KEEP_PLOTS=/some/dir to keep the files for a look.
@Suite struct PlotTests {
    /// Realistic cosine-like scores: approximately Gaussian (sum of 6 uniforms), 2 k targets, 20 k non-targets.
    static func scores(seed: UInt64, separation: Double) -> (targets: [Double], nontargets: [Double]) {
        var rng = SplitMix64(seed: seed)
        func gauss() -> Double { ((0..<6).reduce(0.0) { acc, _ in acc + Double(rng.next() >> 11) * 0x1p-53 } - 3) * 2.0.squareRoot() }
        return ((0..<2000).map { _ in separation + 0.12 * gauss() }, (0..<20000).map { _ in 0.05 + 0.1 * gauss() })
    }

    static func detPlot() throws -> String {
        var curves: [(label: String, points: [DETPoint], report: EvaluationReport)] = []
        for (label, sep) in [("ECAPA C=512", 0.40), ("ECAPA C=1024 & AS-norm", 0.48)] {
            let (t, n) = scores(seed: UInt64(sep * 100), separation: sep)
            curves.append((label, try Metrics.detCurve(targets: t, nontargets: n), try Metrics.evaluate(targets: t, nontargets: n, scoresAreLLR: false)))
        }
        return Plots.detSVG(curves, title: "VoxCeleb1-O <test & check>")
    }

    static func histogramPlot() throws -> String {
        let (t, n) = scores(seed: 40, separation: 0.40)
        let r = try Metrics.evaluate(targets: t, nontargets: n, scoresAreLLR: false)
        return Plots.histogramSVG(targets: t, nontargets: n,
                                  thresholds: [("EER", r.eerThreshold), ("minDCF P=0.01", r.minDCF01Threshold), ("minDCF P=0.05", r.minDCF05Threshold)],
                                  title: "Score distributions", scoreLabel: "cosine score")
    }

    /// Parses the document; returns the root element name (or a minimal tag-balance check without FoundationXML).
    static func checkWellFormed(_ svg: String) throws -> String {
        #if canImport(FoundationXML)
        let doc = try XMLDocument(xmlString: svg, options: [])
        return doc.rootElement()?.name ?? ""
        #else
        var depth = 0
        for tag in svg.split(separator: "<").dropFirst() where !tag.hasPrefix("?") {
            if tag.hasPrefix("/") { depth -= 1 } else if !tag.contains("/>") { depth += 1 }
            #expect(depth >= 0)
        }
        #expect(depth == 0)
        return svg.contains("<svg") ? "svg" : ""
        #endif
    }

    @Test func detIsWellFormedAndComplete() throws {
        let svg = try Self.detPlot()
        #expect(try Self.checkWellFormed(svg) == "svg")
        #expect(svg.contains(#"id="det-curve-0""#) && svg.contains(#"id="det-curve-1""#))
        #expect(svg.contains("False alarm probability (%)") && svg.contains("Miss probability (%)"))
        for tick in ["0.1", "0.2", "0.5", ">1<", ">2<", ">5<", ">10<", ">20<", ">40<"] { #expect(svg.contains(tick)) }
        #expect(svg.contains("&lt;test &amp; check&gt;") && svg.contains("C=1024 &amp; AS-norm"))
        #expect(svg.contains("EER (%)") && svg.contains("EER point") && svg.contains("minDCF P=0.01") && svg.contains("<circle"))
        #expect(svg == (try Self.detPlot()), "DET SVG is not deterministic")
        // The 22 k-point curves are thinned to what the 480 px axes can show.
        #expect(svg.utf8.count < 200_000)
    }

    @Test func histogramIsWellFormedAndComplete() throws {
        let svg = try Self.histogramPlot()
        #expect(try Self.checkWellFormed(svg) == "svg")
        #expect(svg.contains(#"id="histogram-target""#) && svg.contains(#"id="histogram-nontarget""#))
        #expect(svg.contains("cosine score") && svg.contains("density"))
        #expect(svg.contains("target trials (n = 2,000)") && svg.contains("non-target trials (n = 20,000)"))
        #expect(svg.contains(">EER<") && svg.contains("EER = "))
        #expect(svg.contains(#"fill-opacity="0.35""#))
        #expect(svg == (try Self.histogramPlot()))
    }

    @Test func degenerateInputsStillRender() throws {
        // All-equal scores, one trial per class, a threshold far off the data, huge magnitudes.
        let report = try Metrics.evaluate(targets: [0.5], nontargets: [0.5], scoresAreLLR: false)
        let det = Plots.detSVG([("flat", try Metrics.detCurve(targets: [0.5], nontargets: [0.5]), report)], title: "flat")
        #expect(try Self.checkWellFormed(det) == "svg" && !det.contains("nan") && !det.contains("inf"))
        let h = Plots.histogramSVG(targets: [0.5, 0.5], nontargets: [0.5], thresholds: [("far", 1e9)], title: "flat", scoreLabel: "s")
        #expect(try Self.checkWellFormed(h) == "svg" && !h.contains("nan") && h.contains("far (off scale)"))
        let big = Plots.histogramSVG(targets: [1e200, 2e200], nontargets: [-1e200, 0], thresholds: [], title: "big", scoreLabel: "s")
        #expect(try Self.checkWellFormed(big) == "svg" && !big.contains("nan"))
        #expect(try Self.checkWellFormed(Plots.detSVG([], title: "none")) == "svg")
    }

    @Test func writesFilesAndPNG() throws {
        let keep = ProcessInfo.processInfo.environment["SPKV_KEEP_PLOTS"]
        let tmp = try TemporaryDirectory()
        defer { if keep == nil { tmp.remove() } }
        let dir = keep ?? tmp.url.path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // A test prerequisite (librsvg2-bin, README): without it this test fails instead of passing unchecked.
        let converter = try #require(Plots.pngConverterCommand(), "no rsvg-convert or convert on PATH: apt-get install librsvg2-bin")
        try #require(converter.hasSuffix("rsvg-convert"), "the PNG checks need rsvg-convert (apt-get install librsvg2-bin), found \(converter)")
        for (name, svg) in [("det", try Self.detPlot()), ("scores", try Self.histogramPlot())] {
            try svg.write(toFile: "\(dir)/\(name).svg", atomically: true, encoding: .utf8)
            #expect(Plots.writePNG(svg: svg, path: "\(dir)/\(name).png"), "converter \(converter)")
            let png = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name).png"))
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        }
        if converter.hasSuffix("rsvg-convert") {
            // A failed conversion leaves no file behind (the PNG is written atomically, after the converter).
            #expect(Plots.writePNG(svg: "<svg", path: "\(dir)/broken.png") == false)
            #expect(!FileManager.default.fileExists(atPath: "\(dir)/broken.png"))
        }
    }

    @Test func magnitudeScatterDrawsEveryPointAndTheCalibratorLine() {
        func point(_ cosine: Double, _ product: Double) -> (cosine: Double, product: Double) { (cosine, product) }
        let t = (0..<30).map { (i: Int) in point(0.3 + Double(i) / 100, 10 + Double(i % 7)) }
        let n = (0..<50).map { (i: Int) in point(-0.2 + Double(i) / 100, 8 + Double(i % 5)) }
        let svg = Plots.magnitudeScatterSVG(targets: t, nontargets: n, globalScale: 12.5, title: "fig 4")
        #expect(svg == Plots.magnitudeScatterSVG(targets: t, nontargets: n, globalScale: 12.5, title: "fig 4"))
        #expect(svg.components(separatedBy: "<circle").count - 1 == 80)
        #expect(svg.contains("global calibrator scale 12.5") && svg.contains("n = 30") && svg.contains("n = 50"))
        let few = Plots.magnitudeScatterSVG(targets: t, nontargets: n, globalScale: nil, title: "x", maxPoints: 10)
        #expect(few.components(separatedBy: "<circle").count - 1 == 20 && few.contains("subsample") && !few.contains("calibrator"))
    }
}
