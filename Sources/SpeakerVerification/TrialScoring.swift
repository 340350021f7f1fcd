import Foundation

public enum TrialScoringError: Error, Equatable, CustomStringConvertible {
    case missingAudio([String])
    case embedding([EmbeddingError])
    case cache(EmbeddingCacheError)
    case scoring(String)

    public var description: String {
        switch self {
        case .missingAudio(let paths):
            let shown = paths.prefix(20).joined(separator: "\n  ")
            return "\(paths.count) audio file(s) named in the trials do not exist (nothing was computed):\n  \(shown)"
                + (paths.count > 20 ? "\n  … and \(paths.count - 20) more" : "")
        case .embedding(let errors):
            return "\(errors.count) file(s) could not be embedded:\n  " + errors.prefix(20).map(\.description).joined(separator: "\n  ")
        case .cache(let e): return e.description
        case .scoring(let why): return why
        }
    }
}

/// `spkv score`: every distinct file of a trial list embedded once (in parallel, optionally through
/// an embedding cache), then every trial scored in order: cosine, AS-norm with a cohort, and the
/// model's calibration when it has one.
public struct TrialScoring {
    public var model: SpeakerModel
    public var audioRoot: String?
    public var threads = 1
    public var cachePath: String?
    /// Audio files of the AS-norm cohort (embedded like the trials' files) and its top-N.
    public var cohortPaths: [String] = []
    /// Or the cohort as ready embeddings of this model (e.g. `spkv embed` output); used with the paths.
    public var cohortEmbeddings: [[Float]] = []
    public var cohortTopN = 300
    /// Multi-clip enrollment: a trial side named here is a model, the mean of these files' embeddings as
    /// `spkv enroll` builds a profile (`Enrollment.meanEmbedding`).
    public var enrollments: [String: [String]] = [:]
    public var progress: (@Sendable (Int, Int) -> Void)?

    public init(model: SpeakerModel) { self.model = model }

    func resolve(_ path: String) -> String {
        guard let root = audioRoot, !path.hasPrefix("/") else { return path }
        return (root as NSString).appendingPathComponent(path)
    }

    public func score(_ trials: [Trial]) throws(TrialScoringError) -> ScoreList {
        try scoreWithDetails(trials).scores
    }

    /// The scores, plus for a MagNetO model each trial's cosine and magnitude product aᵢ·aⱼ (nil otherwise).
    public func scoreWithDetails(_ trials: [Trial]) throws(TrialScoringError)
        -> (scores: ScoreList, magnitudes: [(cosine: Double, product: Double)]?) {
        let backend = model.scoring
        let scoring = backend.config
        if backend.isMagNetO, !(cohortPaths.isEmpty && cohortEmbeddings.isEmpty) {
            throw .scoring("AS-norm is not defined for MagNetO models: their scores are already calibrated LLRs; score without a cohort")
        }

        // All files, trials first then cohort, each once; check they all exist before any work.
        var order: [String] = [], seen = Set<String>()
        for (model, clips) in enrollments where clips.isEmpty {
            throw .scoring("enrollment model '\(model)' has no clips")
        }
        let files = trials.flatMap { [$0.enroll, $0.test] }.flatMap { enrollments[$0] ?? [$0] } + cohortPaths
        for name in files where seen.insert(name).inserted { order.append(name) }
        let missing = order.filter { !FileManager.default.fileExists(atPath: resolve($0)) }
        guard missing.isEmpty else { throw .missingAudio(missing.map(resolve)) }

        var embeddings = try embedAll(order)
        // Models may stand on either side of a trial.
        for model in Set(trials.flatMap { [$0.enroll, $0.test] }) {
            guard let clips = enrollments[model] else { continue }
            embeddings[model] = Enrollment.meanEmbedding(clips.map { embeddings[$0]! }, model: self.model)
        }
        // Unit vectors are only needed by AS-norm; the back end normalises what it compares itself.
        let hasCohort = !(cohortPaths.isEmpty && cohortEmbeddings.isEmpty)
        let normalized = hasCohort ? embeddings.mapValues { Cosine.normalized($0) } : [:]

        var asNorm: ASNorm?
        var stats: [String: (mean: Double, std: Double)] = [:]
        let cohort = cohortPaths.map { normalized[$0]! } + cohortEmbeddings
        if !cohort.isEmpty {
            do { asNorm = try ASNorm(cohort: cohort, topN: cohortTopN) } catch {
                throw .scoring(error.description)
            }
            let sides = Array(Set(trials.flatMap { [$0.enroll, $0.test] })).sorted()
            for (name, s) in zip(sides, asNorm!.statistics(forMany: sides.map { normalized[$0]! })) { stats[name] = s }
        }
        let kind = asNorm != nil ? "asnorm" : "cosine"
        if scoring.calibration != nil, let fitted = scoring.fittedOn?["kind"], fitted != kind {
            throw .scoring("the model's calibration was fitted on \(fitted) scores, but these are \(kind) scores; score the same way or recalibrate")
        }
        var out: [ScoredTrial] = []
        out.reserveCapacity(trials.count)
        var details: [(cosine: Double, product: Double)] = []
        if backend.isMagNetO {
            func norm(_ v: [Float]) -> Double { v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
            let magnitude = embeddings.mapValues(norm)
            details = trials.map { (Double(Cosine.similarity(embeddings[$0.enroll]!, embeddings[$0.test]!)),
                                    magnitude[$0.enroll]! * magnitude[$0.test]!) }
        }
        for t in trials {
            let s: Double
            if let asNorm {
                let normed = asNorm.normalize(score: Double(Cosine.similarity(normalized[t.enroll]!, normalized[t.test]!)),
                                              enroll: stats[t.enroll]!, test: stats[t.test]!)
                s = scoring.score(cosine: normed)
            } else {
                s = backend.score(embeddings[t.enroll]!, embeddings[t.test]!)
            }
            out.append(ScoredTrial(enroll: t.enroll, test: t.test, score: s, label: t.label))
        }
        var header = ["kind": backend.outputsLLR ? "llr" : kind, "model": model.checksum]
        if let prior = scoring.prior { header["prior"] = "\(prior)" }
        if backend.isMagNetO { header["backend"] = "magneto" }
        if asNorm != nil { header["asnorm_top_n"] = "\(cohortTopN)"; header["cohort"] = "\(cohort.count)" }
        return (ScoreList(header: header, trials: out), backend.isMagNetO ? details : nil)
    }

    /// Embeddings by file name as given in the trials, through the cache when there is one.
    func embedAll(_ names: [String]) throws(TrialScoringError) -> [String: [Float]] {
        var cache = EmbeddingCache(modelChecksum: model.checksum)
        if let cachePath, FileManager.default.fileExists(atPath: cachePath) {
            do {
                cache = try EmbeddingCache.read(path: cachePath, modelChecksum: model.checksum, embeddingDimension: model.embeddingSize)
            } catch { throw .cache(error) }
        }
        var result: [String: [Float]] = [:], todo: [String] = []
        for name in names {
            if let key = EmbeddingCache.Key.current(path: resolve(name)), let hit = cache[key] { result[name] = hit } else { todo.append(name) }
        }
        let computed = BatchEmbedding.embed(paths: todo.map(resolve), model: model, threads: threads, progress: progress)
        var failures: [EmbeddingError] = []
        for (name, r) in zip(todo, computed) {
            switch r {
            case .success(let e):
                result[name] = e
                if let key = EmbeddingCache.Key.current(path: resolve(name)) { cache[key] = e }
            case .failure(let error): failures.append(error)
            }
        }
        // Keep what was computed even when some files failed: a rerun after fixing them is cheap.
        if let cachePath, !todo.isEmpty {
            do { try cache.write(path: cachePath) } catch { throw .cache(error) }
        }
        guard failures.isEmpty else { throw .embedding(failures) }
        return result
    }
}
