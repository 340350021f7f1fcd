import Foundation
import SVFiles

/// How post-training quantisation turns observed activations into a layer's input scale.
public enum ActivationCalibration: String, Sendable, CaseIterable {
    /// The largest |x| seen: nothing is clipped, small values get coarse steps.
    case max
    /// The given percentile of |x|: the rare largest values are clipped.
    case percentile
    /// The clipping value that minimises the expected squared error (clipping + rounding noise)
    /// over the observed distribution of |x|.
    case mse
}

/// Post-training quantisation: runs calibration audio through the fp32 model, measures the input
/// range of every int8 convolution, and writes the int8 model.
public enum PostTrainingQuantization {
    public struct Calibration: Sendable {
        /// Input scale per convolution prefix.
        public var inputScales: [String: Float]
        public var method: ActivationCalibration
        public var percentile: Double
        public var files: Int
        public var seconds: Double

        public init(inputScales: [String: Float], method: ActivationCalibration, percentile: Double, files: Int, seconds: Double) {
            self.inputScales = inputScales; self.method = method; self.percentile = percentile; self.files = files; self.seconds = seconds
        }

        var provenance: [String: Any] {
            ["method": method.rawValue, "percentile": method == .percentile ? percentile : NSNull(), "files": files,
             "seconds": (seconds * 100).rounded() / 100]
        }

        /// The `calibration` object stored in the model's quantization metadata.
        public var json: String {
            String(decoding: (try? JSONSerialization.data(withJSONObject: provenance, options: [.sortedKeys])) ?? Data("{}".utf8),
                   as: UTF8.self)
        }

        /// The scales and their provenance as a JSON file (`spkv quantize --save-scales`), written atomically;
        /// values are written as the shortest decimal that reads back to the same Float.
        public func write(path: String) throws {
            var object = provenance
            object["input_scales"] = inputScales.mapValues { Double($0) }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            try AtomicFile.write(data + Data("\n".utf8), to: path)
        }

        /// Reads a file written by `write(path:)`; anything else is an error naming the file.
        public static func read(path: String) throws(ScalesFileError) -> Calibration {
            guard let data = FileManager.default.contents(atPath: path) else { throw ScalesFileError(path: path, reason: "cannot read it") }
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let scales = object["input_scales"] as? [String: Double],
                  let method = (object["method"] as? String).flatMap(ActivationCalibration.init(rawValue:)),
                  let files = object["files"] as? Int, let seconds = object["seconds"] as? Double else {
                throw ScalesFileError(path: path, reason: "not a scales file (spkv quantize --save-scales writes one: input_scales, method, files, seconds)")
            }
            if let bad = scales.first(where: { !($0.value > 0 && $0.value.isFinite && Float($0.value).isFinite) }) {
                throw ScalesFileError(path: path, reason: "the input scale of \(bad.key) is not a positive finite number")
            }
            return Calibration(inputScales: scales.mapValues { Float($0) }, method: method,
                               percentile: object["percentile"] as? Double ?? 99.99, files: files, seconds: seconds)
        }
    }

    /// A scales file that cannot be used.
    public struct ScalesFileError: Error, CustomStringConvertible {
        public let path: String, reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Histogram bins of |x| per layer (second pass).
    static let bins = 2048

    /// Measures the input scales of `model`'s int8 convolutions on `paths`.
    public static func calibrate(model: SpeakerModel, paths: [String], method: ActivationCalibration = .mse,
                                 percentile: Double = 99.99) throws(EmbeddingError) -> Calibration {
        precondition(!paths.isEmpty, "calibrate: no audio")
        let embedder = Embedder(model: model)
        let layers = model.encoder.int8Convolutions
        // Quantisation levels on one side of zero: 255 for inputs that are never negative (unsigned), else 127.
        let levels: Float = model.encoder.int8InputsAreNonNegative ? 255 : 127
        // Pass 1: the largest |x| per layer.
        var peaks: [String: Float] = [:]
        var seconds = 0.0
        embedder.observeEncoderInputs { name, x in
            var peak = peaks[name] ?? 0
            for v in x where v.isFinite { peak = Swift.max(peak, abs(v)) }   // non-finite values cannot be quantised; skipped
            peaks[name] = peak
        }
        for path in paths {
            _ = try embedder.embed(path: path)
            seconds += embedder.lastTimings.audioSeconds
        }
        var scales: [String: Float] = [:]
        if method == .max {
            for p in layers { scales[p] = Swift.max(peaks[p] ?? 0, 1e-8) / levels }
        } else {
            // Pass 2: histograms of |x| on [0, peak].
            var histograms: [String: [Double]] = [:]
            embedder.observeEncoderInputs { name, x in
                let peak = Swift.max(peaks[name] ?? 0, 1e-8)
                var h = histograms[name] ?? [Double](repeating: 0, count: bins)
                let perBin = Float(bins) / peak
                for v in x where v.isFinite { h[Swift.min(bins - 1, Int(abs(v) * perBin))] += 1 }
                histograms[name] = h
            }
            for path in paths { _ = try embedder.embed(path: path) }
            for p in layers {
                let peak = Swift.max(peaks[p] ?? 0, 1e-8)
                let h = histograms[p] ?? [Double](repeating: 1, count: bins)
                let clip = method == .percentile ? percentileClip(h, peak: peak, percentile: percentile)
                    : mseClip(h, peak: peak, levels: Double(levels))
                scales[p] = clip / levels
            }
        }
        embedder.observeEncoderInputs(nil)
        return Calibration(inputScales: scales, method: method, percentile: percentile, files: paths.count, seconds: seconds)
    }

    /// The |x| below which `percentile` % of the observations lie (upper edge of that bin).
    static func percentileClip(_ h: [Double], peak: Float, percentile: Double) -> Float {
        let total = h.reduce(0, +), target = total * percentile / 100
        var seen = 0.0
        for (i, n) in h.enumerated() {
            seen += n
            if seen >= target { return peak * Float(i + 1) / Float(h.count) }
        }
        return peak
    }

    /// The clipping value c (a bin edge) minimising Σ n·err: (|x| − c)² above c, (c/levels)²/12 below.
    static func mseClip(_ h: [Double], peak: Float, levels: Double = 127, minimumBin: Int = 16) -> Float {
        let width = Double(peak) / Double(h.count)
        var best = (error: Double.infinity, clip: Double(peak))
        for edge in minimumBin...h.count {
            let c = Double(edge) * width, step = c / levels
            var error = 0.0, below = 0.0
            for (i, n) in h.enumerated() where n > 0 {
                let centre = (Double(i) + 0.5) * width
                if centre > c { error += n * (centre - c) * (centre - c) } else { below += n }
            }
            error += below * step * step / 12
            if error < best.error { best = (error, c) }
        }
        return Float(best.clip)
    }

    /// Cosine between the fp32 and the int8 model's embeddings of each file (how close PTQ stayed).
    public static func agreement(fp32: SpeakerModel, int8: SpeakerModel, paths: [String]) throws(EmbeddingError) -> [Double] {
        let a = Embedder(model: fp32), b = Embedder(model: int8)
        var cosines: [Double] = []
        for path in paths { cosines.append(Double(Cosine.similarity(try a.embed(path: path), try b.embed(path: path)))) }
        return cosines
    }

    /// Calibrates and writes the int8 model file; returns both models (each file loaded once).
    public static func quantize(modelPath: String, calibrationPaths: [String], method: ActivationCalibration,
                                percentile: Double, outputPath: String) throws
        -> (fp32: SpeakerModel, int8: SpeakerModel, calibration: Calibration) {
        try quantize(modelPath: modelPath, outputPath: outputPath) { model throws in
            try calibrate(model: model, paths: calibrationPaths, method: method, percentile: percentile)
        }
    }

    /// Writes the int8 model file with scales measured before (a scales file): a pure function of the
    /// two inputs, whatever the machine's float kernels.
    public static func quantize(modelPath: String, calibration: Calibration, outputPath: String) throws
        -> (fp32: SpeakerModel, int8: SpeakerModel, calibration: Calibration) {
        try quantize(modelPath: modelPath, outputPath: outputPath) { _ in calibration }
    }

    static func quantize(modelPath: String, outputPath: String, scales: (SpeakerModel) throws -> Calibration) throws
        -> (fp32: SpeakerModel, int8: SpeakerModel, calibration: Calibration) {
        let file = try ModelFile.read(path: modelPath)
        let model = try SpeakerModel(file: file)
        let calibration = try scales(model)
        let quantized = try Int8Quantizer.quantizeAndLoad(file: file, model: model, inputScales: calibration.inputScales,
                                                          calibration: calibration.json)
        try quantized.file.write(path: outputPath)
        return (model, quantized.model, calibration)
    }
}
