import Foundation
import Testing
import _SVTestSupport

/// Numeric options outside their range are usage errors (exit 64, the option named), never a trap in an
/// integer conversion or an allocation sized by the value. Each of these trapped or ran without bound
/// before the ranges were checked (`--threads 3000000000` trapped in `Int32(...)`, `--repeats 1e14`
/// allocated and ran for ever).
@Suite struct CLIOptionRangeTests {
    static let model = CLIFixtures.speechbrainCheckpoint
    static let audio = Fixtures.path("speech/speech_a_3s.wav")

    static let cases: [(option: String, arguments: [String])] = [
        ("--threads", ["bench", "-m", model, "--threads", "3000000000"]),
        ("--threads", ["bench", "-m", model, "--threads", "0"]),
        ("--repeats", ["bench", "-m", model, "--repeats", "100000000000000"]),
        ("--seconds", ["bench", "-m", model, "--seconds", "nan"]),
        ("--seconds", ["bench", "-m", model, "--seconds", "1e300"]),
        ("--threads", ["embed", "-m", model, "--threads", "3000000000", audio]),
        ("--threads", ["score", "-m", model, "--trials", "t.txt", "--threads", "3000000000"]),
        ("--top-n", ["score", "-m", model, "--trials", "t.txt", "--top-n", "3000000000000"]),
        ("--top-n", ["score", "-m", model, "--trials", "t.txt", "--top-n", "1"]),
        ("--window", ["verify", "-m", model, "--enrollment", "p.json", "--live", "--window", "1e300"]),
        ("--window", ["verify", "-m", model, "--enrollment", "p.json", "--live", "--window", "nan"]),
        ("--duration", ["verify", "-m", model, "--enrollment", "p.json", "--live", "--duration", "1e300"]),
        ("--duration", ["enroll", "-m", model, "--name", "a", "--live", "--duration", "1e300", "-o", "p.json"]),
        ("--duration", ["enroll", "-m", model, "--name", "a", "--live", "--duration", "-1", "-o", "p.json"]),
        ("--refresh", ["verify", "-m", model, "--enrollment", "p.json", "--live", "--refresh", "nan"]),
        ("--reconnect", ["verify", "-m", model, "--enrollment", "p.json", "--live", "--reconnect", "1e300"]),
        ("--min-speech", ["enroll", "-m", model, "--name", "a", "--min-speech", "1e300", "-o", "p.json", audio]),
        // Not a range, but the same kind of mistake: dilations a CAM++ import would ignore.
        ("--dilations", ["import", "--from", "campplus", "x.pt", "-o", "m", "--dilations", "1,2,3,4,1"]),
        ("--dilations", ["import", "--from", "speechbrain", "x.ckpt", "-o", "m", "--dilations", "1,2,3,4,100000000000"]),
        ("--capture-rate", ["verify", "-m", model, "--enrollment", "p.json", "--live", "--capture-rate", "9000000000000000000"]),
    ]

    @Test(arguments: cases.indices)
    func anOutOfRangeValueIsAUsageError(index: Int) throws {
        let (option, arguments) = Self.cases[index]
        let r = try spkv(arguments)
        #expect(r.status == 64, "\(r)")
        #expect(r.stderr.contains(option), "\(r)")
        #expect(r.stdout.isEmpty, "\(r)")
    }

    static let trainCases: [(option: String, arguments: [String])] = [
        ("--threads", ["magneto", "--model", "m", "--corpus", "c", "--out", "o", "--output", "x", "--threads", "3000000000"]),
        ("--hidden", ["magneto", "--model", "m", "--corpus", "c", "--out", "o", "--output", "x", "--hidden", "4000000000,4000000000"]),
        ("--hard-fraction", ["magneto", "--model", "m", "--corpus", "c", "--out", "o", "--output", "x", "--hard-fraction", "nan"]),
        ("--average", ["export", "run", "--output", "x", "--average", "0"]),
        ("--mild-fraction", ["corpus", "synth", "--out", "o", "--mild-fraction", "nan"]),
        ("--threads", ["bench", "--threads", "1,abc"]),
        ("--non-targets", ["corpus", "synth", "--out", "o", "--non-targets", "100000000000"]),
        ("--speakers", ["corpus", "synth", "--out", "o", "--speakers", "100000000000"]),
        ("--max-clips", ["corpus", "import-game", "--out", "o", "--max-clips", "0"]),
        ("--steps", ["bench", "--steps", "0"]),
    ]

    @Test(arguments: trainCases.indices)
    func spkvTrainOutOfRangeValueIsAUsageError(index: Int) throws {
        let (option, arguments) = Self.trainCases[index]
        let r = try spkv(arguments, binary: "spkv-train")
        #expect(r.status == 64, "\(r)")
        #expect(r.stderr.contains(option), "\(r)")
    }

    /// A live session keeps everything it hears for the verdict, so --duration is bounded by the audio
    /// length limit (SPKV_MAX_AUDIO_SECONDS), and a malformed limit is a usage error too.
    @Test func liveDurationIsBoundedByTheAudioLengthLimit() throws {
        let base = ["verify", "-m", Self.model, "--enrollment", "p.json", "--live"]
        let over = try spkv(base + ["--duration", "40"], environment: ["SPKV_MAX_AUDIO_SECONDS": "30"])
        #expect(over.status == 64 && over.stderr.contains("--duration") && over.stderr.contains("SPKV_MAX_AUDIO_SECONDS"), "\(over)")
        let malformed = try spkv(base + ["--duration", "1"], environment: ["SPKV_MAX_AUDIO_SECONDS": "lots"])
        #expect(malformed.status == 64 && malformed.stderr.contains("SPKV_MAX_AUDIO_SECONDS='lots'"), "\(malformed)")
    }

    /// A file longer than the limit is an error naming the file and the limit; a malformed limit names
    /// the variable. Within the limit the same file embeds.
    @Test func filesLongerThanTheAudioLengthLimitAreRefused() throws {
        let imported = try ImportedModel()
        defer { imported.remove() }
        let model = imported.path
        let long = try spkv(["embed", "-m", model, Self.audio], environment: ["SPKV_MAX_AUDIO_SECONDS": "2"])
        expectCleanFailure(long, naming: Self.audio, containing: ["longer than the 2 s", "SPKV_MAX_AUDIO_SECONDS"])
        let malformed = try spkv(["embed", "-m", model, Self.audio], environment: ["SPKV_MAX_AUDIO_SECONDS": "-5"])
        expectCleanFailure(malformed, naming: Self.audio, containing: ["SPKV_MAX_AUDIO_SECONDS='-5'"])
        let fits = try spkv(["embed", "-m", model, Self.audio], environment: ["SPKV_MAX_AUDIO_SECONDS": "4"])
        #expect(fits.status == 0 && fits.stdoutLines.count == 1, "\(fits)")
    }
}
