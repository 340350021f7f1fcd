#!/usr/bin/env python3
"""Write the fixtures of spkv's PyTorch checkpoint reader (Sources/SVModels/Import/PyTorchCheckpoint.swift)
into Sources/_SVTestSupport/Fixtures/pytorch/ (kept under 300 KB in all):

  small_p2.ckpt / small_p5.ckpt   torch.save of {"model": state_dict, "epoch": 3, ...} with pickle
                                  protocol 2 (torch's default) and 5 (FRAME, MEMOIZE, STACK_GLOBAL, ...)
  small.safetensors               the same tensors, flattened ("model.<name>"), made contiguous:
                                  the values the Swift reader must return
  sslsv_c32.ckpt                  torch.save({"model": <ecapa/sslsv_c32.safetensors>, "epoch": 3,
                                  "optimizer": {...}}) -- the import test compares it with the
                                  safetensors import. (The SpeechBrain fixture, 537 KB of weights,
                                  would not fit the 300 KB budget; sslsv_c32 is 233 KB.)
  legacy.pt                       torch.save(..., _use_new_zipfile_serialization=False): the
                                  pre-1.6 format, which the reader refuses with a conversion hint
  forbidden_global.ckpt           a zip whose data.pkl is hand-written bytes calling os.system;
                                  it is never unpickled here (only written), and the reader must
                                  refuse it naming 'os.system'

The small state_dict covers F32/F16/BF16/F64/I64/I32/I8/U8/BOOL, a 0-d tensor, an empty tensor, a
view with a storage offset, two tensors sharing one storage, a transposed (non-contiguous) view and
an nn.Parameter. Values are seeded (torch.manual_seed(20240611)). torch.save writes a random
serialization id, so re-running changes the .ckpt bytes but not their contents.

Usage (run by hand; not needed by CI or the Swift build):
  /work/venv/ref/bin/python tools/reference/make_pytorch_fixtures.py
"""
import io
import os
import zipfile

import torch
from safetensors.torch import load_file, save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "Sources", "_SVTestSupport", "Fixtures", "pytorch")
ECAPA = os.path.join(ROOT, "Sources", "_SVTestSupport", "Fixtures", "ecapa")
SEED = 20240611


def small_checkpoint():
    torch.manual_seed(SEED)
    base = torch.arange(10, dtype=torch.float32) * 0.5 - 1.0       # storage shared by two tensors
    matrix = torch.randn(3, 4)
    sd = {
        "f32": torch.randn(2, 3),
        "f16": torch.tensor([1.0, -0.5, 65504.0, 2.0 ** -24, float("-inf")], dtype=torch.float16),
        "bf16": torch.randn(2, 2).to(torch.bfloat16),
        "f64": torch.tensor([0.1, -2.5], dtype=torch.float64),
        "i64": torch.tensor([-(2 ** 62), -1, 0, 7, 2 ** 62], dtype=torch.int64),
        "i32": torch.tensor([-2147483648, 2147483647], dtype=torch.int32),
        "i8": torch.tensor([[-128, -1], [0, 127]], dtype=torch.int8),
        "u8": torch.tensor([0, 128, 255], dtype=torch.uint8),
        "mask": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5),                                  # 0-d
        "num_batches_tracked": torch.tensor(1, dtype=torch.int64),    # 0-d int64, as in BatchNorm
        "empty": torch.zeros(0, 3),
        "base": base,
        "tail": base[4:].view(2, 3),                                  # same storage, offset 4
        "matrix": matrix,
        "matrix_t": matrix.t(),                                       # same storage, strides (1, 4)
        "column": matrix[:, 1],                                       # offset 1, stride 4
        "param": torch.nn.Parameter(torch.randn(4)),                  # _rebuild_parameter
    }
    ckpt = {"model": sd, "epoch": 3, "lr": 0.001, "name": "tiny", "history": [1.5, 2.5],
            "optimizer": {"step": 5, "betas": (0.9, 0.999)}}
    flat = {f"model.{k}": v.detach().contiguous().clone() for k, v in sd.items()}
    return ckpt, flat


def main():
    os.makedirs(OUT, exist_ok=True)
    ckpt, flat = small_checkpoint()
    torch.save(ckpt, os.path.join(OUT, "small_p2.ckpt"))
    torch.save(ckpt, os.path.join(OUT, "small_p5.ckpt"), pickle_protocol=5)
    save_file(flat, os.path.join(OUT, "small.safetensors"))

    sslsv = load_file(os.path.join(ECAPA, "sslsv_c32.safetensors"))
    torch.save({"model": sslsv, "epoch": 3, "optimizer": {"lr": 0.01}},
               os.path.join(OUT, "sslsv_c32.ckpt"))

    torch.save({"w": torch.ones(2)}, os.path.join(OUT, "legacy.pt"), _use_new_zipfile_serialization=False)

    # os.system("echo pwned"), protocol 2, built opcode by opcode. Never loaded.
    evil = (b"\x80\x02" + b"cos\nsystem\n" + b"q\x00"
            + b"X\x0a\x00\x00\x00echo pwned" + b"\x85" + b"R" + b".")
    with zipfile.ZipFile(os.path.join(OUT, "forbidden_global.ckpt"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("forbidden_global/data.pkl", evil)
        z.writestr("forbidden_global/byteorder", b"little")

    total = 0
    for name in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, name))
        total += size
        print(f"{size:8d}  {name}")
    print(f"{total:8d}  total")
    assert total < 300_000, "fixtures exceed the 300 KB budget"


if __name__ == "__main__":
    main()
