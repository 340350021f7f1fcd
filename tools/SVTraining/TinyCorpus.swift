import Foundation
import SVAudio
import SVCorpus

/// A tiny synthetic corpus in the SVCorpus layout, made without external programs: each "speaker"
/// is a harmonic tone (own pitch and formant-like spectral tilt) with vibrato and a little noise;
/// each recording adds its own gain and noise level. For tests and smoke runs (seconds).
public enum TinyCorpus {
    public static func write(to dir: String, trainSpeakers: Int = 4, devSpeakers: Int = 3, recordings: Int = 2,
                             utterances: Int = 2, seconds: ClosedRange<Double> = 1.2...2.6, seed: UInt64 = 7) throws {
        let fm = FileManager.default
        var all: [CorpusUtterance] = []
        for s in 0..<(trainSpeakers + devSpeakers) {
            let split: CorpusSplit = s < trainSpeakers ? .train : .dev
            let spk = String(format: "%@%02d", split == .train ? "t" : "d", s)
            var v = CorpusRandom(seed: seed, "tiny-voice", s)
            let f0 = v.uniform(90, 260), tilt = v.uniform(0.5, 1.6), vib = v.uniform(2, 7)
            for r in 0..<recordings {
                let rec = "\(spk)-r\(r)"
                var c = CorpusRandom(seed: seed, "tiny-channel", s, r)
                let gain = c.uniform(0.2, 0.5), noise = c.uniform(0.002, 0.02)
                for u in 0..<utterances {
                    var w = CorpusRandom(seed: seed, "tiny-utt", s, r, u)
                    let n = Int(w.uniform(seconds.lowerBound, seconds.upperBound) * 16_000)
                    var x = [Float](repeating: 0, count: n)
                    var phase = 0.0
                    for i in 0..<n {
                        let t = Double(i) / 16_000
                        let f = f0 * (1 + 0.03 * sin(2 * Double.pi * vib * t))
                        phase += 2 * Double.pi * f / 16_000
                        var y = 0.0
                        for h in 1...12 { y += sin(Double(h) * phase) / pow(Double(h), tilt) }
                        let env = 0.6 + 0.4 * sin(2 * Double.pi * 3 * t + Double(u))
                        x[i] = Float(gain * 0.3 * y * env + noise * w.normal())
                    }
                    let rel = "\(spk)/\(rec)/u\(u).wav"
                    try fm.createDirectory(atPath: "\(dir)/wav/\(spk)/\(rec)", withIntermediateDirectories: true)
                    try AudioFile.write(path: "\(dir)/wav/\(rel)", samples: x, sampleRate: 16_000, format: .wav16)
                    all.append(CorpusUtterance(id: "\(rec)-u\(u)", speaker: spk, recording: rec, path: rel, split: split,
                                               duration: Double(n) / 16_000, engine: "tiny"))
                }
            }
        }
        try CorpusManifest.writeAtomically(CorpusManifest.tsv(all), to: "\(dir)/meta.tsv")
        try CorpusManifest.writeAtomically(CorpusManifest.list(all, split: .train), to: "\(dir)/train.txt")
        let dev = all.filter { $0.split == .dev }
        if !dev.isEmpty {
            try fm.createDirectory(atPath: "\(dir)/dev", withIntermediateDirectories: true)
            let cross = TrialListBuilder.build(dev, crossRecordingOnly: true, nonTargetsPerUtterance: 4, seed: seed)
            try CorpusManifest.writeAtomically(TrialListBuilder.text(cross), to: "\(dir)/dev/trials-cross-channel.txt")
        }
    }
}
