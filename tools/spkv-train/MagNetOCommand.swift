import ArgumentParser
import Foundation
import SVTraining
import SpeakerVerification
import SVFiles

/// `spkv-train magneto`: MagNetO stage 3 on a frozen model.
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
    @Option(help: "Pair labels: speakers | clusters.") var labels = "speakers"
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
        if unlabeledClusters > 0, labels != "speakers" {
            throw ValidationError("--unlabeled-clusters adds clusters beside speaker labels; with --labels clusters every utterance is clustered already")
        }
        try checkRange(refineLr, 1e-9...100, "--refine-lr")
    }

    func run() throws {
        var config = MagNetOConfig()
        guard let kind = MagNetOConfig.Labels(rawValue: labels) else {
            throw TrainingError.config(key: "labels", reason: "must be speakers or clusters (got '\(labels)')")
        }
        config.labels = kind; config.clusters = clusters; config.topology = topology
        if let hidden {
            let widths = hidden.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !widths.isEmpty, widths.allSatisfy({ $0 != nil }) else { throw TrainingError.config(key: "hidden", reason: "expected widths like 154,154") }
            config.hidden = widths.map { $0! }
        }
        config.speakersPerBatch = speakersPerBatch; config.perSpeaker = perSpeaker; config.steps = steps
        config.learningRate = lr; config.decaySteps = decaySteps; config.prior = prior; config.hardFraction = hardFraction
        config.seed = seed
        try config.check()

        let frozen: SpeakerModel
        do { frozen = try SpeakerModel.load(path: model) } catch { throw TrainingError.run("\(error)") }
        guard frozen.magnitudeNetwork == nil else { throw TrainingError.run("\(model) already has a MagNetO network; start from the plain model") }
        if refineSteps > 0, frozen.ecapaConfig == nil {
            throw TrainingError.run("--refine-steps retrains ECAPA-TDNN's embedding layer; \(model) is a \(frozen.encoder.architecture) model (train stage 3 alone)")
        }
        let data = try TrainingCorpus(path: corpus)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)

        // Stage inputs: cached per (model, corpus).
        let cachePath = "\(out)/inputs.safetensors"
        var clock = Date()
        var inputs: MagNetOInputs
        if let cached = try MagNetOInputs.readCache(path: cachePath, modelChecksum: frozen.checksum, corpusID: data.id, count: data.train.count) {
            inputs = cached
            print("inputs: \(inputs.count) utterances from \(cachePath)")
        } else {
            inputs = try MagNetOInputs.extract(paths: data.train.map { data.wavPath($0.path) }, model: frozen, threads: threads) { done, total in
                if done % 500 == 0 || done == total { FileHandle.standardError.write(Data("embedded \(done)/\(total)\n".utf8)) }
            }
            try inputs.write(path: cachePath, modelChecksum: frozen.checksum, corpusID: data.id)
            print(String(format: "inputs: %d utterances embedded in %.0f s (pooled width %d)", inputs.count, Date().timeIntervalSince(clock), inputs.pooledSize))
        }

        // Held-out sources leave after extraction, so one cache serves every held-out choice.
        var speakerLabels = data.labels, labeled = data.labeled
        if !excludeSources.isEmpty {
            let known = Set(data.train.map(\.engine))
            for source in excludeSources where !known.contains(source) {
                throw TrainingError.config(key: "exclude-source", reason: "no utterance of \(corpus) comes from '\(source)' (sources: \(known.sorted().joined(separator: ", ")))")
            }
            let kept = data.train.indices.filter { !excludeSources.contains(data.train[$0].engine) }
            inputs = inputs.subset(kept)
            speakerLabels = kept.map { data.labels[$0] }
            labeled = kept.map { data.labeled[$0] }
            print("left out \(data.train.count - kept.count) utterances of \(excludeSources.joined(separator: ", ")); \(kept.count) train")
        }
        // Unlabeled utterances (e.g. game speech) as k-means clusters of their own, beside the labelled speakers.
        if unlabeledClusters > 0 {
            let rows = labeled.indices.filter { !labeled[$0] }
            guard rows.count >= unlabeledClusters else {
                throw TrainingError.config(key: "unlabeled-clusters", reason: "\(unlabeledClusters) clusters for \(rows.count) unlabeled utterances")
            }
            let clusters = MagNetOTrainer.clusterLabels(inputs: inputs.subset(rows), clusters: unlabeledClusters, seed: config.seed)
            let base = (speakerLabels.max() ?? -1) + 1
            for (row, cluster) in zip(rows, clusters) { speakerLabels[row] = base + cluster }
            print("unlabeled: \(rows.count) utterances in \(unlabeledClusters) k-means clusters, labelled beside \(Set(labeled.indices.filter { labeled[$0] }.map { speakerLabels[$0] }).count) speakers")
        }

        // Dense label indices again (stage 2 has one class per label).
        let dense = Dictionary(uniqueKeysWithValues: Set(speakerLabels).sorted().enumerated().map { ($1, $0) })
        speakerLabels = speakerLabels.map { dense[$0]! }

        // Stage 2 (optional): the refined embedding layer replaces the model's, for both output files.
        var file: ModelFile
        do { file = try ModelFile.read(path: model) } catch { throw TrainingError.run("\(model): \(error)") }
        var refinement: FullLengthRefinement?
        if refineSteps > 0 {
            let frozenConfig = frozen.ecapaConfig!
            let prefix = frozenConfig.embeddingLayerName
            let w: [Float], b: [Float]
            do { w = try file.tensor("\(prefix).weight").floats().array; b = try file.tensor("\(prefix).bias").floats().array } catch {
                throw TrainingError.run("\(model): \(error)")
            }
            var settings = FullLengthRefinement.Settings()
            settings.steps = refineSteps; settings.learningRate = refineLr; settings.decaySteps = max(1, refineSteps / 5)
            let r = try FullLengthRefinement(inputs: inputs, labels: speakerLabels, weight: w, bias: b, settings: settings)
            try r.write(into: &file, config: frozenConfig)
            inputs = r.apply(to: inputs)
            refinement = r
            print(String(format: "full-length refinement: %d steps, AM-softmax loss %.3f → %.3f", refineSteps, r.firstLoss, r.lastLoss))
        }

        let pairLabels: [Int]
        switch config.labels {
        case .speakers: pairLabels = speakerLabels
        case .clusters:
            let k = config.clusters > 0 ? config.clusters : Set(speakerLabels).count
            guard k <= inputs.count else { throw TrainingError.config(key: "clusters", reason: "\(k) clusters for \(inputs.count) utterances") }
            pairLabels = MagNetOTrainer.clusterLabels(inputs: inputs, clusters: k, seed: config.seed)
            let nmi = ClusterMetrics.normalizedMutualInformation(pairLabels, speakerLabels)
            print(String(format: "clusters: k = %d, NMI vs speakers %.3f (diagnostic only; labels unused for training)", k, nmi))
        }

        clock = Date()
        let trainer = try MagNetOTrainer(config: config, inputs: inputs, labels: pairLabels)
        let c = trainer.calibrator
        print("global calibrator: llr = \(c.scale) · cos + \(c.offset) (prior \(config.prior)); magnitude network "
              + "\(inputs.pooledSize)→\((config.hiddenWidths(pooledSize: inputs.pooledSize) + [1]).map(String.init).joined(separator: "→"))")
        let probe = (0..<20).map { 1_000_000 + $0 }
        let before = probe.map(trainer.loss(step:)).reduce(0, +) / Double(probe.count)
        var rows = ["step,loss,lr,mean_magnitude"]
        trainer.run { row in
            rows.append(String(format: "%d,%.6f,%g,%.4f", row.step, row.loss, row.learningRate, row.meanMagnitude))
            if row.step % 500 == 0 || row.step == config.steps {
                print(String(format: "step %5d  loss %.5f  lr %g  mean magnitude %.3f", row.step, row.loss, row.learningRate, row.meanMagnitude))
            }
        }
        let after = probe.map(trainer.loss(step:)).reduce(0, +) / Double(probe.count)
        print(String(format: "loss on 20 fresh batches: %.5f at the calibrator's solution, %.5f trained (%.0f s)", before, after, Date().timeIntervalSince(clock)))
        try AtomicFile.write(rows.joined(separator: "\n") + "\n", to: "\(out)/log.csv")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write(encoder.encode(config), to: "\(out)/config.json")

        // Model files: the frozen model's tensors plus the network; the offset in spkv.scoring.
        let provenance = ["kind": "cosine", "labels": config.labels.rawValue, "pair_labels": "\(Set(pairLabels).count)",
                          "utterances": "\(inputs.count)", "corpus_id": data.id, "steps": "\(config.steps)",
                          "excluded_sources": excludeSources.joined(separator: ","), "unlabeled_clusters": "\(unlabeledClusters)",
                          "calibrator_scale": "\(c.scale)", "calibrator_offset": "\(c.offset)",
                          "loss_calibrator": String(format: "%.6f", before), "loss_trained": String(format: "%.6f", after),
                          "refine_steps": "\(refinement != nil ? refineSteps : 0)"]
        let base = file
        do { for t in try trainer.network().tensors() { file.tensors[t.name] = t } } catch { throw TrainingError.run("\(error)") }
        file.metadata.scoring = ScoringConfig.magneto(offset: trainer.offsetValue, prior: config.prior, fittedOn: provenance).jsonString()
        try writeChecked(file, to: output)
        print("wrote \(output) (MagNetO, offset \(trainer.offsetValue))")
        if let linearOutput {
            var linear = base
            linear.metadata.scoring = ScoringConfig.linear(c, fittedOn: ["kind": "cosine", "labels": config.labels.rawValue,
                                                                      "utterances": "\(inputs.count)", "corpus_id": data.id]).jsonString()
            try writeChecked(linear, to: linearOutput)
            print("wrote \(linearOutput) (global linear calibrator)")
        }
    }

    /// Loads the file back before writing it, so a model that would not load is never written.
    private func writeChecked(_ file: ModelFile, to path: String) throws {
        do {
            let m = try SpeakerModel(file: file)
            _ = try ScoringBackend(model: m)
            try file.write(path: path)
        } catch { throw TrainingError.run("cannot write \(path): \(error)") }
    }
}
