import Foundation
import Testing
import _SVTestSupport

/// The Python that runs the package's tests: Debian's (python3-numpy, python3-pytest, python3-venv from apt, as
/// the README's test prerequisites say) when it has numpy and pytest, else the first `python3` on PATH that has.
enum Python {
    static let path: String? = {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for candidate in ["/usr/bin/python3"] + dirs.map({ "\($0)/python3" }) where FileManager.default.isExecutableFile(atPath: candidate) {
            if let r = try? runProcess(candidate, ["-c", "import numpy, pytest"]), r.status == 0 { return candidate }
        }
        return nil
    }()

    static func require() throws -> String {
        try #require(path, "no python3 with numpy and pytest (apt-get install python3-numpy python3-pytest python3-venv)")
    }
}

@Suite("Python package (tools/python over libspkv.so)", .serialized)
struct PythonPackageTests {
    static let package = Repo.root.appendingPathComponent("tools/python").path

    @Test("the package's pytest suite passes against this build's libspkv.so")
    func pytestSuite() throws {
        let python = try Python.require()
        let prefix = try CAPIPrefix()
        defer { prefix.folder.remove() }
        let r = try runProcess(python, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                               environment: ["SPKV_LIBRARY": prefix.lib + "/libspkv.so", "PYTHONPATH": Self.package,
                                             "PYTHONDONTWRITEBYTECODE": "1"],
                               workingDirectory: Self.package)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("13 passed"), "\(r)")
    }

    @Test("pip installs tools/python with no index (offline), and the README's Python example enrolls Joe and decides right")
    func offlineInstallAndReadmeExample() throws {
        let python = try Python.require()
        let example = try expectReadmeShowsExample("tools/python/example.py", fence: "python")

        let prefix = try CAPIPrefix()
        defer { prefix.folder.remove() }
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let venv = try runProcess(python, ["-m", "venv", "--system-site-packages", work.path("venv")])
        try #require(venv.status == 0, "python3 -m venv failed (apt-get install python3-venv): \(venv)")
        // --no-index: nothing may come from the network; the in-tree build backend has no requirements.
        let pip = try runProcess(work.path("venv/bin/python"), ["-m", "pip", "install", "--no-index", "--no-cache-dir", "-q", Self.package],
                                 environment: ["PIP_DISABLE_PIP_VERSION_CHECK": "1"])
        #expect(pip.status == 0, "\(pip)")
        // The example runs from the work folder, so it imports the installed package, not the source tree.
        try FileManager.default.copyItem(atPath: example.path, toPath: work.path("example.py"))
        let args = [work.path("example.py"), CAPIPrefix.defaultModel] + ["joe_13001EJ1.flac", "joe_370007J1.flac", "joe_JOE00942.flac",
                                                                       "joe_7400B3J1.flac", "other_400008P3.flac"].map(Repo.sample)
        let r = try runProcess(work.path("venv/bin/python"), ["-I"] + args,
                               environment: ["SPKV_LIBRARY": prefix.lib + "/libspkv.so", "PYTHONPATH": ""], workingDirectory: work.path(""))
        #expect(r.status == 0, "\(r)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains("joe_7400B3J1.flac: accept") && lines[1].contains("other_400008P3.flac: reject"), "\(r)")
        let installed = try runProcess(work.path("venv/bin/python"), ["-I", "-c", "import spkv; print(spkv.__file__)"],
                                       workingDirectory: work.path(""))
        #expect(installed.stdout.hasPrefix(work.path("venv")), "the example did not use the installed package: \(installed)")
    }
}
