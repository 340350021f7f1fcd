#!/usr/bin/env python3
"""Cross-check the ECAPA golden fixtures through each toolkit's own top-level inference entry point.

Loads <toolkit>_c<C>.safetensors back into a freshly constructed model (strict key match) and
recomputes every clip's embedding through:
  speechbrain  speechbrain.inference.classifiers.EncoderClassifier.encode_batch
  wespeaker    wespeaker/cli/speaker.py Speaker.extract_embedding_from_pcm (int16-valued pcm, no VAD)
  sslsv        ECAPATDNN.forward on the float waveform
and prints the largest difference to the stored golden embedding (0 expected with 1 thread).

Usage: /work/venv/ref/bin/python tools/reference/check_ecapa_fixtures.py \
           --wespeaker /path/to/wespeaker-checkout --sslsv /path/to/sslsv-checkout
"""
import argparse
import json
import os
import sys
import types

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_ecapa_fixtures as M  # noqa: E402


def load(name):
    path = os.path.join(M.OUT_DIR, name)
    with safe_open(path, "pt") as h:
        meta = h.metadata()
    return load_file(path), meta


def stub(name, **attrs):
    mod = types.ModuleType(name)
    mod.__path__ = []
    for k, v in attrs.items():
        setattr(mod, k, v)
    sys.modules[name] = mod


def check(tk, fname, embed_fn):
    golden, _ = load(fname.replace(".safetensors", "_golden.safetensors"))
    worst = 0.0
    for c in M.CLIPS:
        e = embed_fn(c).reshape(-1)
        d = float((e - golden[f"{c}/embedding"]).abs().max())
        worst = max(worst, d)
        print(f"  {tk} {c}: max |diff| = {d:.3g}")
    return worst


def speechbrain_check():
    from speechbrain.inference.classifiers import EncoderClassifier
    from speechbrain.lobes.features import Fbank
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
    from speechbrain.processing.features import InputNormalization
    sd, meta = load("speechbrain_c64.safetensors")
    model = ECAPA_TDNN(**json.loads(meta["constructor"]))
    model.load_state_dict(sd, strict=True)
    ec = EncoderClassifier(modules={
        "compute_features": Fbank(n_mels=80),
        "mean_var_norm": InputNormalization(norm_type="sentence", std_norm=False),
        "embedding_model": model}, hparams={})
    ec.mods.eval()
    return check("speechbrain", "speechbrain_c64.safetensors",
                 lambda c: ec.encode_batch(M.load_wav(c)[0].unsqueeze(0)))


def wespeaker_check(root):
    # speaker.py imports VAD, hub, diarisation helpers at module level; none is used on this path.
    for name in ["silero_vad"]:
        stub(name, load_silero_vad=None, read_audio=None, get_speech_timestamps=None)
    stub("kaldiio")
    M.stub_package("wespeaker", os.path.join(root, "wespeaker"))
    stub("wespeaker.cli.hub", Hub=None)
    stub("wespeaker.cli.utils", get_args=None)
    stub("wespeaker.models.speaker_model", get_speaker_model=None)
    stub("wespeaker.utils.checkpoint", load_checkpoint=None)
    stub("wespeaker.diar.umap_clusterer", cluster=None)
    stub("wespeaker.diar.extract_emb", subsegment=None)
    stub("wespeaker.diar.make_rttm", merge_segments=None)
    stub("wespeaker.utils.utils", set_seed=None)
    stub("wespeaker.frontend", frontend_class_dict={})
    for pkg in ["wespeaker.cli", "wespeaker.models", "wespeaker.utils", "wespeaker.diar"]:
        M.stub_package(pkg, os.path.join(root, *pkg.split(".")))
    import wespeaker.models.ecapa_tdnn as ecapa
    import wespeaker.models.pooling_layers as pooling_layers
    from wespeaker.cli.speaker import Speaker

    sd, meta = load("wespeaker_c32.safetensors")
    ctor = json.loads(meta["constructor"])
    head = ctor.pop("replaced_head")
    model = ecapa.ECAPA_TDNN(**ctor)
    model.conv = eval(head["conv"], {"torch": torch})
    model.pool = eval(head["pool"], {"pooling_layers": pooling_layers})
    model.pool_out_dim = model.pool.get_out_dim()
    model.bn = eval(head["bn"], {"torch": torch})
    model.linear = eval(head["linear"], {"torch": torch})
    model.load_state_dict(sd, strict=True)
    model.eval()
    model.frontend_type = "fbank"                    # set by load_model_pt in speaker.py
    spk = Speaker.__new__(Speaker)                   # skip __init__ (it loads a VAD model)
    spk.model, spk.device = model, torch.device("cpu")
    spk.apply_vad, spk.resample_rate, spk.window_type = False, 16000, "hamming"

    def emb(c):
        pcm = torch.from_numpy(M.load_wav(c)[1]).unsqueeze(0)   # torchaudio.load(normalize=False)
        return spk.extract_embedding_from_pcm(pcm, 16000)
    return check("wespeaker", "wespeaker_c32.safetensors", emb)


def sslsv_check(root):
    M.stub_package("sslsv", os.path.join(root, "sslsv"))
    M.stub_package("sslsv.encoders", os.path.join(root, "sslsv", "encoders"))
    from sslsv.encoders.ECAPATDNN import ECAPATDNN, ECAPATDNNConfig
    sd, meta = load("sslsv_c32.safetensors")
    model = ECAPATDNN(ECAPATDNNConfig(**json.loads(meta["constructor"])))
    model.load_state_dict(sd, strict=True)
    model.eval()
    return check("sslsv", "sslsv_c32.safetensors",
                 lambda c: model(M.load_wav(c)[0].unsqueeze(0)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wespeaker")
    ap.add_argument("--sslsv")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with torch.no_grad():
        worst = speechbrain_check()
        if args.wespeaker:
            worst = max(worst, wespeaker_check(args.wespeaker))
        if args.sslsv:
            worst = max(worst, sslsv_check(args.sslsv))
    print(f"worst max |diff| = {worst:.3g}")
    return 0 if worst < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
