import ArgumentParser
import Foundation
import SpeakerVerification

struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit a linear calibration (prior-weighted logistic regression) and store it in a copy of the model.",
        discussion: """
            SCORES are raw scores of this model ('spkv score' before calibration) on a labelled calibration list. The \
            new model outputs log-likelihood ratios llr = scale·score + offset from 'score' and 'verify'; its weights \
            and checksum are unchanged, so existing profiles keep working. Use a calibration list disjoint from the \
            evaluation list.
            """)

    @OptionGroup var modelOption: ModelOption
    @Option(help: "Scores file (spkv score output).") var scores: String
    @Option(help: "Trial list with labels (when the scores file has none).") var trials: String?
    @Option(help: "Target prior the calibration is optimised for.") var prior = 0.01
    @Option(name: .shortAndLong, help: "Calibrated model file to write.") var output: String

    func validate() throws {
        guard prior > 0, prior < 1 else { throw ValidationError("--prior must be between 0 and 1 (exclusive)") }
    }

    func run() throws {
        try reportingErrors {
            var file = try ModelFile.read(path: modelOption.model)
            let model = try SpeakerModel(file: file)
            guard model.magnitudeNetwork == nil else {
                throw ReportedFailure("\(modelOption.model) is a MagNetO model: its scores are already calibrated LLRs (magnitudes and offset trained by spkv-train magneto)")
            }
            var list = try ScoreFile.read(path: scores)
            if let trials { list = try ScoreFile.attachLabels(list, from: TrialList.read(path: trials)) }
            let kind = list.header["kind"] ?? "cosine"
            guard kind != "llr" else {
                throw ReportedFailure("\(scores) already holds calibrated LLRs; calibrate on the raw scores of the uncalibrated model")
            }
            if let modelSum = list.header["model"], modelSum != file.checksum {
                throw ReportedFailure("\(scores) was scored with model \(modelSum), not \(file.checksum)")
            }
            let targets = list.trials.filter { $0.label == .target }.map(\.score)
            let nontargets = list.trials.filter { $0.label == .nontarget }.map(\.score)
            guard targets.count + nontargets.count == list.trials.count else {
                throw ReportedFailure("\(scores): some trials have no label; give --trials with labels")
            }
            let calibration = try LinearCalibration.fit(targets: targets, nontargets: nontargets, prior: prior)
            var config = ScoringConfig(kind: .linear, calibration: calibration)
            config.fittedOn = ["kind": kind, "targets": "\(targets.count)", "nontargets": "\(nontargets.count)",
                               "source": (scores as NSString).lastPathComponent]
            file.metadata.scoring = config.jsonString()
            _ = try SpeakerModel(file: file)
            try file.write(path: output)
            print("calibration: llr = \(calibration.scale) · score + \(calibration.offset) (prior \(prior), " +
                  "\(targets.count) target / \(nontargets.count) non-target trials); wrote \(output)")
        }
    }
}
