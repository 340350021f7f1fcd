import Foundation
import Testing
import _SVTestSupport

/// libspkv.so of this build (SwiftPM's SpkvCAPI product, built by `swift build` / `swift test` beside the tests),
/// laid out in a temporary prefix as tools/c-api/install.sh installs it, and a C compiler to build against it.
struct CAPIPrefix {
    let folder: TemporaryDirectory
    var include: String { folder.path("include") }
    var lib: String { folder.path("lib") }

    static let defaultModel = Repo.root.appendingPathComponent("models/campplus-zh-en-16k-magneto-v1.safetensors").path

    init() throws {
        let built = try #require(SPKVBinary.candidates(named: "libSpkvCAPI.so").map(\.path).first { FileManager.default.fileExists(atPath: $0) },
                                 "no libSpkvCAPI.so beside the tests: `swift build --product SpkvCAPI` with the same --scratch-path and -c")
        folder = try TemporaryDirectory()
        let fm = FileManager.default
        try fm.createDirectory(atPath: folder.path("include"), withIntermediateDirectories: true)
        try fm.createDirectory(atPath: folder.path("lib"), withIntermediateDirectories: true)
        try fm.copyItem(atPath: Repo.root.appendingPathComponent("Sources/CSpkv/include/spkv.h").path, toPath: folder.path("include/spkv.h"))
        try fm.createSymbolicLink(atPath: folder.path("lib/libspkv.so"), withDestinationPath: built)
    }

    /// Compiles C `sources` against the prefix (warnings are errors; AddressSanitizer when `sanitize` and the
    /// compiler has it) into an executable; returns its path and whether ASan is in.
    func compile(_ sources: [String], output: String, sanitize: Bool) throws -> (path: String, sanitized: Bool) {
        let compiler = try #require(CCompiler.path, "no C compiler (cc or clang) on PATH")
        let asan = sanitize && CCompiler.hasAddressSanitizer
        let flags = ["-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-g", "-I", include] + (asan ? ["-fsanitize=address"] : [])
        let r = try runProcess(compiler, flags + sources + ["-L", lib, "-lspkv", "-Wl,-rpath,\(lib)", "-lm", "-lpthread", "-o", output])
        #expect(r.status == 0, "\(r)")
        return (output, asan)
    }
}

/// The README example at `path` (relative to the repository): it must be at most 30 lines and stand in README.md
/// exactly as the file holds it, in a ```fence block; returns its URL.
func expectReadmeShowsExample(_ path: String, fence: String) throws -> URL {
    let file = Repo.root.appendingPathComponent(path)
    let code = try String(contentsOf: file, encoding: .utf8)
    #expect(code.filter { $0 == "\n" }.count <= 30, "\(path) is over 30 lines")
    let readme = try String(contentsOf: Repo.root.appendingPathComponent("README.md"), encoding: .utf8)
    #expect(readme.contains("```\(fence)\n" + code + "```"), "README.md does not show \(path) as it is")
    return file
}

/// The C compiler the tests use: `cc`, else the Swift toolchain's `clang`.
enum CCompiler {
    static let path: String? = {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init)
        for name in ["cc", "clang"] {
            if let dir = dirs.first(where: { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }) { return "\(dir)/\(name)" }
        }
        return nil
    }()

    /// Whether a program built with -fsanitize=address links and runs here.
    static let hasAddressSanitizer: Bool = {
        guard let path, let dir = try? TemporaryDirectory() else { return false }
        defer { dir.remove() }
        guard FileManager.default.createFile(atPath: dir.path("t.c"), contents: Data("int main(void) { return 0; }\n".utf8)),
              let built = try? runProcess(path, ["-fsanitize=address", dir.path("t.c"), "-o", dir.path("t")]), built.status == 0,
              let ran = try? runProcess(dir.path("t"), []) else { return false }
        return ran.status == 0
    }()
}

@Suite("C API (libspkv.so, spkv.h)", .serialized)
struct CAPITests {
    @Test("a C program exercises every function of spkv.h and its error paths, under AddressSanitizer where available")
    func everyFunctionAndErrorPath() throws {
        let prefix = try CAPIPrefix()
        defer { prefix.folder.remove() }
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let source = Repo.root.appendingPathComponent("Tests/SVCLITests/C/api_test.c").path
        let program = try prefix.compile([source], output: work.path("api_test"), sanitize: true)
        let r = try runProcess(program.path, [CAPIPrefix.defaultModel, Repo.samples, work.path("")],
                               environment: ["ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("model: campplus fp32, 16000 Hz, 192 values, LLR 1, MagNetO 1"), "\(r)")
        let summary = try #require(r.stdout.split(separator: "\n").last { $0.hasPrefix("all ") }, "\(r)")
        let count = try #require(Int(summary.split(separator: " ")[1]), "\(summary)")
        #expect(count >= 180, "only \(count) checks ran")
        if !program.sanitized { print("note: the C compiler here has no AddressSanitizer; the C API test ran without it") }
    }

    @Test("libspkv.so exports exactly the functions spkv.h declares")
    func exportedSymbols() throws {
        let prefix = try CAPIPrefix()
        defer { prefix.folder.remove() }
        let header = try String(contentsOfFile: prefix.include + "/spkv.h", encoding: .utf8)
        let declared = Set(header.matches(of: /\b(spkv_[a-z_]+)\s*\(/).map { String($0.1) })
        #expect(declared.count == 26, "\(declared.sorted())")
        // dlopen in a C program of its own: loading a second copy of the engine's Swift modules into this test
        // process (which links them statically) is not safe.
        let hidden = ["spkv_q8_gemm", "spkv_f32_gemm_indirect", "spkv_alsa_route_errors"]
        var program = "#include <dlfcn.h>\n#include <stdio.h>\nint main(int argc, char **argv) {\n    (void)argc;\n"
        program += "    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);\n    if (!h) { printf(\"dlopen: %s\\n\", dlerror()); return 1; }\n    int bad = 0;\n"
        for name in declared.sorted() { program += "    if (!dlsym(h, \"\(name)\")) { printf(\"missing \(name)\\n\"); bad = 1; }\n" }
        for name in hidden { program += "    if (dlsym(h, \"\(name)\")) { printf(\"exported \(name)\\n\"); bad = 1; }\n" }
        program += "    return bad;\n}\n"
        let work = try TemporaryDirectory()
        defer { work.remove() }
        try program.write(toFile: work.path("exports.c"), atomically: true, encoding: .utf8)
        let compiler = try #require(CCompiler.path, "no C compiler (cc or clang) on PATH")
        let built = try runProcess(compiler, [work.path("exports.c"), "-ldl", "-o", work.path("exports")])
        #expect(built.status == 0, "\(built)")
        let r = try runProcess(work.path("exports"), [prefix.lib + "/libspkv.so"])
        #expect(r.status == 0, "\(r)")
        let map = try String(contentsOf: Repo.root.appendingPathComponent("Sources/SpkvCAPI/exports.map"), encoding: .utf8)
        let exported = Set(map.matches(of: /^\s+(spkv_[a-z_]+);/.anchorsMatchLineEndings()).map { String($0.1) })
        #expect(exported == declared, "exports.map and spkv.h differ: \(exported.symmetricDifference(declared).sorted())")
    }

    @Test("the README's C example is tools/c-api/verify_example.c, and it enrolls Joe and decides right with the default model")
    func readmeExample() throws {
        let file = try expectReadmeShowsExample("tools/c-api/verify_example.c", fence: "c")
        let prefix = try CAPIPrefix()
        defer { prefix.folder.remove() }
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let program = try prefix.compile([file.path], output: work.path("verify_example"), sanitize: false)
        let r = try runProcess(program.path, [CAPIPrefix.defaultModel] + ["joe_13001EJ1.flac", "joe_370007J1.flac", "joe_JOE00942.flac",
                                                                          "joe_7400B3J1.flac", "other_400008P3.flac"].map(Repo.sample))
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2, "\(r)")
        #expect(lines.first?.contains("joe_7400B3J1.flac: accept") == true, "\(r)")
        #expect(lines.last?.contains("other_400008P3.flac: reject") == true, "\(r)")
    }
}
