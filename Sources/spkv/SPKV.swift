import ArgumentParser
import Foundation
import SpeakerVerification

@main
struct SPKV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spkv",
        abstract: "Speaker verification with ECAPA-TDNN: enroll, verify, score trial lists, evaluate, calibrate.",
        discussion: """
            Exit codes: 0 success (verify: accept), 2 verify: reject, 1 error (the reason is printed on stderr), \
            64 usage error. Models are spkv model files (safetensors-compatible, see models/FORMAT.md).
            """,
        version: SpeakerVerification.version,
        subcommands: [Embed.self, Enroll.self, Verify.self, Score.self, Eval.self, Calibrate.self,
                      Info.self, Features.self, Import.self, Quantize.self, Bench.self, Devices.self]
    )
}

/// Prints an error the way every subcommand reports failures: one line on stderr, exit code 1.
struct ReportedFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
    init(_ error: any Error) { description = String(describing: error) }
}

extension ParsableCommand {
    /// Runs `body`, turning library errors into a clean message (never a stack trace).
    func reportingErrors(_ body: () throws -> Void) throws {
        do { try body() } catch let error as ValidationError { throw error }
        catch let error as ExitCode { throw error }
        catch {
            FileHandle.standardError.write(Data("spkv: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}

/// Options shared by commands that load a model.
struct ModelOption: ParsableArguments {
    @Option(name: .shortAndLong, help: "Path of an spkv model file.")
    var model: String
}

/// Every numeric option is checked against a range in `validate()`, so that no value reaches an integer
/// conversion that traps or sizes an allocation without bound; outside it is a usage error (exit 64).
/// NaN is outside every range.
func checkRange<T: Comparable>(_ value: T, _ range: ClosedRange<T>, _ option: String, unit: String = "") throws {
    guard range.contains(value) else {
        throw ValidationError("\(option) must be from \(range.lowerBound) to \(range.upperBound)\(unit); got \(value)")
    }
}

/// Ranges shared by several commands.
enum OptionRange {
    /// Files embedded in parallel, or OpenBLAS threads.
    static let threads = 1...256
}

/// The audio length limit in force (`SPKV_MAX_AUDIO_SECONDS`, else 30 min); a malformed value is a usage error.
func audioLengthLimit() throws -> Double {
    do { return try AudioFile.maximumSeconds(for: "the command line") } catch { throw ValidationError(error.description) }
}
