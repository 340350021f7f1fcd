import ArgumentParser
import Foundation
import SpeakerVerification

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a trial list: each distinct file embedded once, then every trial scored in order.",
        discussion: """
            Trial lines, detected per line: VoxCeleb '1 enroll.wav test.wav' (1 same speaker, 0 different), Kaldi \
            'enroll test target|nontarget', or unlabeled 'enroll test'. Output lines: 'enroll test score [label]', in \
            trial order, after a '# spkv-scores kind=… model=…' header. Scores are calibrated log-likelihood ratios when \
            the model is calibrated (spkv calibrate), AS-norm scores with --cohort, cosine otherwise. All missing audio \
            files are listed before any work starts.
            """)

    @OptionGroup var modelOption: ModelOption
    @Option(help: "Trial list.") var trials: String
    @Option(name: .customLong("audio-root"), help: "Folder that relative paths in the trials are under.") var audioRoot: String?
    @Option(name: .shortAndLong, help: "Write the scores here (atomically) instead of stdout.") var output: String?
    @Option(help: "Files embedded in parallel.") var threads = 1
    @Option(help: "Embedding cache file, read if present and updated (checked: model, embedding size, CRC-32; a damaged cache is an error, delete it to rebuild).")
    var embeddings: String?
    @Option(help: "AS-norm cohort: a text file listing cohort audio files (relative to --audio-root), or 'spkv embed' output of this model.")
    var cohort: String?
    @Option(name: .customLong("top-n"), help: "AS-norm: the N highest cohort scores per side.") var topN = 300
    @Option(help: "Multi-clip enrollment: lines 'MODEL CLIP CLIP …' (paths as in the trials); a trial side that is a MODEL is the mean of its clips' embeddings, as 'spkv enroll' builds a profile.")
    var enrollments: String?
    @Option(help: "MagNetO models: write an SVG scatter of cosine vs magnitude product per labelled trial (the paper's Figure 4).")
    var scatter: String?

    func validate() throws {
        try checkRange(threads, OptionRange.threads, "--threads")
        // AS-norm needs two scores for a deviation; the cohort file bounds it further when it is read.
        try checkRange(topN, 2...1_000_000, "--top-n")
    }

    func run() throws {
        try reportingErrors {
            let model = try SpeakerModel.load(path: modelOption.model)
            let list = try TrialList.read(path: trials)
            var scorer = TrialScoring(model: model)
            scorer.audioRoot = audioRoot
            scorer.threads = threads
            scorer.cachePath = embeddings
            scorer.cohortTopN = topN
            if let enrollments { scorer.enrollments = try Self.readEnrollments(enrollments) }
            if let cohort {
                guard let text = try? String(contentsOfFile: cohort, encoding: .utf8) else {
                    throw ReportedFailure("\(cohort): cannot read the cohort list")
                }
                // Each line is an audio file, or `spkv embed` output (`PATH v1 … vD`) of this model.
                for (index, line) in text.split(whereSeparator: \.isNewline).enumerated() {
                    let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                    guard let first = fields.first, !first.hasPrefix("#") else { continue }
                    if fields.count == 1 { scorer.cohortPaths.append(String(first)); continue }
                    let values = fields.dropFirst().compactMap { Float($0) }
                    guard values.count == fields.count - 1, values.count == model.embeddingSize, values.allSatisfy(\.isFinite) else {
                        throw ReportedFailure("\(cohort):\(index + 1): expected an audio path or 'PATH' plus \(model.embeddingSize) embedding values of this model")
                    }
                    scorer.cohortEmbeddings.append(Cosine.normalized(values))
                }
            }
            let progress = Progress("embedding")
            scorer.progress = progress.update
            let (scores, magnitudes) = try scorer.scoreWithDetails(list)
            if let scatter {
                guard let magnitudes else { throw ReportedFailure("--scatter needs a MagNetO model (spkv-train magneto); this one has no magnitudes") }
                let labelled = zip(list, magnitudes)
                let scale = try ScoringConfig.decode(json: model.metadata.scoring).fittedOn?["calibrator_scale"].flatMap(Double.init)
                let svg = Plots.magnitudeScatterSVG(targets: labelled.filter { $0.0.label == .target }.map(\.1),
                                                    nontargets: labelled.filter { $0.0.label == .nontarget }.map(\.1),
                                                    globalScale: scale, title: "MagNetO magnitudes: \((trials as NSString).lastPathComponent)")
                try TextOutput(path: scatter).write(svg)
            }
            try TextOutput(path: output).write(ScoreFile.format(scores))
        }
    }
}

extension Score {
    /// `MODEL CLIP CLIP …` per line ('#' comments and blank lines skipped); a model without clips or named
    /// twice is an error with its line.
    static func readEnrollments(_ path: String) throws -> [String: [String]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ReportedFailure("\(path): cannot read the enrollment list")
        }
        var models: [String: [String]] = [:]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard let model = fields.first, !model.hasPrefix("#") else { continue }
            guard fields.count >= 2 else { throw ReportedFailure("\(path):\(index + 1): expected 'MODEL CLIP [CLIP …]', got '\(line)'") }
            guard models[model] == nil else { throw ReportedFailure("\(path):\(index + 1): model '\(model)' is defined twice") }
            models[model] = Array(fields.dropFirst())
        }
        guard !models.isEmpty else { throw ReportedFailure("\(path): no enrollment model in it") }
        return models
    }
}
