import Foundation

/// The real-speech benchmark over an `import-package` corpus: target and non-target trials within and
/// across packages, with the confounds of these labels kept apart (`benchmarks/real-speech/README.md`).
///
/// - Labels that cover several people (flag `several-speakers`) or no known language
///   (`language-unknown`) give no trials at all; speakers a package says may be one person
///   (`SpeechPackage.mayBeSamePerson`) are never a non-target.
/// - Every non-target is tagged same-language, cross-language or unknown-language (a side whose language
///   the package does not say), so that a language difference never hides in one pooled number.
/// - Short (< `shortSeconds`, both sides) and long (≥, both sides) conditions; multi-clip enrollment
///   (each model the mean of `enrollClips` clips' embeddings, as `spkv enroll` does).
///
/// Deterministic in the seed and the corpus rows (sorted by path first).
public enum PackageTrials {
    public struct Settings: Sendable {
        /// Clips per speaker the lists draw from (an even spread over the speaker's sorted clips).
        public var maxClipsPerSpeaker = 100
        /// Target partners drawn per clip.
        public var targetsPerClip = 2
        /// Non-targets drawn per clip from each pool: same language, same package, anywhere.
        public var nonTargetsPerPool = 2
        /// Short-clip condition: both sides shorter than this; long: both at least this.
        public var shortSeconds = 1.5
        /// Clips per multi-clip enrollment model, models per speaker, and tests per model and pool.
        public var enrollClips = 3
        public var modelsPerSpeaker = 4
        public var testsPerModel = 4
        public var seed: UInt64 = 2026
        public init() {}
    }

    enum Relation { case target, sameLanguage, crossLanguage, unknownLanguage }

    /// One trial with what the lists split on.
    struct TaggedTrial {
        var trial: CorpusTrial
        var relation: Relation
        var packages: (String, String)
        var durations: (Double, Double)
    }

    /// The named lists (file stem → trials) and the multi-clip enrollments (model id → clip paths).
    public struct Lists: Sendable {
        public var lists: [(name: String, trials: [CorpusTrial])] = []
        public var enrollments: [(model: String, clips: [String])] = []
    }

    struct Clip {
        var path: String, speaker: String, package: String, key: String
        var language: String?, duration: Double
    }

    /// The clips that may appear in a trial, `maxClipsPerSpeaker` per speaker.
    static func eligibleClips(_ rows: [CorpusUtterance], settings: Settings) -> [Clip] {
        var bySpeaker: [String: [Clip]] = [:]
        // Only labelled clips of a known package (a merged corpus may hold other, unlabeled speech).
        for row in rows.sorted(by: { $0.path < $1.path }) where SpeechPackage(rawValue: row.engine) != nil {
            let voice = (try? JSONSerialization.jsonObject(with: Data(row.voice.utf8))) as? [String: String] ?? [:]
            let flags = Set((voice["flags"] ?? "").split(separator: ",").map(String.init))
            if flags.contains("several-speakers") || flags.contains("language-unknown") { continue }
            // The package's own key follows `<package>/` (after a merge the speaker is `<name>/<package>/<key>`).
            guard let marker = row.speaker.range(of: "\(row.engine)/", options: .backwards) else { continue }
            let key = String(row.speaker[marker.upperBound...])
            guard !key.isEmpty else { continue }
            // en_GB and en are one language here: only the accent differs.
            let language = voice["language"].flatMap { $0.split(separator: "_").first.map(String.init) }
            bySpeaker[row.speaker, default: []].append(Clip(path: row.path, speaker: row.speaker, package: row.engine, key: key,
                                                            language: language, duration: row.duration))
        }
        return bySpeaker.keys.sorted().flatMap { speaker -> [Clip] in
            let all = bySpeaker[speaker]!, n = settings.maxClipsPerSpeaker
            return all.count <= n ? all : (0..<n).map { all[$0 * all.count / n] }
        }
    }

    /// Whether `a` and `b` may be called different speakers.
    static func distinctSpeakers(_ a: Clip, _ b: Clip) -> Bool {
        guard a.speaker != b.speaker else { return false }
        guard a.package == b.package, let package = SpeechPackage(rawValue: a.package) else { return true }
        return !package.mayBeSamePerson(a.key, b.key)
    }

    static func relation(_ a: Clip, _ b: Clip) -> Relation {
        if a.speaker == b.speaker { return .target }
        guard let la = a.language, let lb = b.language else { return .unknownLanguage }
        return la == lb ? .sameLanguage : .crossLanguage
    }

    public static func build(_ rows: [CorpusUtterance], settings: Settings = Settings()) -> Lists {
        let clips = eligibleClips(rows, settings: settings)
        let bySpeaker = Dictionary(grouping: clips.indices, by: { clips[$0].speaker })
        let byLanguage = Dictionary(grouping: clips.indices.filter { clips[$0].language != nil }, by: { clips[$0].language! })
        let byPackage = Dictionary(grouping: clips.indices, by: { clips[$0].package })

        var tagged: [TaggedTrial] = [], seen = Set<[Int]>()
        func add(_ i: Int, _ j: Int) {
            let key = [min(i, j), max(i, j)]
            guard seen.insert(key).inserted else { return }
            let a = clips[key[0]], b = clips[key[1]]
            tagged.append(TaggedTrial(trial: CorpusTrial(target: a.speaker == b.speaker, enroll: a.path, test: b.path),
                                      relation: relation(a, b), packages: (a.package, b.package), durations: (a.duration, b.duration)))
        }
        for i in clips.indices {
            var r = CorpusRandom(seed: settings.seed, "package-trials", i)
            let c = clips[i]
            for j in draw(settings.targetsPerClip, from: bySpeaker[c.speaker]!, &r, accept: { $0 != i }) { add(i, j) }
            let pools = [c.language.flatMap { byLanguage[$0] } ?? [], byPackage[c.package]!, Array(clips.indices)]
            for pool in pools {
                for j in draw(settings.nonTargetsPerPool, from: pool, &r, accept: { distinctSpeakers(c, clips[$0]) }) { add(i, j) }
            }
        }

        var lists = Lists()
        func list(_ name: String, _ keep: (TaggedTrial) -> Bool) {
            let trials = tagged.filter(keep).map(\.trial)
            if trials.contains(where: \.target), trials.contains(where: { !$0.target }) { lists.lists.append((name, trials)) }
        }
        // Languages with two speakers or more that may be told apart.
        let languageOf = Dictionary(clips.map { ($0.path, $0.language) }, uniquingKeysWith: { a, _ in a })
        let contested = Set(tagged.filter { $0.relation == .sameLanguage }.compactMap { languageOf[$0.trial.enroll] ?? nil })
        list("all") { _ in true }
        list("same-language") { t in t.relation == .sameLanguage
            || (t.relation == .target && (languageOf[t.trial.enroll] ?? nil).map(contested.contains) == true) }
        list("cross-language") { t in t.relation == .crossLanguage || (t.relation == .target && languageOf[t.trial.enroll]! != nil) }
        list("cross-package") { t in t.relation == .target || t.packages.0 != t.packages.1 }
        list("short") { t in t.durations.0 < settings.shortSeconds && t.durations.1 < settings.shortSeconds }
        list("long") { t in t.durations.0 >= settings.shortSeconds && t.durations.1 >= settings.shortSeconds }
        for package in byPackage.keys.sorted() {
            list("package-\(package)") { t in t.packages.0 == package && t.packages.1 == package }
        }
        let enrollment = multiClipEnrollment(clips, bySpeaker: bySpeaker, byLanguage: byLanguage, settings: settings)
        lists.enrollments = enrollment.models
        if !enrollment.trials.isEmpty { lists.lists.append(("enroll\(settings.enrollClips)", enrollment.trials)) }
        return lists
    }

    /// Draws `count` distinct members of `pool` (clip indices) that `accept`s, fewer when fewer qualify.
    static func draw(_ count: Int, from pool: [Int], _ r: inout CorpusRandom, accept: (Int) -> Bool) -> [Int] {
        let candidates = pool.filter(accept)
        return r.distinct(min(count, candidates.count), of: candidates.count).map { candidates[$0] }
    }

    /// Models of `enrollClips` clips each (disjoint within a speaker); each model tested on clips of its
    /// speaker it does not hold, on same-language non-targets and on non-targets from anywhere.
    static func multiClipEnrollment(_ clips: [Clip], bySpeaker: [String: [Int]], byLanguage: [String: [Int]],
                                    settings: Settings) -> (models: [(model: String, clips: [String])], trials: [CorpusTrial]) {
        var models: [(model: String, clips: [String])] = [], trials: [CorpusTrial] = [], seen = Set<CorpusTrial>()
        let k = settings.enrollClips
        for speaker in bySpeaker.keys.sorted() {
            let own = bySpeaker[speaker]!
            guard own.count > k else { continue }
            var r = CorpusRandom(seed: settings.seed, "package-enroll-\(speaker)")
            let order = r.distinct(own.count, of: own.count).map { own[$0] }
            for m in 0..<min(settings.modelsPerSpeaker, (own.count - 1) / k) {
                let members = Array(order[(m * k)..<((m + 1) * k)])
                let id = "enroll\(k):\(speaker)#\(m + 1)"
                models.append((id, members.map { clips[$0].path }))
                let first = clips[members[0]]
                for j in draw(settings.testsPerModel, from: own, &r, accept: { !members.contains($0) }) {
                    trials.append(CorpusTrial(target: true, enroll: id, test: clips[j].path))
                }
                let pools = [first.language.flatMap { byLanguage[$0] } ?? [], Array(clips.indices)]
                for pool in pools {
                    for j in draw(settings.testsPerModel, from: pool, &r, accept: { distinctSpeakers(first, clips[$0]) }) {
                        let trial = CorpusTrial(target: false, enroll: id, test: clips[j].path)
                        if seen.insert(trial).inserted { trials.append(trial) }
                    }
                }
            }
        }
        return (models, trials)
    }

    /// `MODEL CLIP CLIP …` lines, the format `spkv score --enrollments` reads.
    public static func enrollmentText(_ models: [(model: String, clips: [String])]) -> String {
        models.map { ([$0.model] + $0.clips).joined(separator: " ") + "\n" }.joined()
    }
}
