#!/usr/bin/env python3
"""spkv's fp32 ECAPA-TDNN encoder against ONNX Runtime on the same network, same weights, same input.

For each model size (default C=512/MFA 1536, C=1024/MFA 3072, C=1024/MFA 1536):
  1. build SpeechBrain's ECAPA_TDNN(input_size=80, channels=[C, C, C, C, MFA], lin_neurons=192) with
     seeded random weights; BatchNorm running statistics come from one train-mode pass over real
     speech features (SpeechBrain's front end as spkv computes it, so activations stay O(1)), then
     are perturbed; save the state_dict as safetensors;
  2. export features [1, 501, 80] (5 s of audio) -> embedding [1, 192] to ONNX (opset 17), check
     the graph with onnx.checker and that ONNX Runtime's output matches PyTorch's;
  3. import the same safetensors into spkv (`spkv import --from speechbrain`);
  4. parity: `spkv features` on 5 s of a real speech fixture -> those features through ORT and
     PyTorch, against `spkv embed` of the same 5 s (cosine, max abs difference);
  5. timing, alternating rounds (ORT first in even rounds, spkv first in odd ones): ORT with one
     intra-op and one inter-op thread, sequential execution, all graph optimisations, `--runs` timed
     runs on 501x80 per round (after warm-up); spkv via `spkv-bench --model Y --seconds 5 --threads 1`,
     whose encoder time is the encoder alone on 501 frames. Prints medians and the ratio.

Run by hand (numbers are printed, never asserted):
    swift build -c release --scratch-path .build-bench
    /work/venv/ref/bin/python benchmarks/onnx/compare_onnxruntime.py \
        --spkv .build-bench/release/spkv --bench .build-bench/release/spkv-bench [--json out.json]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import warnings

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_common import FRAMES, MELS, cosine, ort_session, run, time_ort  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SPEECH = os.path.join(REPO, "Sources/_SVTestSupport/Fixtures/speech/speech_b_8s.wav")
SEED = 20261125


def parse_spec(text):
    c, _, mfa = text.partition(":")
    return int(c), int(mfa) if mfa else 3 * int(c)


def build_speechbrain(channels, mfa, seed, calibration):
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
    torch.manual_seed(seed)
    model = ECAPA_TDNN(input_size=MELS, channels=[channels] * 4 + [mfa], lin_neurons=192)
    gen = torch.Generator().manual_seed(seed + 1)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None                       # cumulative average over the calibration pass
    model.train()
    with torch.no_grad():
        model(calibration)
    model.eval()
    with torch.no_grad():
        for m in bns:
            n = m.num_features
            m.momentum = 0.1
            m.running_var.mul_(0.75 + 0.5 * torch.rand(n, generator=gen))
            m.weight.copy_(0.8 + 0.4 * torch.rand(n, generator=gen))
            m.bias.copy_(0.1 * torch.randn(n, generator=gen))
    return model


class FeaturesToEmbedding(torch.nn.Module):
    """[1, frames, 80] normalised log-mel -> [1, 192]; no lengths (the whole input is valid)."""

    def __init__(self, ecapa):
        super().__init__()
        self.ecapa = ecapa

    def forward(self, feats):
        return self.ecapa(feats).squeeze(1)


def export_onnx(model, path):
    wrapper = FeaturesToEmbedding(model).eval()
    example = torch.randn(1, FRAMES, MELS)
    warnings.filterwarnings("ignore")            # tracer / deprecation chatter of the TorchScript exporter
    kwargs = dict(input_names=["features"], output_names=["embedding"], opset_version=17)
    try:
        torch.onnx.export(wrapper, (example,), path, dynamo=False, **kwargs)
    except TypeError:                            # older torch without the dynamo switch
        torch.onnx.export(wrapper, (example,), path, **kwargs)
    onnx.checker.check_model(onnx.load(path))
    return wrapper


def time_spkv(bench, model_path, runs, warmup):
    out = run([bench, "--model", model_path, "--seconds", "5", "--threads", "1", "--repeats", str(runs),
               "--warmup", str(warmup), "--load-repeats", "1", "--no-gemm", "--json"])
    stage = json.loads(out)["models"][0]["stages"][0]
    assert stage["frames"] == FRAMES, stage["frames"]
    return stage["encoder"]["median"], stage["encoder"]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spkv", default=os.path.join(REPO, ".build-bench/release/spkv"))
    ap.add_argument("--bench", default=os.path.join(REPO, ".build-bench/release/spkv-bench"))
    ap.add_argument("--channels", default="512,1024,1024:1536", help="C (MFA 3C) or C:MFA, comma-separated")
    ap.add_argument("--rounds", type=int, default=6, help="alternating ORT / spkv rounds")
    ap.add_argument("--runs", type=int, default=20, help="timed runs per round and side")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--workdir", default=None, help="keep the models here (default: a temporary folder)")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = args.workdir or tempfile.mkdtemp(prefix="spkv-ort-")
    os.makedirs(work, exist_ok=True)

    # 5 s of real speech (int16 WAV, as the fixture is), the same file for spkv and the reference.
    pcm, sr = sf.read(SPEECH, dtype="int16")
    assert sr == 16000 and len(pcm) >= 5 * sr
    wav5 = os.path.join(work, "speech_5s.wav")
    sf.write(wav5, pcm[: 5 * sr], sr, subtype="PCM_16")

    # BatchNorm calibration batch: the fixture's features (all 8 s, plus a time-reversed copy).
    calib_path = os.path.join(work, "calibration.npy")
    run([args.spkv, "features", "--front-end", "speechbrain", SPEECH, "-o", calib_path])
    calib = torch.from_numpy(np.load(calib_path).astype(np.float32))[None]
    calibration = torch.cat([calib, calib.flip(1)])

    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}, torch {torch.__version__}; "
          f"load average at start {loadavg()}")
    results = []
    for spec in args.channels.split(","):
        c, mfa = parse_spec(spec)
        name = f"C={c} MFA={mfa}"
        model = build_speechbrain(c, mfa, SEED + c + mfa, calibration)
        params = sum(p.numel() for p in model.parameters())
        sb_path = os.path.join(work, f"speechbrain_c{c}_mfa{mfa}.safetensors")
        spkv_path = os.path.join(work, f"spkv_c{c}_mfa{mfa}.safetensors")
        onnx_path = os.path.join(work, f"ecapa_c{c}_mfa{mfa}_{FRAMES}.onnx")
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, sb_path)
        wrapper = export_onnx(model, onnx_path)
        run([args.spkv, "import", "--from", "speechbrain", sb_path, "-o", spkv_path])
        sess = ort_session(onnx_path)

        # Export check: ORT vs PyTorch on random features.
        probe = np.random.default_rng(1).standard_normal((1, FRAMES, MELS)).astype(np.float32)
        with torch.no_grad():
            ref = wrapper(torch.from_numpy(probe)).numpy()
        got = sess.run(None, {"features": probe})[0]
        export_cos, export_diff = cosine(ref, got), float(np.abs(ref - got).max())

        # Parity: spkv's features of real speech through ORT and PyTorch vs spkv's own embedding.
        feats_path = os.path.join(work, f"features_c{c}_mfa{mfa}.npy")
        run([args.spkv, "features", "--model", spkv_path, wav5, "-o", feats_path])
        feats = np.load(feats_path).astype(np.float32)[None]
        assert feats.shape == (1, FRAMES, MELS), feats.shape
        ort_emb = sess.run(None, {"features": feats})[0].ravel()
        with torch.no_grad():
            pt_emb = wrapper(torch.from_numpy(feats)).numpy().ravel()
        spkv_emb = np.array(run([args.spkv, "embed", "--model", spkv_path, wav5]).split()[1:], np.float32)
        parity = dict(export_cosine=export_cos, export_max_abs_diff=export_diff,
                      spkv_vs_ort_cosine=cosine(spkv_emb, ort_emb),
                      spkv_vs_ort_max_abs_diff=float(np.abs(spkv_emb - ort_emb).max()),
                      spkv_vs_ort_max_rel_diff=float(np.abs(spkv_emb - ort_emb).max() / np.abs(ort_emb).max()),
                      spkv_vs_pytorch_cosine=cosine(spkv_emb, pt_emb),
                      embedding_norm=float(np.linalg.norm(ort_emb)))

        # Timing, alternating.
        x = np.random.default_rng(2).standard_normal((1, FRAMES, MELS)).astype(np.float32)
        ort_all, ort_rounds, spkv_rounds, spkv_p90 = [], [], [], []
        load_start = loadavg()
        for r in range(args.rounds):
            for side in (("ort", "spkv") if r % 2 == 0 else ("spkv", "ort")):
                if side == "ort":
                    t = time_ort(sess, x, args.runs, args.warmup)
                    ort_all += t
                    ort_rounds.append(statistics.median(t))
                else:
                    med, stats = time_spkv(args.bench, spkv_path, args.runs, args.warmup)
                    spkv_rounds.append(med)
                    spkv_p90.append(stats["p90"])
        ort_med, spkv_med = statistics.median(ort_rounds), statistics.median(spkv_rounds)
        res = dict(model=name, parameters=params, frames=FRAMES, rounds=args.rounds, runs_per_round=args.runs,
                   ort_median_ms=ort_med, ort_round_medians_ms=ort_rounds,
                   ort_p90_ms=float(np.percentile(ort_all, 90)),
                   spkv_encoder_median_ms=spkv_med, spkv_round_medians_ms=spkv_rounds,
                   spkv_round_p90_ms=spkv_p90, ratio_spkv_over_ort=spkv_med / ort_med,
                   load_average_start=load_start, load_average_end=loadavg(), **parity)
        results.append(res)
        print(f"\n== {name}: {params} parameters, 5 s = {FRAMES} frames, {args.rounds} alternating rounds x "
              f"{args.runs} runs, 1 thread; load average {load_start} -> {res['load_average_end']}")
        print(f"export check (ORT vs PyTorch, random input): cosine {export_cos:.10f}, max |diff| {export_diff:.2e}")
        print(f"parity on 5 s of speech (spkv features): spkv vs ORT cosine {parity['spkv_vs_ort_cosine']:.10f} "
              f"(max |diff| {parity['spkv_vs_ort_max_abs_diff']:.2e} = {parity['spkv_vs_ort_max_rel_diff']:.1e} of max |e|, "
              f"|e| {parity['embedding_norm']:.3f}), "
              f"spkv vs PyTorch cosine {parity['spkv_vs_pytorch_cosine']:.10f}")
        print(f"ONNX Runtime: median of round medians {ort_med:8.2f} ms  (rounds: "
              + ", ".join(f"{v:.1f}" for v in ort_rounds) + f"; p90 of all runs {res['ort_p90_ms']:.1f})")
        print(f"spkv encoder: median of round medians {spkv_med:8.2f} ms  (rounds: "
              + ", ".join(f"{v:.1f}" for v in spkv_rounds) + ")")
        print(f"ratio spkv / ORT = {res['ratio_spkv_over_ort']:.3f}")

    print("\nmodel              | params     | ORT ms  | spkv ms | spkv/ORT | cos(spkv, ORT)")
    for r in results:
        print(f"{r['model']:<18} | {r['parameters']:>10} | {r['ort_median_ms']:7.2f} | {r['spkv_encoder_median_ms']:7.2f} "
              f"| {r['ratio_spkv_over_ort']:8.3f} | {r['spkv_vs_ort_cosine']:.10f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(onnxruntime=ort.__version__, results=results), f, indent=1)


if __name__ == "__main__":
    main()
