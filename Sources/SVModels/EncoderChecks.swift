import SVKernels

/// What every encoder checks the same way: its weights when built, its input before a forward pass,
/// and the layout of its workspace.
enum EncoderChecks {
    /// The named weights from `tensor`, checked: present, of the size `table` gives, finite.
    static func weights(_ name: String, table: [String: [Int]], from tensor: (String) -> [Float]?) throws(ECAPAError) -> [Float] {
        guard let v = tensor(name) else { throw .missingTensor(name) }
        let expected = table[name]!.reduce(1, *)
        guard v.count == expected else { throw .wrongTensorSize(name: name, expected: expected, actual: v.count) }
        guard v.allSatisfy({ $0.isFinite }) else { throw .nonFiniteWeights(name) }
        return v
    }

    /// Enough frames, and no NaN or infinity in the (inputSize × frames) features.
    static func input(_ features: UnsafePointer<Float>, inputSize: Int, frames: Int, minimumFrames: Int) throws(ECAPAError) {
        guard frames >= minimumFrames else { throw .inputTooShort(frames: frames, minimum: minimumFrames) }
        for i in 0..<(inputSize * frames) where !features[i].isFinite { throw .nonFiniteInput }
    }

    /// `embed` on a flat (inputSize × frames) array, returning the `embeddingSize` values.
    static func embedArray(_ features: [Float], frames: Int, inputSize: Int, embeddingSize: Int,
                           _ embed: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) throws(ECAPAError) -> Void) throws(ECAPAError) -> [Float] {
        guard features.count == inputSize * frames else {
            throw .wrongInputSize(expected: inputSize, actual: frames == 0 ? 0 : features.count / max(frames, 1))
        }
        var out = [Float](repeating: 0, count: embeddingSize)
        try features.withUnsafeBufferPointer { (f) throws(ECAPAError) in
            try out.withUnsafeMutableBufferPointer { (o) throws(ECAPAError) in try embed(f.baseAddress!, o.baseAddress!) }
        }
        return out
    }

    /// Offsets of regions of `sizes` floats laid end to end, each rounded up to 16 floats so that every
    /// region starts 64-byte aligned; and the total.
    static func alignedOffsets(_ sizes: [Int]) -> (offsets: [Int], total: Int) {
        var total = 0
        let offsets = sizes.map { size in
            defer { total += (size + 15) / 16 * 16 }
            return total
        }
        return (offsets, total)
    }
}

/// The named scratch regions of one encoder workspace: laid out for one encoder (region sizes follow
/// its config) and a frame capacity; grown for longer inputs, laid out anew for another encoder, and
/// reused as they are otherwise, so that steady-state calls do not allocate.
final class WorkspaceRegions {
    private(set) var capacityFrames = 0
    private var storage = AlignedBuffer(count: 0)
    private var offsets: [Int] = []
    private var owner: ObjectIdentifier?

    var byteCount: Int { storage.count * MemoryLayout<Float>.stride }

    /// The frame capacity to lay out for `encoder` before an input of `frames`, or nil when the current
    /// layout already serves it.
    func framesToReserve(for encoder: AnyObject, frames: Int) -> Int? {
        let sameOwner = owner == ObjectIdentifier(encoder)
        guard frames > capacityFrames || !sameOwner else { return nil }
        return sameOwner ? max(frames, capacityFrames) : frames
    }

    /// Regions of `sizes` floats, in order, each 64-byte aligned.
    func layOut(for encoder: AnyObject, frames: Int, sizes: [Int]) {
        let layout = EncoderChecks.alignedOffsets(sizes)
        offsets = layout.offsets
        storage = AlignedBuffer(count: layout.total)
        capacityFrames = frames
        owner = ObjectIdentifier(encoder)
    }

    @inline(__always) func pointer(_ index: Int) -> UnsafeMutablePointer<Float> { storage.pointer + offsets[index] }
}
