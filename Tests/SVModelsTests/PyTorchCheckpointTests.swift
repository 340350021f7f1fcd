import Foundation
import SVKernels
import Testing
import _SVTestSupport

@testable import SVModels

/// The PyTorch zip checkpoint reader: values against safetensors copies written by torch itself
/// (tools/reference/make_pytorch_fixtures.py), the allow-list, zip variants (ZIP64, compressed,
/// encrypted, corrupt), hand-built pickles for each failure, and seeded fuzzing.
@Suite("PyTorch checkpoint reader")
struct PyTorchCheckpointTests {
    static func fixture(_ name: String) throws -> [UInt8] {
        try Array(Data(contentsOf: Fixtures.url("pytorch/\(name)")))
    }

    static func read(_ bytes: [UInt8]) -> Result<PyTorchCheckpoint, PyTorchCheckpointError> {
        do { return .success(try PyTorchCheckpoint.read(bytes: bytes)) } catch { return .failure(error) }
    }

    static func error(_ bytes: [UInt8]) -> PyTorchCheckpointError? {
        if case .failure(let e) = read(bytes) { return e }
        return nil
    }

    // MARK: - Values written by torch.save

    @Test("every tensor equals the safetensors copy", arguments: ["small_p2.ckpt", "small_p5.ckpt"])
    func smallCheckpointMatchesSafetensors(file: String) throws {
        let checkpoint = try PyTorchCheckpoint.read(path: Fixtures.path("pytorch/\(file)"))
        let reference = try SafeTensors.read(path: Fixtures.path("pytorch/small.safetensors")).tensors
        #expect(checkpoint.tensors.keys.sorted() == reference.keys.sorted())
        for (name, expected) in reference {
            let got = try #require(checkpoint.tensors[name])
            #expect(got == expected, "\(name): \(got) vs \(expected)")
        }
        // Nested dicts are flattened with dots; non-tensor values are listed, in pickle order.
        #expect(checkpoint.skipped.map(\.description) == [
            "epoch (int)", "lr (float)", "name (str)", "history (list)", "optimizer.step (int)", "optimizer.betas (tuple)",
        ])
    }

    @Test func viewsSharedStorageScalarsAndEmptyTensors() throws {
        let t = try PyTorchCheckpoint.read(path: Fixtures.path("pytorch/small_p2.ckpt")).tensors
        let base = try #require(t["model.base"]), tail = try #require(t["model.tail"])
        #expect(try base.floats().array == (0..<10).map { Float($0) * 0.5 - 1 })
        #expect(tail.shape == [2, 3])
        #expect(try tail.floats().array == Array(try base.floats().array[4...]))
        let matrix = try #require(t["model.matrix"]).floats().array
        let transposed = try #require(t["model.matrix_t"])
        #expect(transposed.shape == [4, 3])
        let tv = try transposed.floats().array
        for i in 0..<4 { for j in 0..<3 { #expect(tv[i * 3 + j] == matrix[j * 4 + i]) } }
        #expect(try #require(t["model.column"]).floats().array == [matrix[1], matrix[5], matrix[9]])
        #expect(t["model.scalar"]?.shape == [] && t["model.scalar"].map { try! $0.floats().array } == [2.5])
        #expect(try t["model.num_batches_tracked"]?.int64s() == [1])
        #expect(t["model.empty"]?.shape == [0, 3] && t["model.empty"]?.byteCount == 0)
        #expect(try t["model.i64"]?.int64s() == [-(1 << 62), -1, 0, 7, 1 << 62])
        #expect(t["model.mask"]?.dtype == .bool && t["model.mask"]?.bytes == [1, 0, 1])
        #expect(t["model.param"]?.shape == [4])
    }

    @Test func legacyPickleIsRefusedWithAHint() throws {
        #expect(Self.error(try Self.fixture("legacy.pt")) == .legacyFormat)
        #expect(PyTorchCheckpointError.legacyFormat.description.contains("tools/convert_checkpoint.py"))
    }

    // MARK: - The allow-list

    @Test func forbiddenGlobalFixtureIsRefusedByName() throws {
        let error = Self.error(try Self.fixture("forbidden_global.ckpt"))
        #expect(error == .forbiddenGlobal(module: "os", name: "system"))
        #expect(error?.description.contains("'os.system'") == true)
    }

    @Test("globals outside the allow-list are refused before anything else happens", arguments: [
        ("builtins", "eval"), ("subprocess", "Popen"), ("torch", "load"), ("torch._utils", "_rebuild_qtensor"),
        ("collections", "defaultdict"), ("numpy.core.multiarray", "_reconstruct"), ("torch.nn.modules.linear", "Linear"),
    ])
    func forbiddenGlobals(module: String, name: String) {
        let viaGlobal = Pickle().proto().global(module, name).unicode("x").tuple1().reduce().stop()
        #expect(Self.error(TestZip.checkpoint(pickle: viaGlobal.bytes)) == .forbiddenGlobal(module: module, name: name))
        let viaStack = Pickle().proto(4).unicode(module).unicode(name).op(0x93).emptyTuple().reduce().stop()
        #expect(Self.error(TestZip.checkpoint(pickle: viaStack.bytes)) == .forbiddenGlobal(module: module, name: name))
    }

    @Test func allowListIsSmallAndDataOnly() {
        let list = PyTorchCheckpoint.allowList
        #expect(list.contains("torch._utils._rebuild_tensor_v2") && list.contains("torch.BFloat16Storage") && list.contains("torch.float32"))
        #expect(!list.contains { $0.hasPrefix("builtins") || $0.hasPrefix("os.") || $0.hasPrefix("posix") })
    }

    @Test("opcodes that import or call outside the allow-list are unsupported", arguments: [
        (UInt8(0x69), "INST"), (0x6F, "OBJ"), (0x92, "NEWOBJ_EX"), (0x82, "EXT"), (0x50, "PERSID"), (0x49, "INT"),
    ])
    func unsupportedOpcodes(opcode: UInt8, name: String) {
        let pickle = Pickle().proto().op(opcode).stop()
        #expect(Self.error(TestZip.checkpoint(pickle: pickle.bytes)) == .unsupportedOpcode(opcode: opcode, name: name, offset: 2))
    }

    // MARK: - Zip variants

    /// The entries of a torch-written checkpoint, for re-packing.
    static func entries(_ file: String) throws -> [TestZip.Entry] {
        let archive = try ZipArchive(source: ByteArraySource(try fixture(file)))
        return try archive.entries.map { TestZip.Entry(name: $0.name, data: try archive.contents(of: $0)) }
    }

    @Test func zip64ArchiveReadsTheSame() throws {
        let entries = try Self.entries("small_p2.ckpt")
        let plain = try PyTorchCheckpoint.read(path: Fixtures.path("pytorch/small_p2.ckpt"))
        for zip64 in [false, true] {
            let repacked = try PyTorchCheckpoint.read(bytes: TestZip.build(entries, zip64: zip64, comment: Array("c".utf8)))
            #expect(repacked.tensors == plain.tensors)
            #expect(repacked.skipped == plain.skipped)
        }
    }

    @Test func compressedEncryptedAndCorruptEntriesAreClearErrors() throws {
        var entries = try Self.entries("small_p2.ckpt")
        let storage = try #require(entries.firstIndex { $0.name == "small_p2/data/0" })
        var deflated = entries
        deflated[storage].method = 8
        #expect(Self.error(TestZip.build(deflated)) == .unsupportedZipEntry(
            entry: "small_p2/data/0", reason: "it is deflate-compressed; torch.save writes stored (uncompressed) entries"))
        var encrypted = entries
        encrypted[storage].flags = 1
        #expect(Self.error(TestZip.build(encrypted)) == .unsupportedZipEntry(entry: "small_p2/data/0", reason: "it is encrypted"))
        let good = TestZip.build(entries)
        entries[storage].crc = CRC32.checksum(entries[storage].data)
        entries[storage].data[0] ^= 1
        guard case .checksumMismatch(let entry, _, _)? = Self.error(TestZip.build(entries)) else { Issue.record("expected a CRC error"); return }
        #expect(entry == "small_p2/data/0")
        #expect(Self.error(Array(good.prefix(100))) == .notZipArchive(reason: "no end-of-central-directory record"))
        #expect(Self.error(TestZip.build(entries.filter { !$0.name.hasSuffix("data.pkl") })) == .missingEntry(name: "<root>/data.pkl"))
        #expect(Self.error(TestZip.build(entries.filter { $0.name != "small_p2/data/0" })) == .missingEntry(name: "small_p2/data/0"))
        var bigEndian = try Self.entries("small_p2.ckpt")
        bigEndian[bigEndian.firstIndex { $0.name.hasSuffix("byteorder") }!].data = Array("big".utf8)
        #expect(Self.error(TestZip.build(bigEndian)) == .unsupportedByteOrder("big"))
    }

    // MARK: - Hand-built pickles

    @Test func stridedViewsAreBoundsChecked() {
        func read(numel: Int, storageBytes: Int, offset: Int, size: [Int], stride: [Int]) -> Result<PyTorchCheckpoint, PyTorchCheckpointError> {
            Self.read(TestZip.checkpoint(pickle: Pickle.tensorDict(numel: numel, offset: offset, size: size, stride: stride).bytes,
                                         storages: ["0": [UInt8](repeating: 7, count: storageBytes)]))
        }
        // In range: a strided view is gathered.
        if case .success(let c) = read(numel: 6, storageBytes: 24, offset: 0, size: [2, 2], stride: [3, 2]) {
            #expect(c.tensors["w"]?.shape == [2, 2])
        } else { Issue.record("valid view refused") }
        // A size-1 dimension may carry any stride (here Int64.max) without overflowing the gather.
        let storage: [UInt8] = (0..<6).flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian, Array.init) }
        let odd = Self.read(TestZip.checkpoint(pickle: Pickle.tensorDict(numel: 6, offset: 0, size: [1, 2], stride: [Int(Int64.max), 3]).bytes,
                                               storages: ["0": storage]))
        #expect((try? odd.get().tensors["w"]?.floats().array) == [0, 3])
        // One element past the storage.
        guard case .failure(.invalidTensor(name: "w", _)) = read(numel: 6, storageBytes: 24, offset: 1, size: [2, 2], stride: [3, 2]) else {
            Issue.record("out-of-range view accepted"); return
        }
        // Storage entry size disagrees with the persistent id.
        guard case .failure(.invalidTensor(name: "w", _)) = read(numel: 6, storageBytes: 20, offset: 0, size: [5], stride: [1]) else {
            Issue.record("short storage accepted"); return
        }
        // A broadcast view larger than the file, and sizes whose product overflows.
        guard case .failure(.invalidTensor(name: "w", _)) = read(numel: 1, storageBytes: 4, offset: 0, size: [1 << 40], stride: [0]) else {
            Issue.record("huge view accepted"); return
        }
        guard case .failure(.invalidTensor(name: "w", _)) = read(numel: 1, storageBytes: 4, offset: 0, size: [1 << 40, 1 << 40], stride: [0, 0]) else {
            Issue.record("overflowing view accepted"); return
        }
    }

    @Test func structuralErrors() {
        func error(_ p: Pickle) -> PyTorchCheckpointError? { Self.error(TestZip.checkpoint(pickle: p.bytes)) }
        #expect(error(Pickle().proto().op(0x52).stop()) == .malformedPickle(offset: 2, problem: "stack underflow"))
        #expect(error(Pickle().proto().op(0x68, 5).stop()) == .malformedPickle(offset: 2, problem: "memo entry 5 was never stored"))
        #expect(error(Pickle().proto().op(0x75)) == .malformedPickle(offset: 2, problem: "no MARK on the stack"))
        #expect(error(Pickle().proto().emptyDict()) == .malformedPickle(offset: 3, problem: "ends without STOP"))
        #expect(error(Pickle().proto().op(0x58, 0xFF, 0xFF, 0xFF, 0x7F).stop())
                == .malformedPickle(offset: 2, problem: "length or index 2147483647 exceeds the pickle's size"))
        #expect(error(Pickle().proto().op(0x5D).stop()) == .notAStateDict(found: "list"))
        // A dict that contains itself, and dicts nested 10 000 deep, stop at the nesting limit.
        let cycle = Pickle().proto().emptyDict().op(0x71, 0).mark().unicode("a").op(0x68, 0).op(0x75).stop()
        #expect(error(cycle) == .nestingTooDeep(name: Array(repeating: "a", count: 32).joined(separator: "."), limit: 32))
        var deep = Pickle().proto().emptyDict()
        for _ in 0..<10_000 { deep = deep.unicode("a").emptyDict() }
        for _ in 0..<10_000 { deep = deep.op(0x73) }
        guard case .nestingTooDeep? = error(deep.stop()) else { Issue.record("deep nesting accepted"); return }
        // 25 levels of {"a": d, "b": d} would flatten to 2^25 paths: refused by the entry budget.
        var dag = Pickle().proto().emptyDict().op(0x71, 0)
        for i in 1...25 {
            dag = dag.emptyDict().mark().unicode("a").op(0x68, UInt8(i - 1)).unicode("b").op(0x68, UInt8(i - 1)).op(0x75).op(0x71, UInt8(i))
        }
        guard case .tooLarge? = error(dag.stop()) else { Issue.record("exponential flattening accepted"); return }
        // 200 000 nested tuples are released without recursion.
        var tuples = Pickle().proto().op(0x4E)
        for _ in 0..<200_000 { tuples = tuples.tuple1() }
        #expect(error(tuples.stop()) == .notAStateDict(found: "tuple"))
    }

    // MARK: - Inputs that expand when read

    /// Tensors "t0"…"t<count-1>", each a one-element view of its own storage "0"…"<count-1>" of `numel` floats.
    static func views(count: Int, numel: Int) -> [UInt8] {
        (0..<count).reduce(Pickle().proto().emptyDict()) { $0.tensor("t\($1)", storage: "\($1)", numel: numel, size: [1], stride: [1]) }
            .stop().bytes
    }

    @Test func overlappingZipEntriesAreRefusedByName() throws {
        // 64 central records point at the local header and data of "archive/data/0": each storage
        // would be read, and held, separately (16 kB on disk becomes 1 MB in memory).
        let storage = [UInt8](repeating: 0, count: 16 << 10)
        let pickle = Self.views(count: 64, numel: storage.count / 4)
        var entries = [TestZip.Entry(name: "archive/data.pkl", data: pickle), TestZip.Entry(name: "archive/byteorder", data: Array("little".utf8)),
                       TestZip.Entry(name: "archive/data/0", data: storage)]
        let shared = TestZip.localRecord(entries[0]).count + TestZip.localRecord(entries[1]).count
        entries += (1..<64).map { TestZip.Entry(name: "archive/data/\($0)", data: storage, localHeaderOffset: shared) }
        let error = Self.error(TestZip.build(entries))
        #expect(error == .overlappingZipEntries(first: "archive/data/0", second: "archive/data/1"))
        #expect(error?.description.contains("'archive/data/0' and 'archive/data/1'") == true)

        // An entry hidden inside another's data: "archive/data/1" has its own local header 8 bytes into
        // the data of "archive/data/0".
        let inner = TestZip.Entry(name: "archive/data/1", data: [1, 2, 3, 4])
        let outer = [UInt8](repeating: 0, count: 8) + TestZip.localRecord(inner) + [UInt8](repeating: 0, count: 8)
        let pickle2 = Pickle().proto().emptyDict().tensor("t0", storage: "0", numel: outer.count / 4, size: [1], stride: [1])
            .tensor("t1", storage: "1", numel: 1, size: [1], stride: [1]).stop().bytes
        var hidden = [TestZip.Entry(name: "archive/data.pkl", data: pickle2), TestZip.Entry(name: "archive/data/0", data: outer)]
        let innerHeader = TestZip.localRecord(hidden[0]).count + 30 + hidden[1].name.utf8.count + 8
        hidden.append(TestZip.Entry(name: "archive/data/1", data: inner.data, localHeaderOffset: innerHeader))
        #expect(Self.error(TestZip.build(hidden)) == .overlappingZipEntries(first: "archive/data/0", second: "archive/data/1"))
    }

    @Test func namesRepeatedThroughTheMemoCountAgainstTheByteBudget() {
        func error(_ p: Pickle) -> PyTorchCheckpointError? { Self.error(TestZip.checkpoint(pickle: p.bytes)) }
        let overdrawn = PyTorchCheckpoint.DecodeBudget.what(reachedAt: PyTorchCheckpoint.DecodeBudget.flattening)
        let long = String(repeating: "k", count: 60_000)
        // One dict {long: None}, memoised and set under 1000 keys: 1000 names of 60 kB (60 MB) from a
        // 70 kB file, well inside the entry budget.
        var sharedDict = Pickle().proto().emptyDict().unicode(long).op(0x4E).op(0x73).op(0x71, 0).op(0x30).emptyDict().mark()
        for i in 0..<1000 { sharedDict = sharedDict.unicode("a\(i)").op(0x68, 0) }
        sharedDict = sharedDict.op(0x75).stop()
        #expect(error(sharedDict) == .tooLarge(what: overdrawn, limit: TestZip.checkpoint(pickle: sharedDict.bytes).count * PyTorchCheckpoint.maxExpansion))

        // One string memoised once and used as the key of 1000 separate dicts.
        var sharedString = Pickle().proto().unicode(long).op(0x71, 0).op(0x30).emptyDict().mark()
        for i in 0..<1000 { sharedString = sharedString.unicode("a\(i)").emptyDict().op(0x68, 0).op(0x4E).op(0x73) }
        guard case .tooLarge(overdrawn, _)? = error(sharedString.op(0x75).stop()) else { Issue.record("shared string key accepted"); return }

        // A 1000-key dict (60-byte keys) shared by 50 keys: 50 050 entries fit the entry budget of a
        // 66 kB pickle, but their names take 3.3 MB.
        var wide = Pickle().proto().emptyDict().mark()
        for i in 0..<1000 { wide = wide.unicode("encoder.blocks.\(1000 + i)." + String(repeating: "w", count: 40)).op(0x4E) }
        wide = wide.op(0x75).op(0x71, 0).op(0x30).emptyDict().mark()
        for i in 0..<50 { wide = wide.unicode("m\(i)").op(0x68, 0) }
        guard case .tooLarge(overdrawn, _)? = error(wide.op(0x75).stop()) else { Issue.record("shared wide dict accepted"); return }
    }

    @Test func storageBytesCountAgainstTheByteBudget() throws {
        // Eight full views of one 64 kB storage: the copies alone fit in 8 × the file, but not beside
        // the storage they are copied from.
        let storage = [UInt8](repeating: 0, count: 64 << 10)
        func copies(_ n: Int) -> [UInt8] {
            let pickle = (0..<n).reduce(Pickle().proto().emptyDict()) {
                $0.tensor("t\($1)", numel: storage.count / 4, size: [storage.count / 4], stride: [1])
            }
            return TestZip.checkpoint(pickle: pickle.stop().bytes, storages: ["0": storage])
        }
        let eight = copies(8)
        #expect(Self.error(eight) == .tooLarge(what: PyTorchCheckpoint.DecodeBudget.what(reachedAt: "copying tensor 't7': views of one storage are copied apart"),
                                               limit: eight.count * PyTorchCheckpoint.maxExpansion))
        #expect(try PyTorchCheckpoint.read(bytes: copies(7)).tensors.count == 7)
    }

    @Test func aMemoisedStringEncodedAgainAndAgainCountsAgainstTheByteBudget() {
        // _codecs.encode(<60 kB str>, "latin1") called 1000 times with memoised arguments: 60 MB of
        // bytes from a 60 kB pickle.
        var p = Pickle().proto().emptyDict().unicode("x").op(0x5D)
        p = p.global("_codecs", "encode").op(0x71, 0).op(0x30)
        p = p.unicode(String(repeating: "b", count: 60_000)).unicode("latin1").op(0x86).op(0x71, 1).op(0x30).mark()
        for _ in 0..<1000 { p = p.op(0x68, 0).op(0x68, 1).reduce() }
        guard case .tooLarge(let what, _)? = Self.error(TestZip.checkpoint(pickle: p.op(0x65).op(0x73).stop().bytes)) else {
            Issue.record("repeated _codecs.encode accepted"); return
        }
        #expect(what.contains("_codecs.encode"))
    }

    // MARK: - Fuzzing

    static let iterations = 3000

    static func mutate(_ base: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = base
        let interesting: [UInt8] = [0x00, 0x01, 0x28, 0x2E, 0x52, 0x62, 0x71, 0x68, 0x7F, 0x80, 0x93, 0xFF]
        for _ in 0..<(1 + Int(rng.next() % 3)) where !b.isEmpty {
            let i = Int(rng.next() % UInt64(b.count))
            switch rng.next() % 7 {
            case 0: b[i] ^= UInt8(1) << (rng.next() % 8)
            case 1: b[i] = UInt8(truncatingIfNeeded: rng.next())
            case 2: b[i] = interesting[Int(rng.next() % UInt64(interesting.count))]
            case 3: b.removeLast(Int(rng.next() % UInt64(b.count + 1)))
            case 4: b.remove(at: i)
            case 5: b.insert(interesting[Int(rng.next() % UInt64(interesting.count))], at: i)
            default:  // duplicate a run (repeats opcodes, grows lengths)
                let n = min(b.count - i, 1 + Int(rng.next() % 16))
                b.insert(contentsOf: b[i..<i + n], at: i)
            }
        }
        return b
    }

    @Test("mutated archives never trap", arguments: ["small_p2.ckpt", "small_p5.ckpt"])
    func fuzzArchive(file: String) throws {
        let base = try Self.fixture(file)
        var rng = SplitMix64(seed: 0x5EED_0001)
        for _ in 0..<Self.iterations { _ = Self.read(Self.mutate(base, &rng)) }
    }

    /// The pickle is mutated and re-packed with valid CRCs, so the unpickler sees every mutation.
    @Test("mutated pickles never trap", arguments: ["small_p2.ckpt", "small_p5.ckpt"])
    func fuzzPickle(file: String) throws {
        var entries = try Self.entries(file)
        let p = try #require(entries.firstIndex { $0.name.hasSuffix("/data.pkl") })
        let pickle = entries[p].data
        var rng = SplitMix64(seed: 0x5EED_0002)
        var parsed = 0
        for _ in 0..<Self.iterations {
            entries[p].data = Self.mutate(pickle, &rng)
            if case .success = Self.read(TestZip.build(entries)) { parsed += 1 }
        }
        #expect(parsed > 0)  // some mutations (e.g. in names or values) still parse
    }
}

// MARK: - Test helpers: a pickle assembler and a zip writer

/// Emits pickle opcodes by hand (nothing is ever unpickled by Python here).
struct Pickle {
    var bytes: [UInt8] = []

    func op(_ code: UInt8, _ args: UInt8...) -> Pickle { var p = self; p.bytes += [code] + args; return p }
    func proto(_ v: UInt8 = 2) -> Pickle { op(0x80, v) }
    func stop() -> Pickle { op(0x2E) }
    func mark() -> Pickle { op(0x28) }
    func emptyDict() -> Pickle { op(0x7D) }
    func emptyTuple() -> Pickle { op(0x29) }
    func tuple() -> Pickle { op(0x74) }
    func tuple1() -> Pickle { op(0x85) }
    func reduce() -> Pickle { op(0x52) }
    func global(_ module: String, _ name: String) -> Pickle {
        var p = self; p.bytes += [0x63] + Array("\(module)\n\(name)\n".utf8); return p
    }
    func unicode(_ s: String) -> Pickle {
        let u = Array(s.utf8)
        var p = self; p.bytes += [0x58] + withUnsafeBytes(of: UInt32(u.count).littleEndian, Array.init) + u; return p
    }
    func int(_ v: Int32) -> Pickle {
        var p = self; p.bytes += [0x4A] + withUnsafeBytes(of: v.littleEndian, Array.init); return p
    }
    func ints(_ values: [Int]) -> Pickle {
        values.reduce(mark()) { $0.int(Int32(truncatingIfNeeded: $1)) }.tuple()
    }

    /// `{"w": _rebuild_tensor_v2(<FloatStorage "0" of numel>, offset, size, stride, False, OrderedDict())}`.
    static func tensorDict(numel: Int, offset: Int, size: [Int], stride: [Int]) -> Pickle {
        Pickle().proto().emptyDict().tensor("w", numel: numel, offset: offset, size: size, stride: stride).stop()
    }

    /// Sets `key` to `_rebuild_tensor_v2(<FloatStorage storage of numel>, offset, size, stride, False,
    /// OrderedDict())` in the dict on top of the stack; sizes above Int32 as LONG1.
    func tensor(_ key: String, storage: String = "0", numel: Int, offset: Int = 0, size: [Int], stride: [Int]) -> Pickle {
        func long(_ p: Pickle, _ v: Int) -> Pickle {
            var q = p; q.bytes += [0x8A, 8] + withUnsafeBytes(of: Int64(v).littleEndian, Array.init); return q
        }
        var p = unicode(key).global("torch._utils", "_rebuild_tensor_v2").mark()
        p = p.mark().unicode("storage").global("torch", "FloatStorage").unicode(storage).unicode("cpu")
        p = long(p, numel).tuple().op(0x51)
        p = long(p, offset)
        p = size.reduce(p.mark(), long).tuple()
        p = stride.reduce(p.mark(), long).tuple()
        return p.op(0x89).global("collections", "OrderedDict").emptyTuple().reduce().tuple().reduce().op(0x73)
    }
}

/// Writes stored zip archives (optionally ZIP64) with arbitrary method and flag fields.
enum TestZip {
    struct Entry {
        var name: String
        var data: [UInt8]
        var method: UInt16 = 0
        var flags: UInt16 = 0
        /// Stored CRC-32; nil = that of `data`.
        var crc: UInt32? = nil
        /// When set, the central record points here and the entry writes no local header or data of its
        /// own (overlapping entries, the zip-bomb pattern). Not with `zip64`.
        var localHeaderOffset: Int? = nil
    }

    static func checkpoint(pickle: [UInt8], storages: [String: [UInt8]] = [:]) -> [UInt8] {
        build([Entry(name: "archive/data.pkl", data: pickle), Entry(name: "archive/byteorder", data: Array("little".utf8))]
              + storages.sorted { $0.key < $1.key }.map { Entry(name: "archive/data/\($0.key)", data: $0.value) })
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }

    static func build(_ entries: [Entry], zip64: Bool = false, comment: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for e in entries {
            let offset = e.localHeaderOffset ?? out.count
            let name = Array(e.name.utf8)
            let crc = e.crc ?? CRC32.checksum(e.data)
            let size32: UInt32 = zip64 ? 0xFFFF_FFFF : UInt32(e.data.count)
            if e.localHeaderOffset == nil { out += localRecord(e, zip64: zip64) }
            let centralExtra = zip64
                ? le(UInt16(1)) + le(UInt16(24)) + le(UInt64(e.data.count)) + le(UInt64(e.data.count)) + le(UInt64(offset)) : []
            central += le(UInt32(0x0201_4B50)) + le(UInt16(45)) + le(UInt16(45)) + le(e.flags) + le(e.method) + le(UInt32(0))
            central += le(crc) + le(size32) + le(size32) + le(UInt16(name.count)) + le(UInt16(centralExtra.count))
            central += le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0))
            central += le(zip64 ? 0xFFFF_FFFF : UInt32(offset)) + name + centralExtra
        }
        let cdOffset = out.count
        out += central
        if zip64 {
            let recordOffset = out.count
            out += le(UInt32(0x0606_4B50)) + le(UInt64(44)) + le(UInt16(45)) + le(UInt16(45)) + le(UInt32(0)) + le(UInt32(0))
            out += le(UInt64(entries.count)) + le(UInt64(entries.count)) + le(UInt64(central.count)) + le(UInt64(cdOffset))
            out += le(UInt32(0x0706_4B50)) + le(UInt32(0)) + le(UInt64(recordOffset)) + le(UInt32(1))
            out += le(UInt32(0x0605_4B50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0xFFFF)) + le(UInt16(0xFFFF))
            out += le(UInt32(0xFFFF_FFFF)) + le(UInt32(0xFFFF_FFFF))
        } else {
            out += le(UInt32(0x0605_4B50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(entries.count)) + le(UInt16(entries.count))
            out += le(UInt32(central.count)) + le(UInt32(cdOffset))
        }
        return out + le(UInt16(comment.count)) + comment
    }

    /// An entry's local header followed by its data.
    static func localRecord(_ e: Entry, zip64: Bool = false) -> [UInt8] {
        let name = Array(e.name.utf8)
        let size32: UInt32 = zip64 ? 0xFFFF_FFFF : UInt32(e.data.count)
        let extra = zip64 ? le(UInt16(1)) + le(UInt16(16)) + le(UInt64(e.data.count)) + le(UInt64(e.data.count)) : []
        return le(UInt32(0x0403_4B50)) + le(UInt16(45)) + le(e.flags) + le(e.method) + le(UInt32(0)) + le(e.crc ?? CRC32.checksum(e.data))
            + le(size32) + le(size32) + le(UInt16(name.count)) + le(UInt16(extra.count)) + name + extra + e.data
    }
}
