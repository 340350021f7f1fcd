#!/usr/bin/env python3
"""spkv CAM++ fp32 and int8 against ONNX Runtime fp32 and static int8 on the same network: 3D-Speaker's
CAMPPlus with the shipped model's weights, exported to ONNX from upstream's own code, same features, one thread.

int8 (with --calibration): spkv's int8 model is `spkv quantize` of the fp32 one on the calibration list (pass
it as --int8-model); ORT's is `quantize_static` (QDQ, per-channel int8 weights, uint8 activations: ORT's
recommended x86 U8S8 form, MinMax calibration, after `quant_pre_process`; Conv, MatMul and Gemm by default,
--ort-ops) on spkv's features of the same calibration audio. With --accuracy, each int8 engine's embeddings of that (held-out) audio are compared with
its own fp32 embeddings (cosine mean and minimum).

For each length (default 5 s and 10 s of speech-like input; 3d-speaker front end: 498 and 998 frames):
  1. ONNX: 3D-Speaker's `CAMPPlus` (imported from a checkout of github:modelscope/3D-Speaker) loaded with
     the checkpoint, exported by torch.onnx (features [1, T, 80] -> embedding [1, 192], dynamic T);
     the export is checked against PyTorch (cosine) before timing;
  2. ORT in a child process (onnxruntime and numpy only, so its peak RSS is the session's), one intra-op
     and one inter-op thread, sequential, all graph optimisations; the timed input changes one value a run;
  3. spkv: `spkv bench --model MODEL --seconds S --threads 1 --json`, encoder median (same frame count),
     with OpenBLAS's own kernel choice and, for comparison, each --coretypes family forced;
  4. rounds alternate the engines; medians, p99 (ORT: over all runs; spkv: the largest of the rounds' p99s, as
     `spkv bench` reports one per run), ratios and peak RSS are printed (never asserted).

Run by hand:
    swift build -c release
    /work/refvenv/bin/python benchmarks/onnx/compare_campplus.py --speakerlab /path/to/3D-Speaker \
        --pt campplus_cn_en_common.pt [--spkv .build/release/spkv] [--json out.json] \
        [--calibration CALIB.txt --int8-model models/campplus-zh-en-16k-v1-int8.safetensors --accuracy HELDOUT.txt]
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


def read_list(path):
    folder = os.path.dirname(os.path.abspath(path))
    lines = [l.split("#")[0].strip() for l in open(path)]
    return [l if l.startswith("/") else os.path.join(folder, l) for l in lines if l]


def spkv_features(args, path, out):
    """spkv's 3d-speaker features of one file, (1, T, 80) float32."""
    run([args.spkv, "features", "--model", args.model, path, "-o", out])
    return np.load(out).astype(np.float32)[None]


def quantize_ort(args, onnx_path, work):
    """ORT static int8 (QDQ, U8S8, per-channel, MinMax) calibrated on spkv's features of --calibration."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    files = read_list(args.calibration)
    feats = [spkv_features(args, p, os.path.join(work, f"calib_{i}.npy")) for i, p in enumerate(files)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(feats)

        def get_next(self):
            x = next(self.items, None)
            return None if x is None else {"features": x}

    pre, onnx8 = os.path.join(work, "campplus_pre.onnx"), os.path.join(work, "campplus_int8.onnx")
    # symbolic shape inference cannot follow the segment pooling of a dynamic-length input: ONNX shape inference only
    cwd = os.getcwd()
    os.chdir(work)   # quant_pre_process leaves temporary files in the working directory
    try:
        quant_pre_process(onnx_path, pre, skip_symbolic_shape=True)
    finally:
        os.chdir(cwd)
    # Convolutions and matrix products only, as spkv: with every op quantised (ORT's default), the standalone
    # BatchNorms of the dense blocks get per-tensor int8 weights and the embeddings fall to cosine ≈ 0.82.
    quantize_static(pre, onnx8, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax, op_types_to_quantize=args.ort_ops.split(","))
    print(f"ORT static int8 calibrated on {len(files)} files; sizes: ONNX fp32 {os.path.getsize(onnx_path) / 2**20:.1f} MiB, "
          f"int8 {os.path.getsize(onnx8) / 2**20:.1f} MiB; spkv fp32 {os.path.getsize(args.model) / 2**20:.1f} MiB, "
          f"int8 {os.path.getsize(args.int8_model) / 2**20:.1f} MiB")
    return onnx8


def int8_accuracy(args, onnx_path, onnx8, work):
    """Cosine of each int8 engine's embedding to its own fp32 embedding, on held-out audio."""
    files = read_list(args.accuracy)
    ort32, ort8 = ort_session(onnx_path), ort_session(onnx8)
    cos = {"ORT": [], "spkv": []}
    for i, path in enumerate(files):
        x = spkv_features(args, path, os.path.join(work, f"acc_{i}.npy"))
        cos["ORT"].append(cosine(ort32.run(None, {"features": x})[0], ort8.run(None, {"features": x})[0]))
        e = [np.array(run([args.spkv, "embed", "--model", m, path]).split()[1:], np.float32)
             for m in (args.model, args.int8_model)]
        cos["spkv"].append(cosine(*e))
    for engine, values in cos.items():
        print(f"{engine} int8 vs {engine} fp32 on {len(files)} held-out files: cosine mean {np.mean(values):.5f}, "
              f"min {np.min(values):.5f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speakerlab", help="checkout of github:modelscope/3D-Speaker (required)")
    ap.add_argument("--pt", help="the CAM++ checkpoint, campplus_cn_en_common.pt (required)")
    ap.add_argument("--spkv", default=os.path.join(REPO, ".build/release/spkv"))
    ap.add_argument("--model", default=os.path.join(REPO, "models/campplus-zh-en-16k-v1.safetensors"))
    ap.add_argument("--int8-model", default=None, help="spkv int8 model (spkv quantize of --model on --calibration)")
    ap.add_argument("--calibration", default=None, help="audio list the int8 models are calibrated on")
    ap.add_argument("--accuracy", default=None, help="held-out audio list for int8-vs-fp32 cosines")
    ap.add_argument("--ort-ops", default="Conv,MatMul,Gemm", help="ONNX op types ORT quantises")
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

    onnx8 = None
    if args.calibration:
        if not args.int8_model:
            ap.error("--calibration needs --int8-model (spkv quantize of --model on the same list)")
        onnx8 = quantize_ort(args, onnx_path, work)
        if args.accuracy:
            int8_accuracy(args, onnx_path, onnx8, work)

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
        precisions = [("fp32", onnx_path, args.model)] + ([("int8", onnx8, args.int8_model)] if onnx8 else [])
        ort_times = {p: [] for p, _, _ in precisions}
        ort_rss = {p: 0 for p, _, _ in precisions}
        spkv_runs = {(p, c): [] for p, _, _ in precisions for c in coretypes}
        for _ in range(args.rounds):
            for precision, onnx_file, spkv_model in precisions:
                child = json.loads(run([sys.executable, __file__, "--ort-child", onnx_file, "--features", features,
                                        "--runs", str(args.runs), "--warmup", str(args.warmup)]))
                ort_times[precision] += child["times"]
                ort_rss[precision] = max(ort_rss[precision], child["peak_rss_bytes"])
                for c in coretypes:
                    spkv_runs[(precision, c)].append(time_spkv(args.spkv, spkv_model, seconds, args.runs, c))
        row = dict(seconds=seconds, frames=x.shape[1])
        for precision, _, _ in precisions:
            ort_median = statistics.median(ort_times[precision])
            ort_p99 = float(np.percentile(ort_times[precision], 99))
            print(f"  ONNX Runtime {precision}   median {ort_median:8.2f} ms  p99 {ort_p99:8.2f} ms  "
                  f"peak RSS {ort_rss[precision] / 2**20:6.1f} MiB")
            row.update({f"ort_{precision}_median_ms": ort_median, f"ort_{precision}_p99_ms": ort_p99,
                        f"ort_{precision}_peak_rss": ort_rss[precision]})
            for c in coretypes:
                runs = spkv_runs[(precision, c)]
                median = statistics.median(r["encoder_ms"] for r in runs)
                p99 = f"  p99 {max(r['encoder_p99_ms'] for r in runs):8.2f} ms"
                core = runs[0]["blas_core"]
                label = f"spkv {precision} ({core}{', forced' if c else ', OpenBLAS own choice'})"
                print(f"  {label:<40} median {median:8.2f} ms{p99}  ({median / ort_median:.2f} × ORT {precision})  "
                      f"peak RSS {max(r['peak_rss_bytes'] for r in runs) / 2**20:6.1f} MiB")
                row[f"spkv_{precision}_{core}_{'forced' if c else 'own'}_median_ms"] = median
        results.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
