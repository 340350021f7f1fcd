import Foundation
import SVFeatures
import Testing

@Suite("FeatureConfig")
struct ConfigTests {
    @Test("presets validate and are reachable by name", arguments: FeatureConfig.presetNames)
    func presets(_ name: String) throws {
        let config = try #require(FeatureConfig.preset(named: name))
        try config.validate()
        #expect(FeatureConfig.preset(named: name + "x") == nil)
    }

    @Test("JSON round trip is lossless and deterministic", arguments: FeatureConfig.presetNames)
    func jsonRoundTrip(_ name: String) throws {
        let config = try #require(FeatureConfig.preset(named: name))
        let data = config.jsonData()
        let back = try FeatureConfig.decode(json: data)
        #expect(back == config)
        #expect(back.jsonData() == data)
    }

    @Test("JSON keys are the documented snake_case ones")
    func jsonKeys() throws {
        let object = try #require(try JSONSerialization.jsonObject(with: FeatureConfig.speechbrain.jsonData()) as? [String: Any])
        let expected: Set<String> = [
            "sample_rate", "n_fft", "win_length", "hop_length", "window", "window_periodic", "center", "pad_mode",
            "waveform_scale", "dither", "remove_dc", "preemphasis", "power", "n_mels", "f_min", "f_max", "mel_scale",
            "filter_construction", "filter_norm", "log", "log_floor", "top_db", "normalization", "norm_eps",
        ]
        #expect(Set(object.keys) == expected)
        #expect(object["log"] as? String == "db")
        #expect(object["normalization"] as? String == "mean")
        #expect(FeatureConfig.sslsv40.jsonString().contains("\"normalization\":\"mean_variance\""))
        #expect(!FeatureConfig.kaldi.jsonString().contains("top_db"))  // nil is omitted
    }

    @Test("bad JSON gives a structured error")
    func badJSON() {
        #expect(throws: FeatureError.invalidJSON(reason: "missing key n_fft")) {
            var object = try JSONSerialization.jsonObject(with: FeatureConfig.kaldi.jsonData()) as! [String: Any]
            object["n_fft"] = nil
            _ = try FeatureConfig.decode(json: JSONSerialization.data(withJSONObject: object))
        }
        let unknownWindow = FeatureConfig.kaldi.jsonString().replacingOccurrences(of: "\"hamming\"", with: "\"blackman\"")
        #expect {
            _ = try FeatureConfig.decode(json: Data(unknownWindow.utf8))
        } throws: { error in
            guard case .invalidJSON(let reason) = error as? FeatureError else { return false }
            return reason.contains("window")
        }
        // Decoding validates: a well-formed but impossible config is rejected.
        let badHop = FeatureConfig.kaldi.jsonString().replacingOccurrences(of: "\"hop_length\":160", with: "\"hop_length\":0")
        #expect(throws: FeatureError.invalidConfig(field: "hop_length", value: "0", reason: "must be at least 1")) {
            _ = try FeatureConfig.decode(json: Data(badHop.utf8))
        }
    }

    struct Mutation: Sendable, CustomTestStringConvertible {
        let field: String
        let apply: @Sendable (inout FeatureConfig) -> Void
        var testDescription: String { field }
    }

    static let invalid: [Mutation] = [
        .init(field: "sample_rate") { $0.sampleRate = 0 },
        .init(field: "n_fft") { $0.nFFT = 511 },
        .init(field: "n_fft") { $0.nFFT = 2 },
        .init(field: "win_length") { $0.winLength = 600 },
        .init(field: "hop_length") { $0.hopLength = 0 },
        .init(field: "waveform_scale") { $0.waveformScale = 0 },
        .init(field: "dither") { $0.dither = -1 },
        .init(field: "preemphasis") { $0.preemphasis = 1.5 },
        .init(field: "power") { $0.power = 3 },
        .init(field: "n_mels") { $0.nMels = 0 },
        .init(field: "n_mels") { $0.nMels = 300 },
        .init(field: "f_min") { $0.fMin = -1 },
        .init(field: "f_max") { $0.fMax = 9000 },
        .init(field: "f_max") { $0.fMax = 0 },
        .init(field: "log_floor") { $0.logFloor = 0 },
        .init(field: "top_db") { $0.topDB = 80 },                 // not allowed with ln_add
        .init(field: "norm_eps") { $0.normEps = 0 },              // mean_variance needs eps > 0
        .init(field: "norm_eps") { $0.normEps = .nan },
    ]

    @Test("invalid configs are rejected naming the field", arguments: invalid)
    func rejects(_ mutation: Mutation) {
        var config = FeatureConfig.sslsv40
        mutation.apply(&config)
        #expect {
            try config.validate()
        } throws: { error in
            guard case .invalidConfig(let field, _, let reason) = error as? FeatureError else { return false }
            return field == mutation.field && !reason.isEmpty
        }
        #expect(throws: FeatureError.self) { _ = try FeatureExtractor(config: config) }
    }

    @Test("a filter that covers no FFT bin is rejected")
    func emptyFilter() {
        var config = FeatureConfig.speechbrain
        config.nMels = 200
        #expect(throws: FeatureError.self) { _ = try MelFilterbank(config: config) }
    }

    @Test("frame-count formula matches the extractor for every preset and many lengths",
          arguments: FeatureConfig.presetNames)
    func frameCount(_ name: String) throws {
        let config = try #require(FeatureConfig.preset(named: name))
        let extractor = try FeatureExtractor(config: config)
        var rng = SplitMix(seed: 7)
        var lengths = [config.minimumSamples, config.minimumSamples + 1, config.minimumSamples + config.hopLength - 1,
                       config.minimumSamples + config.hopLength, 16000, 32000, 64000, 80000]
        for _ in 0..<24 { lengths.append(config.minimumSamples + Int(rng.next() % 40000)) }
        for length in lengths {
            let expected = config.center
                ? 1 + length / config.hopLength                      // torch.stft, even n_fft
                : 1 + (length - config.winLength) / config.hopLength // Kaldi snip_edges
            #expect(config.frameCount(samples: length) == expected, "\(name) L=\(length)")
            let signal = (0..<length).map { Float(sin(Double($0) * 0.05)) * 0.1 }
            #expect(try extractor.extract(signal).frames == expected)
        }
        #expect(config.frameCount(samples: config.minimumSamples - 1) == 0)
        #expect(config.frameCount(samples: 0) == 0)
    }

    @Test("known frame counts: 2 s and 4 s in sslsv (201 / 401), Kaldi 1 s (98)")
    func knownCounts() {
        #expect(FeatureConfig.sslsv40.frameCount(samples: 32000) == 201)
        #expect(FeatureConfig.sslsv80.frameCount(samples: 64000) == 401)
        #expect(FeatureConfig.kaldi.frameCount(samples: 16000) == 98)
        #expect(FeatureConfig.speechbrain.frameCount(samples: 16000) == 101)
    }
}

/// Local generator so the tests do not depend on SVKernels.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
