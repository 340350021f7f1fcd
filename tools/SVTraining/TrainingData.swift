import Foundation
import SVAudio
import SVAutograd
import SVCorpus
import SVFeatures

/// The training corpus: the train split of meta.tsv with speaker indices, and the dev trials.
public struct TrainingCorpus: Sendable {
    public let path: String
    public let train: [CorpusUtterance]
    /// Speaker index (0..<speakers.count, sorted by name) per training utterance. An unlabeled
    /// utterance (speaker `-`, e.g. game speech) is its own pseudo-speaker: methods that need labels
    /// refuse such corpora, and diagnostics count only labeled utterances.
    public let labels: [Int]
    /// Whether each training utterance has a speaker label.
    public let labeled: [Bool]
    public var unlabeledCount: Int { labeled.filter { !$0 }.count }
    public let speakers: [String]
    /// Training utterance indices per speaker.
    public let bySpeaker: [[Int]]
    /// Recording index per training utterance (diagnostics: NMI of SSPS clusters vs recordings).
    public let recordingLabels: [Int]
    /// (target, enroll path, test path) from dev/trials-cross-channel.txt; empty if absent.
    public let trials: [(Bool, String, String)]
    /// CRC32 of meta.tsv: identifies the corpus in provenance.
    public let id: String

    public init(path: String) throws(TrainingError) {
        self.path = path
        let meta = "\(path)/meta.tsv"
        guard let data = FileManager.default.contents(atPath: meta) else { throw .corpus(path: path, reason: "cannot read meta.tsv") }
        let all: [CorpusUtterance]
        do { all = try CorpusManifest.parse(tsv: String(decoding: data, as: UTF8.self), path: meta) } catch {
            throw .corpus(path: path, reason: error.description)
        }
        train = all.filter { $0.split == .train }
        guard !train.isEmpty else { throw .corpus(path: path, reason: "meta.tsv has no training utterances") }
        labeled = train.map { $0.speaker != GameSpeechImport.unlabeledSpeaker }
        let keys = train.map { $0.speaker != GameSpeechImport.unlabeledSpeaker ? $0.speaker : "-/\($0.id)" }
        speakers = Array(Set(keys)).sorted()
        let index = Dictionary(uniqueKeysWithValues: speakers.enumerated().map { ($1, $0) })
        labels = keys.map { index[$0]! }
        var by = [[Int]](repeating: [], count: speakers.count)
        for (i, l) in labels.enumerated() { by[l].append(i) }
        bySpeaker = by
        let recordings = Dictionary(Array(Set(train.map(\.recording))).sorted().enumerated().map { ($1, $0) }) { a, _ in a }
        recordingLabels = train.map { recordings[$0.recording]! }
        id = String(format: "%08x", CRC32Helper.checksum(Array(data)))
        var trials: [(Bool, String, String)] = []
        let trialPath = "\(path)/dev/trials-cross-channel.txt"
        if let text = try? String(contentsOfFile: trialPath, encoding: .utf8) {
            for (k, line) in text.split(separator: "\n").enumerated() {
                let f = line.split(separator: " ")
                guard f.count == 3, f[0] == "0" || f[0] == "1" else {
                    throw .corpus(path: path, reason: "dev/trials-cross-channel.txt line \(k + 1): expected 'label enroll test'")
                }
                trials.append((f[0] == "1", String(f[1]), String(f[2])))
            }
        }
        self.trials = trials
    }

    public func wavPath(_ relative: String) -> String { "\(path)/wav/\(relative)" }

    public func readAudio(_ relative: String) throws(TrainingError) -> [Float] {
        do { return try AudioFile.readMono(path: wavPath(relative)).samples } catch {
            throw .corpus(path: path, reason: "wav/\(relative): \(error.description)")
        }
    }
}

enum CRC32Helper {
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return c ^ 0xFFFF_FFFF
    }
}

/// One training batch: one (N, F, T) feature tensor per view (1 for supervised, 2 for SimCLR, 6 for
/// DINO: 2 global then 4 local crops), and
/// for SSPS the anchors' clean reference crops (N, F, T_ref).
public struct TrainingBatch: Sendable {
    public var views: [Tensor]
    public var labels: [Int]
    /// Training-utterance (dataset) index of each row's anchor.
    public var indices: [Int]
    public var reference: Tensor?
    public var audioSeconds: Double

    public init(views: [Tensor], labels: [Int], indices: [Int] = [], reference: Tensor? = nil, audioSeconds: Double) {
        self.views = views; self.labels = labels; self.indices = indices; self.reference = reference
        self.audioSeconds = audioSeconds
    }
}

/// Batches of an epoch, derived only from (seed, epoch, index): order, crops and augmentation.
public struct BatchPlanner: Sendable {
    public let config: TrainingConfig
    public let corpus: TrainingCorpus
    public let augmenter: Augmenter?
    /// The low-pass of `band_limit` (nil when its probability is 0).
    let bandLimiter: LowPassFilter?

    public init(config: TrainingConfig, corpus: TrainingCorpus, augmenter: Augmenter?) {
        self.config = config; self.corpus = corpus; self.augmenter = augmenter
        bandLimiter = config.bandLimit.probability > 0
            ? LowPassFilter(cutoff: config.bandLimit.cutoffHz, sampleRate: config.featureConfig.sampleRate) : nil
    }

    public var stepsPerEpoch: Int { corpus.train.count / config.batchSize }

    /// The epoch's utterance order (a seeded Fisher–Yates shuffle).
    public func order(epoch: Int) -> [Int] {
        var r = CorpusRandom(seed: config.seed, "order", epoch)
        var o = Array(0..<corpus.train.count)
        o.shuffle(using: &r)
        return o
    }

    /// Wrap padding (reference §1.1): shorter than `length` → cyclically extended by length − len + 1.
    public static func wrapPad(_ x: [Float], to length: Int) -> [Float] {
        guard !x.isEmpty, x.count < length else { return x }
        let target = length + 1
        return (0..<target).map { x[$0 % x.count] }
    }

    /// The draw stream of one view's crop.
    public static func cropStream(seed: UInt64, epoch: Int, slot: Int, view: Int) -> CorpusRandom {
        CorpusRandom(seed: seed, "crop", epoch, slot, view)
    }

    /// A random crop of `length` samples (start uniform in [0, len − length]) after wrap padding.
    public static func crop(_ x: [Float], length: Int, using r: inout CorpusRandom) -> [Float] {
        let p = wrapPad(x, to: length)
        let start = r.int(0...(p.count - length))
        return Array(p[start..<(start + length)])
    }

    /// The training utterances of batch slot `slot` (step × batch size + row), one per view: the anchor,
    /// then for SimCLR the same utterance, or for oracle SimCLR another utterance of the same speaker
    /// (the same one only when the speaker has a single utterance); oracle DINO takes its global views from that other utterance.
    public func sources(epoch: Int, slot: Int, order: [Int]) -> [Int] {
        let u = order[slot]
        switch config.method {
        case .supervised, .distill: return [u]
        case .simclr: return [u, u]
        case .dino: return [u, u, u, u, u, u]
        case .simclrOracle:
            let b = oraclePartner(epoch: epoch, slot: slot, of: u)
            return [u, b]
        case .dinoOracle:
            let b = oraclePartner(epoch: epoch, slot: slot, of: u)
            return [b, b, u, u, u, u]
        }
    }

    /// Another utterance of `u`'s speaker, drawn per slot (`u` itself only when the speaker has one utterance).
    private func oraclePartner(epoch: Int, slot: Int, of u: Int) -> Int {
        let same = corpus.bySpeaker[corpus.labels[u]].filter { $0 != u }
        guard !same.isEmpty else { return u }
        var r = CorpusRandom(seed: config.seed, "oracle", epoch, slot)
        return r.choice(same)
    }

    public func batch(epoch: Int, step: Int, order: [Int], extractor: FeatureExtractor) throws(TrainingError) -> TrainingBatch {
        let n = config.batchSize, lengths = config.viewSamples
        let viewCount = lengths.count
        var views = [[Float]](repeating: [], count: viewCount)
        var labels: [Int] = [], indices: [Int] = []
        var reference: [Float] = []
        var frames = [Int](repeating: 0, count: viewCount), mels = 0, referenceFrames = 0
        for k in 0..<n {
            let slot = step * n + k
            let u = order[slot]
            labels.append(corpus.labels[u])
            indices.append(u)
            // Each utterance is decoded once per row, however many views and reference crops use it.
            var decoded: [Int: [Float]] = [:]
            func audio(of i: Int) throws(TrainingError) -> [Float] {
                if let cached = decoded[i] { return cached }
                let x = try corpus.readAudio(corpus.train[i].path)
                guard !x.isEmpty else { throw .corpus(path: corpus.path, reason: "wav/\(corpus.train[i].path) is empty") }
                decoded[i] = x
                return x
            }
            if config.ssps.enabled && !config.ssps.usesReferenceModel {
                // SSPS reference frame: an independent crop of the anchor, never augmented (reference §1.2).
                let audio = try audio(of: u)
                var r = Self.cropStream(seed: config.seed, epoch: epoch, slot: slot, view: viewCount)
                let x = Self.crop(audio, length: config.referenceSamples, using: &r)
                let f: FeatureMatrix
                do { f = try extractor.extract(x) } catch { throw .run("features of wav/\(corpus.train[u].path): \(error)") }
                referenceFrames = f.frames
                reference.append(contentsOf: f.values)
            }
            for (v, src) in sources(epoch: epoch, slot: slot, order: order).enumerated() {
                let audio = try audio(of: src)
                var r = Self.cropStream(seed: config.seed, epoch: epoch, slot: slot, view: v)
                var x = Self.crop(audio, length: lengths[v], using: &r)
                if let augmenter {
                    var a = CorpusRandom(seed: config.seed, "augment", epoch, slot, v)
                    x = augmenter.augment(x, using: &a).samples
                }
                if let bandLimiter {
                    var b = CorpusRandom(seed: config.seed, "band-limit", epoch, slot, v)
                    if b.uniform(0, 1) < config.bandLimit.probability { x = bandLimiter.apply(x) }
                }
                let f: FeatureMatrix
                do { f = try extractor.extract(x) } catch { throw .run("features of wav/\(corpus.train[src].path): \(error)") }
                frames[v] = f.frames; mels = f.mels
                views[v].append(contentsOf: f.values)
            }
        }
        return TrainingBatch(views: views.indices.map { Tensor(shape: [n, mels, frames[$0]], values: views[$0]) }, labels: labels, indices: indices,
                             reference: config.ssps.enabled && !config.ssps.usesReferenceModel ? Tensor(shape: [n, mels, referenceFrames], values: reference) : nil,
                             audioSeconds: Double(n * lengths.reduce(0, +)) / Double(config.featureConfig.sampleRate))
    }
}

/// Prepares an epoch's batches on a background thread, at most `capacity` ahead of the consumer.
public final class BatchProducer: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [Result<TrainingBatch, TrainingError>] = []
    private var cancelled = false
    private let capacity: Int
    private var thread: Thread?

    public init(planner: BatchPlanner, epoch: Int, steps: Range<Int>, capacity: Int = 2) throws(TrainingError) {
        self.capacity = capacity
        let extractor: FeatureExtractor
        do { extractor = try FeatureExtractor(config: planner.config.featureConfig) } catch { throw .run("front end: \(error)") }
        let order = planner.order(epoch: epoch)
        let t = Thread { [self] in
            for step in steps {
                let item: Result<TrainingBatch, TrainingError>
                do { item = .success(try planner.batch(epoch: epoch, step: step, order: order, extractor: extractor)) } catch let e as TrainingError {
                    item = .failure(e)
                } catch { item = .failure(.run("\(error)")) }
                condition.lock()
                while queue.count >= self.capacity && !cancelled { condition.wait() }
                if cancelled { condition.unlock(); return }
                queue.append(item)
                condition.broadcast()
                condition.unlock()
                if case .failure = item { return }
            }
        }
        t.stackSize = 8 << 20
        thread = t
        t.start()
    }

    /// The next batch, waiting for the producer.
    public func next() throws(TrainingError) -> TrainingBatch {
        condition.lock()
        while queue.isEmpty { condition.wait() }
        let item = queue.removeFirst()
        condition.broadcast()
        condition.unlock()
        return try item.get()
    }

    public func cancel() {
        condition.lock(); cancelled = true; condition.broadcast(); condition.unlock()
    }

    deinit { cancel() }
}
