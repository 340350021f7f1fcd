import Testing
import SVKernels
import _SVTestSupport
@testable import SVModels

/// The encoder against SpeechBrain's own `ECAPA_TDNN` (C = 64, random weights and BN statistics),
/// fed with the features SpeechBrain computed (fixtures by tools/reference/make_ecapa_fixtures.py).
@Suite struct ECAPAParityTests {
    static let minimumCosine = 0.99999
    static let maxActivationDifference: Float = 1e-3

    static func speechBrainEncoder() throws -> ECAPAEncoder {
        let weights = try SafeTensors.read(path: Fixtures.path("ecapa/speechbrain_c64.safetensors"))
        let config = ECAPAConfig(inputSize: 80, channels: [64, 64, 64, 64, 192], seChannels: 16,
                                 attentionChannels: 16, embeddingSize: 32)
        return try ECAPAEncoder(config: config) { name in try? weights.tensors[name]?.floats().array }
    }

    /// (frames × mels) from the fixture, transposed to the encoder's (mels × frames).
    static func melMajor(_ t: StoredTensor) throws -> (values: [Float], frames: Int) {
        let frames = t.shape[0], mels = t.shape[1], v = try t.floats().array
        var out = [Float](repeating: 0, count: v.count)
        for f in 0..<frames { for m in 0..<mels { out[m * frames + f] = v[f * mels + m] } }
        return (out, frames)
    }

    @Test(arguments: ["speech_a_3s", "speech_b_8s"])
    func embeddingMatchesSpeechBrain(clip: String) throws {
        let golden = try SafeTensors.read(path: Fixtures.path("ecapa/speechbrain_c64_golden.safetensors"))
        let encoder = try Self.speechBrainEncoder()
        let (features, frames) = try Self.melMajor(golden.tensors["\(clip)/features"]!)
        let ours = try encoder.embed(features: features, frames: frames, workspace: ECAPAWorkspace())
        let theirs = try golden.tensors["\(clip)/embedding"]!.floats().array
        let cosine = cosineSimilarity(ours, theirs)
        #expect(cosine >= Self.minimumCosine, "cosine \(cosine); first values \(ours.prefix(5)) vs \(theirs.prefix(5))")
        #expect(maxAbsDifference(ours, theirs) < Self.maxActivationDifference)
    }

    /// WeSpeaker's `ECAPA_TDNN` run from its own source (C = 32, MFA 96, attention 16; see
    /// tools/reference/make_ecapa_fixtures.py), with WeSpeaker's tensor names.
    @Test func embeddingMatchesWeSpeaker() throws {
        let weights = try SafeTensors.read(path: Fixtures.path("ecapa/wespeaker_c32.safetensors"))
        let golden = try SafeTensors.read(path: Fixtures.path("ecapa/wespeaker_c32_golden.safetensors"))
        var config = ECAPAConfig.wespeaker(channels: 32, mfaChannels: 96, inputSize: 80, embeddingSize: 32,
                                           attentionChannels: 16)
        config.seChannels = 128
        let encoder = try ECAPAEncoder(config: config) { name in try? weights.tensors[name]?.floats().array }
        let (features, frames) = try Self.melMajor(golden.tensors["speech_a_3s/features"]!)
        let ours = try encoder.embed(features: features, frames: frames, workspace: ECAPAWorkspace())
        let theirs = try golden.tensors["speech_a_3s/embedding"]!.floats().array
        let cosine = cosineSimilarity(ours, theirs)
        #expect(cosine >= Self.minimumCosine, "cosine \(cosine); first values \(ours.prefix(5)) vs \(theirs.prefix(5))")
        #expect(maxAbsDifference(ours, theirs) < Self.maxActivationDifference)
    }

    @Test func workspaceReuseAcrossLengthsGivesIdenticalResults() throws {
        let golden = try SafeTensors.read(path: Fixtures.path("ecapa/speechbrain_c64_golden.safetensors"))
        let encoder = try Self.speechBrainEncoder()
        let (a, fa) = try Self.melMajor(golden.tensors["speech_a_3s/features"]!)
        let (b, fb) = try Self.melMajor(golden.tensors["speech_b_8s/features"]!)
        let shared = ECAPAWorkspace()
        let first = try encoder.embed(features: a, frames: fa, workspace: shared)
        _ = try encoder.embed(features: b, frames: fb, workspace: shared)   // grows the workspace
        let again = try encoder.embed(features: a, frames: fa, workspace: shared)
        // A stale workspace gives errors of order one; equal to rounding, as the process's OpenBLAS thread
        // count (other suites change it) may split the first layer's sums differently between the calls.
        let scale = first.map(abs).max() ?? 1
        #expect(maxAbsDifference(first, again) <= 1e-5 * max(1, scale))
    }

    @Test func rejectsTooShortAndNonFiniteInput() throws {
        let encoder = try Self.speechBrainEncoder()
        let ws = ECAPAWorkspace()
        #expect(throws: ECAPAError.inputTooShort(frames: 3, minimum: encoder.minimumFrames)) {
            try encoder.embed(features: [Float](repeating: 0, count: 80 * 3), frames: 3, workspace: ws)
        }
        var bad = [Float](repeating: 0.1, count: 80 * 20)
        bad[77] = .nan
        #expect(throws: ECAPAError.nonFiniteInput) { try encoder.embed(features: bad, frames: 20, workspace: ws) }
    }

    @Test func missingOrMisshapenWeightsAreNamed() throws {
        let config = ECAPAConfig(inputSize: 80, channels: [64, 64, 64, 64, 192], seChannels: 16,
                                 attentionChannels: 16, embeddingSize: 32)
        let tensors = config.randomTensors(seed: 3)
        #expect(throws: ECAPAError.missingTensor("mfa.norm.norm.running_var")) {
            try ECAPAEncoder(config: config) { $0 == "mfa.norm.norm.running_var" ? nil : tensors[$0] }
        }
        #expect(throws: ECAPAError.wrongTensorSize(name: "fc.conv.bias", expected: 32, actual: 31)) {
            try ECAPAEncoder(config: config) { $0 == "fc.conv.bias" ? Array(tensors[$0]!.dropLast()) : tensors[$0] }
        }
    }

    @Test func parameterCountMatchesReference() {
        // sslsv's test value for its default C=512, 40-mel, 512-d model (reference-sslsv.md §2.1).
        let sslsvDefault = ECAPAConfig.speechbrain(channels: 512, inputSize: 40, embeddingSize: 512)
        #expect(sslsvDefault.parameterCount == 7_075_008)
    }
}
