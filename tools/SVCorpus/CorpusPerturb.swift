import Foundation
import SVAudio
import Synchronization

/// `spkv-train corpus perturb`: speed-perturbed copies of a corpus's training audio as new voices. Playing a clip
/// f× faster scales its pitch and formants by f as well as its tempo, which speaker encoders hear as another person
/// (the "speed perturbation" of Kaldi and WeSpeaker recipes, where each factor's copies are new speakers). For
/// distillation the teacher embeds every copy itself (the per-audio cache), so a student sees the teacher's answer
/// for voices no recording holds.
///
/// Writes `wav/sp<f>/<path>` (16-bit PCM at the source's rate, atomically; an interrupted run resumes, skipping
/// finished files) for each factor, and `meta.tsv` whose ids, speakers and recordings get `sp<f>/` as prefix
/// (unlabelled clips stay unlabelled, each copy its own pseudo-speaker); `engine` stays the source's, so a model's
/// provenance still counts its packages; `voice` gains `speed`. A factor of 1 links the source's audio unchanged
/// (so do not merge the result with its source: its clips would appear twice, under two speaker names).
/// Only the training split is copied: the perturbed corpus has no dev set.
public enum CorpusPerturb {
    /// Factors outside this range turn speech into something else (chipmunk or drone), not another voice.
    public static let factorRange: ClosedRange<Double> = 0.5...2.0

    /// The folder tag of a factor: `sp0.9`, `sp1.1`, `sp1`.
    public static func tag(_ factor: Double) -> String {
        var digits = String(format: "%.3f", factor)
        while digits.hasSuffix("0") { digits.removeLast() }
        if digits.hasSuffix(".") { digits.removeLast() }
        return "sp\(digits)"
    }

    /// Perturbs every training utterance of the corpus at `source` by each factor into `output`; returns the rows.
    public static func run(source: String, factors: [Double], output: String, force: Bool, jobs: Int,
                           progress: (@Sendable (Int, Int) -> Void)? = nil) throws(CorpusError) -> [CorpusUtterance] {
        guard !factors.isEmpty, factors.allSatisfy({ factorRange.contains($0) }) else {
            throw .invalidRecipe("speed factors must be in \(factorRange.lowerBound)…\(factorRange.upperBound), got \(factors)")
        }
        // A factor is its folder tag: at most 3 decimals, so a recipe (and a resumed run) names exactly its factors.
        guard factors.allSatisfy({ abs($0 * 1000 - ($0 * 1000).rounded()) < 1e-6 }) else {
            throw .invalidRecipe("speed factors have at most 3 decimals, got \(factors)")
        }
        let factors = factors.sorted()
        let tags = factors.map(tag)
        guard Set(tags).count == tags.count else { throw .invalidRecipe("speed factors repeat: \(factors)") }
        guard URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath()
                != URL(fileURLWithPath: source).standardizedFileURL.resolvingSymlinksInPath() else {
            throw .invalidRecipe("--out is the source corpus itself; choose another folder")
        }
        let sourceAudio = URL(fileURLWithPath: "\(source)/wav").resolvingSymlinksInPath().standardizedFileURL.path
        let rows = try CorpusManifest.read(path: "\(source)/meta.tsv").filter { $0.split == .train }
        guard !rows.isEmpty else { throw .malformedManifest(path: "\(source)/meta.tsv", line: 0, reason: "no training utterances") }
        let description = CorpusDescription(kind: "perturb speed " + tags.joined(separator: ","), options: nil, textSource: nil,
                                            tools: [:], importRoot: URL(fileURLWithPath: source).standardizedFileURL.path,
                                            complete: false, utterances: 0, audioSeconds: 0)
        _ = try CorpusOutput.prepare(output, description: description, force: force)
        // Written first, marked incomplete: an interrupted run is recognised and resumed with the same options.
        try CorpusOutput.writeDescription(description, dir: output)
        CorpusOutput.removeStaleTemporaries(output)
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: "\(output)/wav", withIntermediateDirectories: true) } catch {
            throw .unwritableOutput(path: "\(output)/wav", reason: error.localizedDescription)
        }
        var out: [CorpusUtterance] = []
        var work: [(from: String, to: String, factor: Double)] = []
        for (factor, tag) in zip(factors, tags) {
            if factor == 1 {
                let link = "\(output)/wav/\(tag)"
                if (try? fm.destinationOfSymbolicLink(atPath: link)) != sourceAudio {
                    try? fm.removeItem(atPath: link)
                    do { try fm.createSymbolicLink(atPath: link, withDestinationPath: sourceAudio) } catch {
                        throw .unwritableOutput(path: link, reason: error.localizedDescription)
                    }
                }
            }
            for u in rows {
                var v = u
                v.id = "\(tag)/\(u.id)"
                if u.speaker != GameSpeechImport.unlabeledSpeaker { v.speaker = "\(tag)/\(u.speaker)" }
                v.recording = "\(tag)/\(u.recording)"
                v.path = "\(tag)/\(u.path)"
                v.duration = (u.duration / factor * 1000).rounded() / 1000
                v.voice = Self.voice(u.voice, speed: factor)
                out.append(v)
                if factor != 1 { work.append(("\(sourceAudio)/\(u.path)", "\(output)/wav/\(v.path)", factor)) }
            }
        }
        try perturbFiles(work, jobs: jobs, progress: progress)
        try CorpusOutput.finishImport(output, rows: out, description: description)
        return out
    }

    /// `samples` at `sampleRate` played `factor`× faster: read as if sampled at factor × rate, resampled back to rate.
    public static func perturb(_ samples: [Float], sampleRate: Int, factor: Double) -> [Float] {
        let playedAt = Int((Double(sampleRate) * factor).rounded())
        return playedAt == sampleRate ? samples : Resampler(inputRate: playedAt, outputRate: sampleRate).process(samples)
    }

    static func voice(_ json: String, speed: Double) -> String {
        var object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
        object["speed"] = speed
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return json }
        return String(decoding: data, as: UTF8.self)
    }

    private static func perturbFiles(_ work: [(from: String, to: String, factor: Double)], jobs: Int,
                                     progress: (@Sendable (Int, Int) -> Void)?) throws(CorpusError) {
        let next = Atomic<Int>(0), finished = Atomic<Int>(0)
        let failure = Mutex<CorpusError?>(nil)
        DispatchQueue.concurrentPerform(iterations: max(1, min(jobs, work.count))) { _ in
            while failure.withLock({ $0 == nil }) {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < work.count else { break }
                do throws(CorpusError) { try perturbFile(from: work[i].from, to: work[i].to, factor: work[i].factor) } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                }
                progress?(finished.add(1, ordering: .relaxed).newValue, work.count)
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// One copy. Files are written atomically, so one that exists is complete: a resumed run skips it.
    private static func perturbFile(from: String, to: String, factor: Double) throws(CorpusError) {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: to) else { return }
        let clip: AudioClip
        do { clip = try AudioFile.readMono(path: from) } catch {
            throw .audio(path: from, message: "cannot read the source clip: \(error)")
        }
        do {
            try fm.createDirectory(atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AudioFile.write(path: to, samples: perturb(clip.samples, sampleRate: clip.sampleRate, factor: factor),
                                sampleRate: clip.sampleRate, format: .wav16)
        } catch {
            throw .unwritableOutput(path: to, reason: "\(error)")
        }
    }
}
