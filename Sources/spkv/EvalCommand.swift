import ArgumentParser
import Foundation
import SpeakerVerification

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate scores: EER, minDCF, and for LLR scores actual DCF, Cllr and min Cllr; DET and histogram plots.",
        discussion: """
            SCORES is 'spkv score' output ('enroll test score [label]'); labels come from it or from --trials. Scores \
            are treated as log-likelihood ratios when the file's header says kind=llr (a calibrated model), or with \
            --llr. DCFs use C_miss = C_fa = 1 and are normalised; P_target 0.01 and 0.05.
            """)

    @Option(help: "Scores file (spkv score output).") var scores: String
    @Option(help: "Trial list with labels (when the scores file has none).") var trials: String?
    @Flag(inversion: .prefixedNo, help: "Treat the scores as log-likelihood ratios (default: from the file's header).")
    var llr: Bool?
    @Flag(help: "Print one JSON object.") var json = false
    @Option(help: "Write det.svg and scores.svg (and PNG copies when rsvg-convert or ImageMagick is installed) here.")
    var plot: String?

    func run() throws {
        try reportingErrors {
            var list = try ScoreFile.read(path: scores)
            if let trials { list = try ScoreFile.attachLabels(list, from: TrialList.read(path: trials)) }
            let unlabeled = list.trials.filter { $0.label == nil }.count
            guard unlabeled == 0 else {
                throw ReportedFailure("\(scores): \(unlabeled) of \(list.trials.count) trials have no label; give --trials with labels")
            }
            let isLLR = llr ?? (list.header["kind"] == "llr")
            let targets = list.trials.filter { $0.label == .target }.map(\.score)
            let nontargets = list.trials.filter { $0.label == .nontarget }.map(\.score)
            let report = try Metrics.evaluate(targets: targets, nontargets: nontargets, scoresAreLLR: isLLR)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(Self.text(report, llr: isLLR, source: scores))
            }
            if let plot { try Self.writePlots(report, targets: targets, nontargets: nontargets, llr: isLLR, to: plot, title: scores) }
        }
    }

    static func text(_ r: EvaluationReport, llr: Bool, source: String) -> String {
        var lines = [
            "scores:     \(source) (\(llr ? "log-likelihood ratios" : "uncalibrated scores"))",
            "trials:     \(r.targets) target, \(r.nontargets) non-target",
            String(format: "EER:        %.3f %% (threshold %.6g)", r.eer, r.eerThreshold),
            String(format: "minDCF:     %.4f at P_target 0.01 (threshold %.6g), %.4f at 0.05 (threshold %.6g)",
                   r.minDCF01, r.minDCF01Threshold, r.minDCF05, r.minDCF05Threshold),
        ]
        if let a1 = r.actDCF01, let a5 = r.actDCF05 {
            lines.append(String(format: "actDCF:     %.4f at P_target 0.01, %.4f at 0.05", a1, a5))
        }
        if let c = r.cllr, let m = r.minCllr { lines.append(String(format: "Cllr:       %.4f (min Cllr %.4f)", c, m)) }
        return lines.joined(separator: "\n")
    }

    static func writePlots(_ report: EvaluationReport, targets: [Double], nontargets: [Double], llr: Bool,
                           to folder: String, title: String) throws {
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw ReportedFailure("cannot create \(folder): \(error.localizedDescription)")
        }
        let det = Plots.detSVG([(label: (title as NSString).lastPathComponent,
                                 points: try Metrics.detCurve(targets: targets, nontargets: nontargets), report: report)],
                               title: "DET curve")
        var thresholds: [(label: String, value: Double)] = [("EER", report.eerThreshold)]
        if llr { thresholds.append(("Bayes P=0.01", BayesDecision.threshold(targetPrior: 0.01))) }
        let histogram = Plots.histogramSVG(targets: targets, nontargets: nontargets, thresholds: thresholds,
                                           title: "Score distributions", scoreLabel: llr ? "log-likelihood ratio" : "score")
        for (name, svg) in [("det", det), ("scores", histogram)] {
            let path = (folder as NSString).appendingPathComponent("\(name).svg")
            try TextOutput(path: path).write(svg)
            _ = Plots.writePNG(svg: svg, path: (folder as NSString).appendingPathComponent("\(name).png"))
        }
    }
}
