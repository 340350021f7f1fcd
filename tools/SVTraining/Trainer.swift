import Foundation
import SVAutograd
import SVCorpus
import SVFeatures
import SVKernels
import SVScoring
import SpeakerVerification
import SVFiles

/// A training run in a run folder: config.json, log.csv, checkpoint-epochNNN.safetensors and
/// checkpoint-last. Everything random derives from (seed, epoch, index), and a checkpoint holds all
/// mutable state, so a resumed run gives the same parameters and log rows as an uninterrupted one.
public final class Trainer {
    public let config: TrainingConfig
    public let runDirectory: String
    public let corpus: TrainingCorpus
    /// Model, classifier and optimiser, and the optimisation step.
    public let stepper: TrainingStep
    public var model: ECAPATrainingModel { stepper.model }
    /// AAM-softmax class weights (speakers, E), supervised only.
    public var classifier: Variable? { stepper.classifier }
    public var optimizer: Adam { stepper.optimizer }
    public private(set) var epochsDone = 0
    public private(set) var globalStep = 0
    public private(set) var log: [TrainingLogRow] = []
    /// Progress line on stderr (the CLI sets it when stderr is a terminal).
    public var showProgress = false
    /// Called after each epoch's checkpoint (tests stop runs with it).
    public var onEpoch: ((TrainingLogRow) -> Void)?
    /// Corpora of earlier stages other than this run's (`TrainingCheckpoint.earlierCorpora`), carried into every checkpoint.
    private var earlierCorpora = ""
    /// Dev-utterance features, computed at the first validation.
    private var devFeatures: [String: FeatureMatrix] = [:]

    /// A new run (`resume` false: the folder must hold no run) or the continuation of the run in the
    /// folder from its checkpoint-last; `config.epochs` and `threads` may differ from the checkpoint's.
    /// `embeddingCache`: a folder of frozen-model embeddings shared between runs (`FrozenEmbeddingTable`); nil: the run folder's only.
    public init(config: TrainingConfig, runDirectory: String, resume: Bool, embeddingCache: String? = nil) throws(TrainingError) {
        let fm = FileManager.default
        var config = config
        var checkpoint: TrainingCheckpoint?
        if resume {
            let path = try TrainingCheckpoint.lastPath(runDirectory: runDirectory)
            let ck = try TrainingCheckpoint.read(path: path)
            // epochs and threads may change; so may the corpus path when meta.tsv is the same (checked below).
            var a = ck.config, b = config
            a.epochs = 0; b.epochs = 0; a.threads = 0; b.threads = 0; a.corpus = ""; b.corpus = ""
            guard a == b else {
                throw .checkpoint(path: path, reason: "its config differs from this run's (only epochs, threads and the corpus "
                                  + "location may change on --resume)")
            }
            let epochs = config.epochs, threads = config.threads, corpusPath = config.corpus
            config = ck.config
            config.epochs = epochs; config.threads = threads; config.corpus = corpusPath
            checkpoint = ck
        } else if fm.fileExists(atPath: "\(runDirectory)/checkpoint-last") {
            throw .run("\(runDirectory) already holds a run (checkpoint-last); use --resume or another --out")
        } else if !config.initFrom.isEmpty {
            checkpoint = try Self.baseCheckpoint(config.initFrom, for: config)
        }
        try config.check()
        guard !config.corpus.isEmpty else { throw .config(key: "corpus", reason: "no corpus folder given") }
        // Absolute, so that export and ssps-report find the corpus from any working directory.
        config.corpus = URL(fileURLWithPath: config.corpus).standardizedFileURL.path
        if config.ssps.usesReferenceModel {
            config.ssps.referenceModel = URL(fileURLWithPath: config.ssps.referenceModel).standardizedFileURL.path
        }
        if config.distill.isEnabled {
            config.distill.teacherModel = URL(fileURLWithPath: config.distill.teacherModel).standardizedFileURL.path
        }
        self.config = config
        self.runDirectory = runDirectory
        corpus = try TrainingCorpus(path: config.corpus)
        if corpus.unlabeledCount > 0, [.supervised, .simclrOracle, .dinoOracle].contains(config.method) {
            throw .config(key: "method", reason: "\(config.method.rawValue) needs speaker labels, but \(corpus.unlabeledCount) training "
                          + "utterances are unlabeled (speaker '-'); use simclr or dino")
        }
        guard corpus.train.count >= config.batchSize else {
            throw .config(key: "batch_size", reason: "\(config.batchSize) is larger than the \(corpus.train.count) training utterances")
        }
        // A resumed run must see the same corpus; a stage (init_from) may train its base's weights on another one,
        // except a supervised stage: its classifier's rows are the base corpus's speakers.
        if let checkpoint, !checkpoint.corpusID.isEmpty, checkpoint.corpusID != corpus.id {
            if resume {
                throw .corpus(path: config.corpus, reason: "meta.tsv changed since the checkpoint (id \(corpus.id), checkpoint \(checkpoint.corpusID))")
            }
            if config.method == .supervised {
                throw .config(key: "init_from", reason: "a supervised stage needs its base's corpus (the classifier's rows are its "
                              + "speakers; base corpus id \(checkpoint.corpusID), this one \(corpus.id))")
            }
            earlierCorpora = Self.earlierCorpora(adding: checkpoint)
            FileHandle.standardError.write(Data(("stage: the base trained on \(checkpoint.config.corpus) (corpus id \(checkpoint.corpusID)); "
                + "this stage trains on \(config.corpus) (\(corpus.id)); SSPS queues, if any, are filled anew\n").utf8))
        } else if let checkpoint {
            earlierCorpora = checkpoint.earlierCorpora
        }
        do { try fm.createDirectory(atPath: runDirectory, withIntermediateDirectories: true) } catch {
            throw .run("cannot create \(runDirectory): \(error.localizedDescription)")
        }
        // Reference-guided SSPS: the frozen model's ŷ of every utterance, embedded once (or read from the cache).
        var references: FrozenEmbeddingTable?
        if config.ssps.enabled && config.ssps.usesReferenceModel {
            references = try FrozenEmbeddingTable.load(modelPath: config.ssps.referenceModel, corpus: corpus, runDirectory: runDirectory,
                                                     threads: config.threads, sharedCache: embeddingCache) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
        // Distillation: the teacher's embedding of every clean utterance, likewise once.
        var teacher: FrozenEmbeddingTable?
        if config.distill.isEnabled {
            teacher = try FrozenEmbeddingTable.load(modelPath: config.distill.teacherModel, corpus: corpus, runDirectory: runDirectory,
                                                    threads: config.threads, role: .distillTeacher, sharedCache: embeddingCache) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
        stepper = TrainingStep(config: config, speakerCount: corpus.speakers.count,
                               referenceCapacity: corpus.train.count / config.batchSize * config.batchSize,
                               stepsPerEpoch: corpus.train.count / config.batchSize, references: references, teacher: teacher)
        if let checkpoint { try restore(checkpoint, stage: !resume) }
        // A QAT run that does not continue a QAT checkpoint starts its steps from calibration.
        if config.qat.enabled && !(checkpoint?.tensors.keys.contains { $0.hasSuffix(".input_log_scale") } ?? false) {
            try calibrateQuantizationSteps()
        }
        do { try AtomicFile.write(config.json + "\n", to: "\(runDirectory)/config.json") } catch {
            throw .run(error.description)
        }
        try writeLog()
    }

    /// The checkpoint a new stage starts from (`init_from`: a checkpoint or a run folder). Its config
    /// must be this one's except epochs, threads, seed, corpus (location or content), SSPS and distillation settings and `init_from`
    /// (and SimCLR ↔ oracle-positive SimCLR).
    /// The seed may differ so that two stages from one base are independent draws (crops, order,
    /// augmentation), e.g. to repeat an SSPS-vs-baseline comparison; the base's weights are loaded either way.
    static func baseCheckpoint(_ from: String, for config: TrainingConfig) throws(TrainingError) -> TrainingCheckpoint {
        let path = try TrainingCheckpoint.resolve(from)
        let ck = try TrainingCheckpoint.read(path: path)
        var a = ck.config, b = config
        for c in [\TrainingConfig.epochs, \TrainingConfig.threads] { a[keyPath: c] = 0; b[keyPath: c] = 0 }
        a.seed = 0; b.seed = 0
        a.corpus = ""; b.corpus = ""; a.ssps = SSPSConfig(); b.ssps = SSPSConfig(); a.initFrom = ""; b.initFrom = ""
        a.qat = QATConfig(); b.qat = QATConfig()
        // A stage may add distillation (e.g. to a SimCLR base): its head, if any, starts fresh.
        a.distill = DistillConfig(); b.distill = DistillConfig()
        // SimCLR and oracle-positive SimCLR train the same network on the same loss (only the positive's source
        // differs), so either may continue the other: the oracle upper bound of an SSPS stage starts from its base.
        if [a.method, b.method].allSatisfy({ $0 == .simclr || $0 == .simclrOracle }) { a.method = .simclr; b.method = .simclr }
        // A distillation stage trains the same network on the teacher's targets instead of a contrastive loss, so it
        // may continue a SimCLR base: distillation and SimCLR stages compare from one starting point.
        if b.method == .distill, [.simclr, .simclrOracle, .distill].contains(a.method) { a.method = .distill }
        // A QAT stage may fine-tune with its own learning-rate schedule.
        if config.qat.enabled { a.learningRate = 0; b.learningRate = 0; a.lrDecay = 0; b.lrDecay = 0; a.lrStepEpochs = 0; b.lrStepEpochs = 0 }
        guard a == b else {
            throw .checkpoint(path: path, reason: "init_from: its config differs from this run's beyond epochs, threads, seed, corpus, "
                              + "ssps.*, distill.*, qat.* (and for QAT the lr schedule), simclr ↔ simclr-oracle, simclr → distill and init_from "
                              + "(base \(ck.config.compactJSON))")
        }
        guard ck.epoch < config.epochs else {
            throw .config(key: "epochs", reason: "\(config.epochs) leaves nothing to train after the base checkpoint's epoch \(ck.epoch)")
        }
        return ck
    }

    private var stateVariables: [(String, Variable)] {
        model.parameters.map { ("model.\($0.name)", $0) } + model.buffers.map { ("model.\($0.name)", $0) }
            + (classifier.map { [("classifier.weight", $0)] } ?? []) + (stepper.distillHead.map { [("distill.head.weight", $0)] } ?? [])
            + (stepper.dino?.namedState ?? [])
    }

    /// The checkpoint name of an optimised parameter (its Adam moments are stored under it).
    private func parameterKey(_ p: Variable) -> String {
        if p === classifier { return "classifier.weight" }
        if p === stepper.distillHead { return "distill.head.weight" }
        return "model.\(p.name)"
    }

    /// `stage`: the checkpoint is a base run's (`init_from`): the QAT steps it cannot hold are set
    /// afterwards by calibration, with fresh Adam moments.
    private func restore(_ ck: TrainingCheckpoint, stage: Bool = false) throws(TrainingError) {
        var fresh: Set<String> = stage && config.qat.enabled && !ck.tensors.keys.contains(where: { $0.hasSuffix(".input_log_scale") })
            ? Set(model.inputLogScales.values.map { "model.\($0.name)" }) : []
        if stage, stepper.distillHead != nil, ck.tensors["distill.head.weight"] == nil { fresh.insert("distill.head.weight") }
        for (name, v) in stateVariables where !fresh.contains(name) {
            guard let values = ck.tensors[name], values.count == v.count else {
                throw .checkpoint(path: runDirectory, reason: "tensor \(name) is missing or has the wrong size")
            }
            v.value.values = values
        }
        for (k, p) in optimizer.parameters.enumerated() {
            let key = parameterKey(p)
            // Parameters new in this stage start their own Adam clock at the base's step count.
            if fresh.contains(key) { optimizer.stepOffsets[k] = ck.adamStep; continue }
            if let t0 = ck.tensors["adam.t0.\(key)"]?.first { optimizer.stepOffsets[k] = Int(t0) }
            guard let m = ck.tensors["adam.m.\(key)"], let v = ck.tensors["adam.v.\(key)"], m.count == p.count, v.count == p.count else {
                throw .checkpoint(path: runDirectory, reason: "Adam moments of \(key) are missing or have the wrong size")
            }
            optimizer.firstMoments[k] = m
            optimizer.secondMoments[k] = v
        }
        optimizer.stepCount = ck.adamStep
        if let dino = stepper.dino {
            // SGD momentum buffers; absent = not yet created (a parameter without gradients so far).
            for (k, key) in dino.optimizerNames.enumerated() {
                guard let buf = ck.tensors["sgd.momentum.\(key)"] else { dino.optimizer.momentumBuffers[k] = nil; continue }
                guard buf.count == dino.optimizer.parameters[k].count else {
                    throw .checkpoint(path: runDirectory, reason: "SGD momentum of \(key) has the wrong size")
                }
                dino.optimizer.momentumBuffers[k] = buf
            }
        }
        // Queues hold the base corpus's utterance indices: a stage on another corpus fills them anew.
        if let memory = stepper.memory, !(stage && ck.corpusID != corpus.id) { _ = try memory.restore(ck.tensors, path: runDirectory) }
        epochsDone = ck.epoch
        globalStep = ck.globalStep
        log = ck.log
    }

    /// Initial QAT steps: post-training calibration (MSE clipping) of the current weights, exported
    /// to the inference core, on evenly spaced training utterances.
    func calibrateQuantizationSteps() throws(TrainingError) {
        // Under the run's thread count, like training: calibrated at another count, the steps (and so the
        // whole QAT run) would differ in their last bits between a run and its repeat.
        try BLAS.withThreads(config.threads) { () throws(TrainingError) in try calibrateQuantizationStepsNow() }
    }

    private func calibrateQuantizationStepsNow() throws(TrainingError) {
        let count = min(config.qat.calibrationUtterances, corpus.train.count)
        let paths = (0..<count).map { corpus.wavPath(corpus.train[$0 * corpus.train.count / count].path) }
        do {
            let file = try ModelExport.modelFile(model, features: config.featureConfig,
                                                 provenance: TrainingProvenance(method: config.methodName), producer: "spkv-train")
            let calibration = try PostTrainingQuantization.calibrate(model: try SpeakerModel(file: file), paths: paths, method: .mse)
            model.setInputScales(calibration.inputScales)
        } catch {
            throw .run("QAT calibration of the input steps failed: \(error)")
        }
    }

    public func checkpoint() -> TrainingCheckpoint {
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for (name, v) in stateVariables { tensors[name] = (v.shape, v.value.values) }
        for (k, p) in optimizer.parameters.enumerated() {
            let key = parameterKey(p)
            tensors["adam.m.\(key)"] = (p.shape, optimizer.firstMoments[k])
            tensors["adam.v.\(key)"] = (p.shape, optimizer.secondMoments[k])
            if optimizer.stepOffsets[k] != 0 { tensors["adam.t0.\(key)"] = ([1], [Float(optimizer.stepOffsets[k])]) }
        }
        if let memory = stepper.memory { tensors.merge(memory.tensors) { a, _ in a } }
        if let dino = stepper.dino {
            for (k, key) in dino.optimizerNames.enumerated() {
                if let buf = dino.optimizer.momentumBuffers[k] { tensors["sgd.momentum.\(key)"] = (dino.optimizer.parameters[k].shape, buf) }
            }
        }
        var ck = TrainingCheckpoint(config: config, epoch: epochsDone, globalStep: globalStep, adamStep: optimizer.stepCount,
                                    log: log, corpusID: corpus.id, tensors: tensors)
        ck.earlierCorpora = earlierCorpora
        return ck
    }

    /// `base`'s earlier corpora plus its own (path and, when readable here, sources), as checkpoint JSON.
    static func earlierCorpora(adding base: TrainingCheckpoint) -> String {
        var all = (try? JSONSerialization.jsonObject(with: Data(base.earlierCorpora.utf8))) as? [String: Any] ?? [:]
        var entry: [String: Any] = ["corpus": base.config.corpus]
        if let sources = ModelExport.corpusSources(path: base.config.corpus, id: base.corpusID),
           let object = try? JSONSerialization.jsonObject(with: Data(sources.utf8)) { entry["sources"] = object }
        all[base.corpusID] = entry
        guard let data = try? JSONSerialization.data(withJSONObject: all, options: [.sortedKeys]) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    private func writeLog() throws(TrainingError) {
        let text = ([TrainingLogRow.header] + log.map(\.csv)).joined(separator: "\n") + "\n"
        do { try AtomicFile.write(text, to: "\(runDirectory)/log.csv") } catch {
            throw .run(error.description)
        }
        let svg = TrainingPlot.svg(log, title: "\(config.methodName), C=\(config.model.blockChannels), \((config.corpus as NSString).lastPathComponent)")
        try? AtomicFile.write(svg, to: "\(runDirectory)/training.svg")
    }

    func makeAugmenter() throws(TrainingError) -> Augmenter? {
        guard config.augmentation != .none else { return nil }
        // Babble from up to 24 training utterances (evenly spread), generated rooms, noise and music.
        // The bank depends only on (seed, corpus), so it is made once per process (tests, resumes).
        let key = "\(config.seed)|\(corpus.path)|\(corpus.id)"
        if let bank = Self.bankCache.withLock({ $0[key] }) { return Augmenter(bank: bank, strategy: config.augmentation) }
        let picks = stride(from: 0, to: corpus.train.count, by: max(1, corpus.train.count / 24)).prefix(24)
        var speech: [[Float]] = []
        for i in picks { speech.append(try corpus.readAudio(corpus.train[i].path)) }
        let bank = AugmentationBank.generate(seed: config.seed, rirCount: 50, noiseCount: 24, musicCount: 12,
                                             speechCount: 12, speech: speech)
        Self.bankCache.withLock { $0[key] = bank }
        return Augmenter(bank: bank, strategy: config.augmentation)
    }

    /// Trains until `config.epochs` epochs are done (checkpointing each), returns the log.
    @discardableResult
    public func run() throws(TrainingError) -> [TrainingLogRow] {
        try BLAS.withThreads(config.threads) { () throws(TrainingError) in try trainEpochs() }
    }

    private func trainEpochs() throws(TrainingError) -> [TrainingLogRow] {
        let planner = BatchPlanner(config: config, corpus: corpus, augmenter: try makeAugmenter())
        let steps = planner.stepsPerEpoch
        let runStart = Date()
        var epochsThisRun = 0
        while epochsDone < config.epochs {
            let epoch = epochsDone
            var lr = stepper.learningRate(epoch: epoch)
            optimizer.learningRate = lr
            let start = Date()
            let sspsEpoch = try prepareSSPS(planner: planner, epoch: epoch, steps: steps)
            var draws = SSPSDrawCounts()
            let producer = try BatchProducer(planner: planner, epoch: epoch, steps: 0..<steps)
            defer { producer.cancel() }
            var lossSum = 0.0, audio = 0.0
            for s in 0..<steps {
                let batch = try producer.next()
                let (loss, picks) = stepper.step(batch, epoch: epoch, stepInEpoch: s)
                if let memory = stepper.memory { draws.add(anchors: batch.indices, picks: picks, memory: memory, corpus: corpus) }
                guard loss.isFinite else { throw .run("epoch \(epoch + 1) step \(s + 1): the loss is \(loss); lower lr or check the data") }
                lossSum += Double(loss); audio += batch.audioSeconds
                globalStep += 1
                if showProgress {
                    let elapsed = Date().timeIntervalSince(runStart)
                    let doneSteps = epochsThisRun * steps + s + 1
                    let remaining = (config.epochs - epoch) * steps - (s + 1)
                    let eta = elapsed / Double(doneSteps) * Double(remaining)
                    let line = String(format: "\repoch %d/%d step %d/%d loss %.4f  %.1f audio-s/s  ETA %@   ",
                                      epoch + 1, config.epochs, s + 1, steps, lossSum / Double(s + 1),
                                      audio / Date().timeIntervalSince(start), Self.duration(eta))
                    FileHandle.standardError.write(Data(line.utf8))
                }
            }
            if stepper.dino != nil { lr = stepper.learningRate(epoch: epoch, stepInEpoch: steps - 1) }   // the epoch's last step
            let trainSeconds = Date().timeIntervalSince(start)
            let eer = config.validation ? try validationEER() : nil
            epochsDone += 1
            var row = TrainingLogRow(epoch: epochsDone, step: globalStep, loss: lossSum / Double(max(steps, 1)), lr: lr,
                                     seconds: Date().timeIntervalSince(start), audioSecondsPerSecond: audio / max(trainSeconds, 1e-9),
                                     validationEER: eer)
            if stepper.memory != nil {
                row.ssps = draws.stats(nmiSpeaker: sspsEpoch?.nmiSpeaker, nmiRecording: sspsEpoch?.nmiRecording)
            }
            log.append(row)
            let name = String(format: "checkpoint-epoch%03d.safetensors", epochsDone)
            try checkpoint().write(path: "\(runDirectory)/\(name)")
            do { try AtomicFile.write(name + "\n", to: "\(runDirectory)/checkpoint-last") } catch {
                throw .run(error.description)
            }
            try writeLog()
            epochsThisRun += 1
            if showProgress {
                FileHandle.standardError.write(Data(("\r" + String(format: "epoch %d/%d loss %.4f lr %.3g %.1f audio-s/s%@",
                    row.epoch, config.epochs, row.loss, Double(lr), row.audioSecondsPerSecond,
                    eer.map { String(format: " EER %.2f %%", $0) } ?? "") + String(repeating: " ", count: 20) + "\n").utf8))
            }
            onEpoch?(row)
        }
        return log
    }

    /// SSPS at the start of an epoch: the eval-mode fill pass if the queues are not full yet (the first
    /// SSPS epoch), then k-means of Q̂ for cluster sampling. Returns the epoch's clustering (k-means only).
    func prepareSSPS(planner: BatchPlanner, epoch: Int, steps: Int) throws(TrainingError) -> SSPSEpochClusters? {
        guard let memory = stepper.memory else { return nil }
        if !memory.isFilled {
            if showProgress { FileHandle.standardError.write(Data("filling the SSPS queues (eval-mode pass)…\n".utf8)) }
            let producer = try BatchProducer(planner: planner, epoch: epoch, steps: 0..<steps)
            defer { producer.cancel() }
            for s in 0..<steps { stepper.fill(try producer.next(), stepInEpoch: s) }
        }
        guard config.ssps.sampling == .kmeans else { stepper.clusters = nil; return nil }
        let clusters = PositiveSampler.clusters(memory: memory, config: config.ssps, datasetSize: corpus.train.count,
                                                seed: config.seed, epoch: epoch, speakers: corpus.labels,
                                                recordings: corpus.recordingLabels, labeled: corpus.labeled)
        stepper.clusters = clusters
        return clusters
    }

    private static let bankCache = LockedDictionary<AugmentationBank>()

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, t % 3600 / 60) : String(format: "%dm%02ds", t / 60, t % 60)
    }

    /// Eval-mode embeddings (DINO: of the teacher) of full dev utterances, cosine scores, EER (percent) on the cross-channel trials.
    public func validationEER() throws(TrainingError) -> Double? {
        guard !corpus.trials.isEmpty else { return nil }
        let extractor: FeatureExtractor
        do { extractor = try FeatureExtractor(config: config.featureConfig) } catch { throw .run("front end: \(error)") }
        var embeddings: [String: [Float]] = [:]
        for path in Set(corpus.trials.flatMap { [$0.1, $0.2] }).sorted() {
            let f: FeatureMatrix
            if let cached = devFeatures[path] { f = cached } else {
                let audio = try corpus.readAudio(path)
                do { f = try extractor.extract(BatchPlanner.wrapPad(audio, to: 3200)) } catch { throw .run("features of wav/\(path): \(error)") }
                devFeatures[path] = f
            }
            let g = Graph(training: false, recording: false)
            let e = stepper.inferenceModel.forward(g, features: Variable(Tensor(shape: [1, f.mels, f.frames], values: f.values))).values
            let norm = max(e.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot(), 1e-12)
            embeddings[path] = e.map { Float(Double($0) / norm) }
        }
        var targets: [Double] = [], nontargets: [Double] = []
        for (target, a, b) in corpus.trials {
            let x = embeddings[a]!, y = embeddings[b]!
            var s = 0.0
            for i in 0..<x.count { s += Double(x[i]) * Double(y[i]) }
            if target { targets.append(s) } else { nontargets.append(s) }
        }
        guard !targets.isEmpty, !nontargets.isEmpty else { return nil }
        do { return try Metrics.equalErrorRate(targets: targets, nontargets: nontargets).rate * 100 } catch {
            throw .run("validation EER: \(error)")
        }
    }
}

/// Pseudo-positive counts of an epoch (for the log's SSPS columns).
struct SSPSDrawCounts {
    var anchors = 0, substituted = 0, sameSpeaker = 0, otherRecording = 0
    /// Substituted pairs whose two utterances both have speaker labels (the same-speaker share's base).
    var labeledPairs = 0

    mutating func add(anchors batch: [Int], picks: [Int?], memory: SSPSMemory, corpus: TrainingCorpus) {
        anchors += batch.count
        for (row, slot) in picks.enumerated() {
            guard let slot else { continue }
            let u = batch[row], v = Int(memory.positiveIndices[slot])
            substituted += 1
            if corpus.labeled[u] && corpus.labeled[v] {
                labeledPairs += 1
                if corpus.labels[u] == corpus.labels[v] { sameSpeaker += 1 }
            }
            if corpus.train[u].recording != corpus.train[v].recording { otherRecording += 1 }
        }
    }

    func stats(nmiSpeaker: Double?, nmiRecording: Double?) -> SSPSEpochStats {
        let n = Double(max(substituted, 1))
        // Same-speaker share among labeled pairs (NaN when no pair has labels: unlabeled data).
        let sameShare = labeledPairs > 0 ? Double(sameSpeaker) / Double(labeledPairs) : .nan
        return SSPSEpochStats(coverage: Double(substituted) / Double(max(anchors, 1)), sameSpeaker: sameShare,
                              otherRecording: Double(otherRecording) / n, nmiSpeaker: nmiSpeaker, nmiRecording: nmiRecording)
    }
}

/// A dictionary behind a lock (process-wide caches).
final class LockedDictionary<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String: Value] = [:]
    func withLock<R>(_ body: (inout [String: Value]) -> R) -> R {
        lock.lock(); defer { lock.unlock() }
        return body(&storage)
    }
}
