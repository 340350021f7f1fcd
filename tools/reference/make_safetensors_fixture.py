#!/usr/bin/env python3
"""Write the model-file reader fixture with the reference `safetensors` library, or check a file
written by spkv's Swift writer with it.

Writes Sources/_SVTestSupport/Fixtures/modelfile/python_reference.safetensors: one tiny tensor per
dtype the spkv reader must handle, with fixed hand-picked values (no randomness, no seed), plus a
complete set of spkv metadata including `spkv.data_crc32` = zlib.crc32 of the data section.
Python's writer orders the data section by dtype alignment, not by name, so the fixture also checks
that the Swift reader does not assume its own writer's layout. The expected values are repeated in
Tests/SVModelsTests/ModelFileFixtureTests.swift; change both together.

Usage (run by hand; not needed by CI or the Swift build):
  /work/venv/ref/bin/python tools/reference/make_safetensors_fixture.py
  /work/venv/ref/bin/python tools/reference/make_safetensors_fixture.py --check FILE.safetensors
"""
import argparse
import json
import os
import struct
import zlib

import safetensors
import torch
from safetensors import safe_open
from safetensors.torch import save

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "Sources", "_SVTestSupport", "Fixtures", "modelfile", "python_reference.safetensors")


def tensors():
    return {
        "f32.matrix": torch.tensor([[0.0, 1.5, -2.0], [3.25, 1e-3, -0.0]], dtype=torch.float32),
        # 65504 = largest F16, 2**-24 = smallest F16 subnormal, -inf.
        "f16.vector": torch.tensor([1.0, -0.5, 65504.0, 2.0 ** -24, float("-inf")], dtype=torch.float16),
        "bf16.vector": torch.tensor([1.0, -2.5, 3.140625], dtype=torch.bfloat16),
        "f64.pair": torch.tensor([0.1, -2.5], dtype=torch.float64),
        "i8.weight": torch.tensor([[-128, -1], [0, 127]], dtype=torch.int8),
        "u8.bytes": torch.tensor([0, 128, 255], dtype=torch.uint8),
        "i32.ids": torch.tensor([-2147483648, 2147483647], dtype=torch.int32),
        "i64.scalar": torch.tensor(1234567890123, dtype=torch.int64),
        "f32.empty": torch.zeros((0, 4), dtype=torch.float32),
    }


def data_section(blob):
    (n,) = struct.unpack("<Q", blob[:8])
    return blob[8 + n:]


def metadata(crc):
    meta = {
        "spkv.format": "spkv-model",
        "spkv.format_version": "1",
        "spkv.architecture": "fixture",
        "spkv.config": json.dumps({"note": "dtype fixture, not a network"}, sort_keys=True),
        "spkv.features": json.dumps({"sample_rate": 16000}, sort_keys=True),
        "spkv.scoring": json.dumps({"kind": "cosine"}, sort_keys=True),
        "spkv.quantization": json.dumps({"scheme": "none", "version": 1}, sort_keys=True),
        "spkv.producer": f"make_safetensors_fixture.py (safetensors {safetensors.__version__})",
        "spkv.created": "2025-01-01T00:00:00Z",
        "spkv.training": json.dumps({"method": "none"}, sort_keys=True),
    }
    if crc is not None:
        meta["spkv.data_crc32"] = f"{crc:08x}"
    return meta


def make():
    t = tensors()
    first = save(t, metadata=metadata(None))
    crc = zlib.crc32(data_section(first))
    blob = save(t, metadata=metadata(crc))
    assert data_section(blob) == data_section(first)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "wb") as f:
        f.write(blob)
    print(f"wrote {os.path.normpath(OUT)}: {len(blob)} bytes, data_crc32 {crc:08x}")


def check(path):
    """Open a file with the reference library and print every tensor; verify the spkv CRC."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0, f"header length {n} is not a multiple of 8"
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
        for name in f.keys():
            x = f.get_tensor(name)
            print(f"{name}: {x.dtype} {tuple(x.shape)} {x.flatten()[:6].tolist()}")
    crc = zlib.crc32(data_section(blob))
    print("metadata:", json.dumps(meta, sort_keys=True))
    assert meta.get("spkv.data_crc32") == f"{crc:08x}", (meta.get("spkv.data_crc32"), f"{crc:08x}")
    print(f"OK: safetensors {safetensors.__version__} opened it; data_crc32 {crc:08x} matches zlib.crc32")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", metavar="FILE", help="open FILE with safetensors instead of writing the fixture")
    args = ap.parse_args()
    check(args.check) if args.check else make()
