#!/usr/bin/env python3
"""spkv CAM++ (fp32) against ONNX Runtime fp32 on the same network: 3D-Speaker's CAMPPlus with the shipped
model's weights, exported to ONNX from upstream's own code, same features, one thread.

For each length (default 5 s and 10 s of speech-like input; 3d-speaker front end: 498 and 998 frames):
  1. ONNX: 3D-Speaker's `CAMPPlus` (imported from a checkout of github:modelscope/3D-Speaker) loaded with
     the checkpoint, exported by torch.onnx (features [1, T, 80] -> embedding [1, 192], dynamic T);
     the export is checked against PyTorch (cosine) before timing;
  2. ORT in a child process (onnxruntime and numpy only, so its peak RSS is the session's), one intra-op
     and one inter-op thread, sequential, all graph optimisations; the timed input changes one value a run;
  3. spkv: `spkv bench --model MODEL --seconds S --threads 1 --json`, encoder median (same frame count),
     with OpenBLAS's own kernel choice and, for comparison, each --coretypes family forced;
  4. rounds alternate the engines; medians, p99 over all runs, ratios and peak RSS are printed (never asserted).

Run by hand:
    swift build -c release
    /work/refvenv/bin/python benchmarks/onnx/compare_campplus.py --speakerlab /path/to/3D-Speaker \
        --pt campplus_cn_en_common.pt [--spkv .build/release/spkv] [--json out.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from ort_common import cosine, ort_session, run, time_ort  # noqa: E402

MELS = 80


def frames_for(seconds):
    """Kaldi snip-edges frame count of `seconds` at 16 kHz (25 ms window, 10 ms hop)."""
    return 1 + (int(seconds * 16000) - 400) // 160


def ort_child(args):
    sess = ort_session(args.ort_child)
    x = np.load(args.features).astype(np.float32)
    times = time_ort(sess, x, args.runs, args.warmup)
    with open("/proc/self/status") as f:
        hwm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
    print(json.dumps(dict(times=times, peak_rss_bytes=hwm)))


def time_spkv(spkv, model, seconds, runs, coretype):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    out = subprocess.run([spkv, "bench", "--model", model, "--seconds", str(seconds), "--threads", "1",
                          "--repeats", str(runs), "--json"], capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speakerlab", help="checkout of github:modelscope/3D-Speaker (required)")
    ap.add_argument("--pt", help="the CAM++ checkpoint, campplus_cn_en_common.pt (required)")
    ap.add_argument("--spkv", default=os.path.join(REPO, ".build/release/spkv"))
    ap.add_argument("--model", default=os.path.join(REPO, "models/campplus-zh-en-16k-v1.safetensors"))
    ap.add_argument("--seconds", default="5,10")
    ap.add_argument("--coretypes", default="Haswell,Cooperlake", help="OpenBLAS kernel families to force as well")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--json", default=None)
    ap.add_argument("--ort-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--features", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ort_child:
        return ort_child(args)
    if not args.speakerlab or not args.pt:
        ap.error("--speakerlab and --pt are required")

    import torch
    sys.path.insert(0, args.speakerlab)
    from speakerlab.models.campplus.DTDNN import CAMPPlus
    torch.set_num_threads(1)
    model = CAMPPlus(feat_dim=80, embedding_size=192)
    model.load_state_dict(torch.load(args.pt, map_location="cpu", weights_only=True))
    model.eval()
    work = tempfile.mkdtemp(prefix="campplus-ort-")
    import atexit
    import shutil
    atexit.register(shutil.rmtree, work, True)
    onnx_path = os.path.join(work, "campplus.onnx")
    rng = np.random.default_rng(20261207)
    example = torch.from_numpy(rng.standard_normal((1, frames_for(5), MELS)).astype(np.float32))
    torch.onnx.export(model, (example,), onnx_path, input_names=["features"], output_names=["embedding"],
                      dynamic_axes={"features": {1: "frames"}}, opset_version=17, dynamo=False)

    results = []
    coretypes = [None] + [c for c in args.coretypes.split(",") if c]
    for seconds in [float(s) for s in args.seconds.split(",")]:
        x = rng.standard_normal((1, frames_for(seconds), MELS)).astype(np.float32)
        with torch.no_grad():
            reference = model(torch.from_numpy(x))[0].numpy()
        check = ort_session(onnx_path).run(None, {"features": x})[0][0]
        agreement = cosine(check, reference)
        print(f"{seconds:g} s ({x.shape[1]} frames): ONNX vs PyTorch cosine {agreement:.7f}")
        if agreement < 0.99999:
            sys.exit("the ONNX export does not compute what PyTorch does: not timing it")
        features = os.path.join(work, f"x{seconds:g}.npy")
        np.save(features, x)
        ort_times, spkv_runs = [], {c: [] for c in coretypes}
        ort_rss = 0
        for _ in range(args.rounds):
            child = json.loads(run([sys.executable, __file__, "--ort-child", onnx_path, "--features", features,
                                    "--runs", str(args.runs), "--warmup", str(args.warmup)]))
            ort_times += child["times"]
            ort_rss = max(ort_rss, child["peak_rss_bytes"])
            for c in coretypes:
                spkv_runs[c].append(time_spkv(args.spkv, args.model, seconds, args.runs, c))
        ort_median = statistics.median(ort_times)
        ort_p99 = float(np.percentile(ort_times, 99))
        print(f"  ONNX Runtime fp32   median {ort_median:8.2f} ms  p99 {ort_p99:8.2f} ms  peak RSS {ort_rss / 2**20:6.1f} MiB")
        row = dict(seconds=seconds, frames=x.shape[1], ort_median_ms=ort_median, ort_p99_ms=ort_p99, ort_peak_rss=ort_rss)
        for c in coretypes:
            runs = spkv_runs[c]
            median = statistics.median(r["encoder_ms"] for r in runs)
            core = runs[0]["blas_core"]
            label = f"spkv fp32 ({core}{', forced' if c else ', OpenBLAS own choice'})"
            print(f"  {label:<40} median {median:8.2f} ms  ({median / ort_median:.2f} × ORT)  "
                  f"peak RSS {max(r['peak_rss_bytes'] for r in runs) / 2**20:6.1f} MiB")
            row[f"spkv_{core}_{'forced' if c else 'own'}_median_ms"] = median
        results.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
