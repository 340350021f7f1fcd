import Foundation
import SpeakerVerification
import SVFiles

/// `spkv-train magneto` as a library call (the command only parses its options): embeds every training utterance
/// of the corpus once with the frozen model (cached in `out`), leaves out `excludeSources`, optionally clusters the
/// unlabeled utterances and refines the embedding layer (stage 2, ECAPA-TDNN), fits the global linear calibrator,
/// trains the magnitude network (stage 3), and writes the MagNetO model (and `linearOutput` with the calibrator),
/// each loaded back before it is written.
public struct MagNetORun {
    /// The frozen model file, the corpus folder, the run folder (inputs cache, config.json, log.csv), the output.
    public var model: String, corpus: String, out: String, output: String
    public var linearOutput: String?
    public var config: MagNetOConfig
    /// Stage 2: AM-softmax steps on full-length utterances (0: skip) and their learning rate.
    public var refineSteps = 0
    public var refineLr = 0.1
    /// Sources (meta.tsv's engine column) left out, e.g. a package held out for evaluation.
    public var excludeSources: [String] = []
    /// With speaker labels: the unlabeled utterances as this many k-means clusters (0: each its own label).
    public var unlabeledClusters = 0
    /// Threads for embedding the corpus.
    public var threads = 2

    public init(model: String, corpus: String, out: String, output: String, config: MagNetOConfig) {
        self.model = model; self.corpus = corpus; self.out = out; self.output = output; self.config = config
    }

    /// Runs it; `log` gets the progress lines (`spkv-train magneto` prints them).
    public func run(log: @escaping @Sendable (String) -> Void) throws {
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
            log("inputs: \(inputs.count) utterances from \(cachePath)")
        } else {
            inputs = try MagNetOInputs.extract(paths: data.train.map { data.wavPath($0.path) }, model: frozen, threads: threads) { done, total in
                if done % 500 == 0 || done == total { log("embedded \(done)/\(total)") }
            }
            try inputs.write(path: cachePath, modelChecksum: frozen.checksum, corpusID: data.id)
            log(String(format: "inputs: %d utterances embedded in %.0f s (pooled width %d)", inputs.count, Date().timeIntervalSince(clock), inputs.pooledSize))
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
            log("left out \(data.train.count - kept.count) utterances of \(excludeSources.joined(separator: ", ")); \(kept.count) train")
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
            log("unlabeled: \(rows.count) utterances in \(unlabeledClusters) k-means clusters, labelled beside \(Set(labeled.indices.filter { labeled[$0] }.map { speakerLabels[$0] }).count) speakers")
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
            log(String(format: "full-length refinement: %d steps, AM-softmax loss %.3f → %.3f", refineSteps, r.firstLoss, r.lastLoss))
        }

        let pairLabels: [Int]
        switch config.labels {
        case .speakers: pairLabels = speakerLabels
        case .clusters:
            let k = config.clusters > 0 ? config.clusters : Set(speakerLabels).count
            guard k <= inputs.count else { throw TrainingError.config(key: "clusters", reason: "\(k) clusters for \(inputs.count) utterances") }
            pairLabels = MagNetOTrainer.clusterLabels(inputs: inputs, clusters: k, seed: config.seed)
            let nmi = ClusterMetrics.normalizedMutualInformation(pairLabels, speakerLabels)
            log(String(format: "clusters: k = %d, NMI vs speakers %.3f (diagnostic only; labels unused for training)", k, nmi))
        }

        clock = Date()
        let trainer = try MagNetOTrainer(config: config, inputs: inputs, labels: pairLabels)
        let c = trainer.calibrator
        log("global calibrator: llr = \(c.scale) · cos + \(c.offset) (prior \(config.prior)); magnitude network "
              + "\(inputs.pooledSize)→\((config.hiddenWidths(pooledSize: inputs.pooledSize) + [1]).map(String.init).joined(separator: "→"))")
        let probe = (0..<20).map { 1_000_000 + $0 }
        let before = probe.map(trainer.loss(step:)).reduce(0, +) / Double(probe.count)
        var rows = ["step,loss,lr,mean_magnitude"]
        trainer.run { row in
            rows.append(String(format: "%d,%.6f,%g,%.4f", row.step, row.loss, row.learningRate, row.meanMagnitude))
            if row.step % 500 == 0 || row.step == config.steps {
                log(String(format: "step %5d  loss %.5f  lr %g  mean magnitude %.3f", row.step, row.loss, row.learningRate, row.meanMagnitude))
            }
        }
        let after = probe.map(trainer.loss(step:)).reduce(0, +) / Double(probe.count)
        log(String(format: "loss on 20 fresh batches: %.5f at the calibrator's solution, %.5f trained (%.0f s)", before, after, Date().timeIntervalSince(clock)))
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
        log("wrote \(output) (MagNetO, offset \(trainer.offsetValue))")
        if let linearOutput {
            var linear = base
            linear.metadata.scoring = ScoringConfig.linear(c, fittedOn: ["kind": "cosine", "labels": config.labels.rawValue,
                                                                      "utterances": "\(inputs.count)", "corpus_id": data.id]).jsonString()
            try writeChecked(linear, to: linearOutput)
            log("wrote \(linearOutput) (global linear calibrator)")
        }
    }

    /// Loads the file back before writing it, so a model that would not load is never written.
    private func writeChecked(_ file: ModelFile, to path: String) throws {
        do {
            _ = try SpeakerModel(file: file)   // checks the scoring back end against the network too
            try file.write(path: path)
        } catch { throw TrainingError.run("cannot write \(path): \(error)") }
    }
}
