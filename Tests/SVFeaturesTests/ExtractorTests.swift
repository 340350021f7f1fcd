import Foundation
import SVFeatures
import SVKernels
import Testing
import _SVTestSupport

@Suite("FeatureExtractor")
struct ExtractorTests {
    @Test("too-short audio is an error, per preset", arguments: FeatureConfig.presetNames)
    func tooShort(_ name: String) throws {
        let config = try #require(FeatureConfig.preset(named: name))
        let extractor = try FeatureExtractor(config: config)
        let short = [Float](repeating: 0.1, count: config.minimumSamples - 1)
        #expect(throws: FeatureError.tooFewSamples(got: short.count, minimum: config.minimumSamples)) {
            _ = try extractor.extract(short)
        }
        #expect(throws: FeatureError.tooFewSamples(got: 0, minimum: config.minimumSamples)) {
            _ = try extractor.extract([])
        }
        let one = try extractor.extract([Float](repeating: 0.1, count: config.minimumSamples))
        #expect(one.frames == config.frameCount(samples: config.minimumSamples) && one.frames >= 1)
        #expect(one.values.allSatisfy { $0.isFinite })
    }

    @Test("non-finite samples and bad tables are rejected")
    func badInput() throws {
        let extractor = try FeatureExtractor(config: .sslsv40)
        var samples = [Float](repeating: 0, count: 1000)
        samples[321] = .nan
        #expect(throws: FeatureError.nonFiniteSample(index: 321)) { _ = try extractor.extract(samples) }
        #expect(throws: FeatureError.tableShapeMismatch(table: "features.window", expected: 400, actual: 399)) {
            _ = try FeatureExtractor(config: .sslsv40, melFilterbank: extractor.melFilterbank,
                                     window: Array(extractor.window.dropLast()))
        }
        #expect(throws: FeatureError.tableShapeMismatch(table: "features.mel_fbank", expected: 40 * 257, actual: 40 * 256)) {
            _ = try FeatureExtractor(config: .sslsv40, melFilterbank: Array(extractor.melFilterbank.prefix(40 * 256)),
                                     window: extractor.window)
        }
    }

    @Test("workspace variant equals the allocating one and reuses its buffers", arguments: FeatureConfig.presetNames)
    func workspace(_ name: String) throws {
        let extractor = try FeatureExtractor(config: try #require(FeatureConfig.preset(named: name)))
        let workspace = FeatureWorkspace()
        for length in [48000, 16000, 33333] {
            let signal = (0..<length).map { Float(sin(Double($0) * 0.031) + 0.3 * sin(Double($0) * 0.7)) * 0.2 }
            // Both under one OpenBLAS thread count (the filterbank is a GEMM; other suites change the count).
            let (reference, output, frames) = try BLAS.withThreads(1) { () throws -> (FeatureMatrix, [Float], Int) in
                let reference = try extractor.extract(signal)
                var output = [Float](repeating: .nan, count: reference.values.count + 5)
                let frames = try signal.withUnsafeBufferPointer { input in
                    try output.withUnsafeMutableBufferPointer { out in
                        try extractor.extract(input, into: out, workspace: workspace)
                    }
                }
                return (reference, output, frames)
            }
            #expect(frames == reference.frames)
            #expect(Array(output.prefix(reference.values.count)) == reference.values)
            var small = [Float](repeating: 0, count: 10)
            #expect(throws: FeatureError.outputTooSmall(needed: reference.values.count, got: 10)) {
                try signal.withUnsafeBufferPointer { input in
                    try small.withUnsafeMutableBufferPointer { out in
                        try extractor.extract(input, into: out, workspace: workspace)
                    }
                }
            }
        }
    }

    @Test("normalisation: zero mean (and unit variance) per mel bin")
    func normalization() throws {
        let signal = (0..<40000).map { Float(sin(Double($0) * 0.02 * (1 + Double($0) / 40000))) * 0.3 }
        for config in [FeatureConfig.sslsv80, .kaldi, .speechbrain] {
            let m = try FeatureExtractor(config: config).extract(signal)
            for mel in stride(from: 0, to: m.mels, by: 7) {
                let row = (0..<m.frames).map { Double(m[mel, $0]) }
                let mean = row.reduce(0, +) / Double(row.count)
                #expect(abs(mean) < 1e-4)
            }
        }
    }

    @Test("transposed() is frames × mels")
    func transposed() {
        let m = FeatureMatrix(mels: 2, frames: 3, values: [1, 2, 3, 4, 5, 6])
        #expect(m.transposed() == [1, 4, 2, 5, 3, 6])
    }

    @Test("a pure tone peaks in the mel bin that contains it (independent check of the FFT)")
    func tone() throws {
        var config = FeatureConfig.sslsv80
        config.normalization = .none
        let extractor = try FeatureExtractor(config: config)
        let signal = (0..<16000).map { Float(0.5 * sin(2 * Double.pi * 1000 * Double($0) / 16000)) }
        let m = try extractor.extract(signal)
        let mid = m.frames / 2
        let peak = (0..<m.mels).max { m[$0, mid] < m[$1, mid] }!
        // The filter with the largest weight at the 1 kHz bin (k = 32).
        let fb = extractor.melFilterbank
        let expected = (0..<m.mels).max { fb[$0 * config.bins + 32] < fb[$1 * config.bins + 32] }!
        #expect(peak == expected)
        // Energy check (Parseval): a 0.5-amplitude tone through a periodic Hann window of 400 gives
        // |X[k]|² = (0.5 · 400 · 0.5 / 2)² = 2500 at the tone bin.
        let value = exp(Double(m[peak, mid]))
        #expect(value > 2500 * 0.5 && value < 2500 * 1.6)
    }

    @Test("dither is deterministic per seed and off by default")
    func dither() throws {
        var config = FeatureConfig.kaldi
        config.dither = 1
        let extractor = try FeatureExtractor(config: config)
        let signal = [Float](repeating: 0, count: 8000)
        let (a, b) = try BLAS.withThreads(1) { () throws -> (FeatureMatrix, FeatureMatrix) in
            (try extractor.extract(signal, stage: .logMel), try extractor.extract(signal, stage: .logMel))
        }
        #expect(a == b)
        let quiet = try FeatureExtractor(config: .kaldi).extract(signal, stage: .logMel)
        #expect(quiet.values.allSatisfy { $0 == Float(log(Double(Float.ulpOfOne))) })
        #expect(a.values.contains { $0 > 0 })
    }
}

@Suite("NumpyArray")
struct NumpyTests {
    @Test("writes a v1.0 float32 header that parses back")
    func roundTrip() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let values: [Float] = (0..<12).map { Float($0) * 0.5 - 1 }
        let path = dir.path("x.npy")
        try NumpyArray.write(path: path, shape: [3, 4], values: values)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(Array(data.prefix(8)) == [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"))
        #expect(header.hasSuffix("\n"))
        #expect(data.count == 10 + headerLength + 4 * values.count)
        let back = (0..<values.count).map { i in
            Float(bitPattern: UInt32(data[10 + headerLength + 4 * i]) | UInt32(data[11 + headerLength + 4 * i]) << 8
                  | UInt32(data[12 + headerLength + 4 * i]) << 16 | UInt32(data[13 + headerLength + 4 * i]) << 24)
        }
        #expect(back == values)
        // 1-D shapes keep the tuple comma; mismatched shapes are rejected.
        let one = try NumpyArray.encode(shape: [5], values: [1, 2, 3, 4, 5])
        #expect(String(decoding: one[10..<74], as: UTF8.self).contains("'shape': (5,)"))
        #expect(throws: NumpyArray.WriteError.shapeMismatch(shape: [2, 2], values: 3)) {
            try NumpyArray.write(path: path, shape: [2, 2], values: [1, 2, 3])
        }
    }
}
