import ArgumentParser
import Foundation
import SVTraining
import SpeakerVerification
import SVFiles

extension MagNetOConfig.Labels: ExpressibleByArgument {}

/// `spkv-train magneto`: MagNetO on a frozen model (`MagNetORun` does the work).
struct MagNetOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "magneto",
        abstract: "Train a MagNetO magnitude network and offset on a frozen model; write a model whose scores are calibrated LLRs.",
        discussion: """
        Embeds every training utterance of the corpus once with the frozen model (cached in --out), fits the global \
        linear calibrator on all pairs, then trains the magnitude network from that calibrator's solution with the \
        prior-weighted pair BCE (hardest non-target pairs only). Pair labels are the corpus speakers, or with \
        --labels clusters spherical k-means clusters of the embeddings (no speaker labels used). --linear-output also \
        writes the model with the global calibrator, fitted on the same pairs, for comparison.
        """)

    @Option(help: "Frozen model file (spkv-train export, spkv import).") var model: String
    @Option(help: "Corpus folder (meta.tsv, wav/).") var corpus: String
    @Option(help: "Run folder: inputs cache, config.json, log.csv.") var out: String
    @Option(help: "MagNetO model file to write.") var output: String
    @Option(help: "Also write the model with the global linear calibrator fitted on the same pairs.") var linearOutput: String?
    @Option(help: "Pair labels: speakers | clusters.") var labels = MagNetOConfig.Labels.speakers
    @Option(help: "k-means clusters for --labels clusters (0: as many as training speakers).") var clusters = 0
    @Option(help: "Table 3 topology scaled to the pooled width: 1, 2 or 3.") var topology = 2
    @Option(help: "Hidden widths, comma-separated (overrides --topology).") var hidden: String?
    @Option(help: "Speakers (or clusters) per batch.") var speakersPerBatch = 50
    @Option(help: "Utterances per speaker in a batch.") var perSpeaker = 8
    @Option(help: "SGD steps.") var steps = 3000
    @Option(help: "Initial learning rate (momentum 0.9).") var lr = 0.01
    @Option(help: "Halve the learning rate every this many steps.") var decaySteps = 600
    @Option(help: "Target prior α.") var prior = 0.01
    @Option(help: "Share of the highest non-target scores kept.") var hardFraction = 0.4
    @Option(help: "Stage 2 first: retrain the embedding layer on full-length utterances with AM-softmax for this many steps (speaker labels; 0: skip).")
    var refineSteps = 0
    @Option(help: "Stage 2 learning rate (SGD momentum 0.9, halved every --refine-steps/5).") var refineLr = 0.1
    @Option(name: .customLong("exclude-source"), help: "Leave out the utterances of this source (meta.tsv's engine column, e.g. a package held out for evaluation); repeatable.")
    var excludeSources: [String] = []
    @Option(name: .customLong("unlabeled-clusters"), help: "With --labels speakers: put the corpus's unlabeled utterances (speaker '-', e.g. game speech) into this many spherical k-means clusters and use them as speakers too (0: each is its own label, so never a target).")
    var unlabeledClusters = 0
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(help: "Threads for embedding the corpus.") var threads = 2

    func validate() throws {
        try checkRange(threads, 1...256, "--threads")
        try checkRange(clusters, 0...1_000_000, "--clusters")
        try checkRange(topology, 1...3, "--topology")
        if let hidden {
            let widths = hidden.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !widths.isEmpty, widths.allSatisfy({ $0.map { (1...16_384).contains($0) } ?? false }) else {
                throw ValidationError("--hidden: widths from 1 to 16384, comma-separated (e.g. 154,154); got \(hidden)")
            }
        }
        try checkRange(speakersPerBatch, 2...10_000, "--speakers-per-batch")
        try checkRange(perSpeaker, 2...1_000, "--per-speaker")
        try checkRange(steps, 1...10_000_000, "--steps")
        try checkRange(lr, 1e-9...100, "--lr")
        try checkRange(decaySteps, 1...10_000_000, "--decay-steps")
        guard prior > 0, prior < 1 else { throw ValidationError("--prior must be between 0 and 1 (exclusive); got \(prior)") }
        guard hardFraction > 0, hardFraction <= 1 else { throw ValidationError("--hard-fraction must be in (0, 1]; got \(hardFraction)") }
        try checkRange(refineSteps, 0...10_000_000, "--refine-steps")
        try checkRange(unlabeledClusters, 0...1_000_000, "--unlabeled-clusters")
        if unlabeledClusters > 0, labels != .speakers {
            throw ValidationError("--unlabeled-clusters adds clusters beside speaker labels; with --labels clusters every utterance is clustered already")
        }
        try checkRange(refineLr, 1e-9...100, "--refine-lr")
    }

    func run() throws {
        var config = MagNetOConfig()
        config.labels = labels; config.clusters = clusters; config.topology = topology
        if let hidden {
            let widths = hidden.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !widths.isEmpty, widths.allSatisfy({ $0 != nil }) else { throw TrainingError.config(key: "hidden", reason: "expected widths like 154,154") }
            config.hidden = widths.map { $0! }
        }
        config.speakersPerBatch = speakersPerBatch; config.perSpeaker = perSpeaker; config.steps = steps
        config.learningRate = lr; config.decaySteps = decaySteps; config.prior = prior; config.hardFraction = hardFraction
        config.seed = seed
        var run = MagNetORun(model: model, corpus: corpus, out: out, output: output, config: config)
        run.linearOutput = linearOutput; run.refineSteps = refineSteps; run.refineLr = refineLr
        run.excludeSources = excludeSources; run.unlabeledClusters = unlabeledClusters; run.threads = threads
        try run.run { line in
            if line.hasPrefix("embedded ") { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line) }
        }
    }
}
