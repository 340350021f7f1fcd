#!/usr/bin/env python3
"""spkv int8 and fp32 against ONNX Runtime fp32 and static int8: same network, same weights, same input, one thread.

For each model size (default C=512 and C=1024, MFA 3C):
  1. the SpeechBrain ECAPA_TDNN with seeded random weights and speech-calibrated BatchNorm statistics that
     compare_onnxruntime.py builds, exported to ONNX (features [1, 501, 80] -> embedding [1, 192]) and
     imported into spkv;
  2. the same calibration audio for both int8 models (--calibration, a list of audio files; default: the
     three speech fixtures): spkv `spkv quantize --method mse`; ONNX Runtime `quantize_static` (QDQ,
     per-channel int8 weights, uint8 activations — ORT's recommended x86 U8S8 form — MinMax calibration) on
     spkv's features of that audio cut into 501-frame windows, after `quant_pre_process`;
  3. accuracy: embeddings of 5 s of speech from the four engines, cosine of each int8 against its fp32;
  4. timing, rotating the order of the four each round: ORT sessions in a child process (onnxruntime and
     numpy only, so its peak RSS is the session's), one intra-op and one inter-op thread, sequential,
     all graph optimisations; spkv via `spkv-bench --model M --seconds 5 --threads 1` (encoder time on
     501 frames, and peak RSS of load + runs). Prints medians, ratios, model file sizes and peak RSS.

Run by hand (numbers are printed, never asserted):
    swift build -c release --scratch-path .build-bench
    /work/venv/ref/bin/python benchmarks/onnx/compare_int8.py \
        --spkv .build-bench/release/spkv --bench .build-bench/release/spkv-bench [--json out.json]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(REPO, "Sources/_SVTestSupport/Fixtures/speech")
sys.path.insert(0, HERE)
from ort_common import FRAMES, cosine, ort_session, run, time_ort  # noqa: E402


def ort_child(args):
    """Times one ONNX model in this (fresh) process; prints JSON with the times and the peak RSS."""
    sess = ort_session(args.ort_child)
    x = np.load(args.features).astype(np.float32)
    times = time_ort(sess, x, args.runs, args.warmup)
    out = sess.run(None, {"features": x})[0].ravel().tolist()
    # VmHWM of this process image (ru_maxrss would carry the parent's peak across exec).
    with open("/proc/self/status") as f:
        hwm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
    print(json.dumps(dict(times=times, peak_rss_bytes=hwm, embedding=out)))


def time_ort_child(model, features, runs, warmup):
    out = run([sys.executable, __file__, "--ort-child", model, "--features", features, "--runs", str(runs),
               "--warmup", str(warmup)])
    return json.loads(out)


def time_spkv(bench, model, runs, warmup):
    out = json.loads(run([bench, "--model", model, "--seconds", "5", "--threads", "1", "--repeats", str(runs),
                          "--warmup", str(warmup), "--load-repeats", "1", "--no-gemm", "--json"]))
    stage = out["models"][0]["stages"][0]
    assert stage["frames"] == FRAMES, stage["frames"]
    return stage["encoder"]["median"], stage.get("peakResidentBytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spkv", default=os.path.join(REPO, ".build-bench/release/spkv"))
    ap.add_argument("--bench", default=os.path.join(REPO, ".build-bench/release/spkv-bench"))
    ap.add_argument("--channels", default="512,1024")
    ap.add_argument("--calibration", default=None, help="audio list for both int8 models (default: the speech fixtures)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--ort-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--features", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ort_child:
        return ort_child(args)

    import onnx
    import onnxruntime as ort
    import soundfile as sf
    import torch
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from safetensors.torch import save_file
    from compare_onnxruntime import SPEECH, SEED, build_speechbrain, export_onnx, loadavg, parse_spec

    torch.set_num_threads(1)
    work = args.workdir or tempfile.mkdtemp(prefix="spkv-int8-")
    os.makedirs(work, exist_ok=True)
    pcm, sr = sf.read(SPEECH, dtype="int16")
    wav5 = os.path.join(work, "speech_5s.wav")
    sf.write(wav5, pcm[: 5 * sr], sr, subtype="PCM_16")

    # Calibration audio, shared by both int8 models.
    if args.calibration:
        calib_list = args.calibration
    else:
        calib_list = os.path.join(work, "calibration.txt")
        with open(calib_list, "w") as f:
            f.write("\n".join(os.path.join(FIXTURES, n) for n in ("speech_a_3s.wav", "speech_b_8s.wav", "speech_c_15s.wav")) + "\n")
    with open(calib_list) as f:
        base = os.path.dirname(os.path.abspath(calib_list))
        calib_files = [l.split("#")[0].strip() for l in f if l.split("#")[0].strip()]
        calib_files = [p if os.path.isabs(p) else os.path.join(base, p) for p in calib_files]

    # BatchNorm statistics for the random networks: the fixture's features, as compare_onnxruntime.py does.
    bn_path = os.path.join(work, "bn.npy")
    run([args.spkv, "features", "--front-end", "speechbrain", SPEECH, "-o", bn_path])
    bn = torch.from_numpy(np.load(bn_path).astype(np.float32))[None]
    bn_batch = torch.cat([bn, bn.flip(1)])

    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}; calibration: {len(calib_files)} files; "
          f"load average at start {loadavg()}")
    results = []
    for spec in args.channels.split(","):
        c, mfa = parse_spec(spec)
        name = f"C={c} MFA={mfa}"
        tag = f"c{c}_mfa{mfa}"
        model = build_speechbrain(c, mfa, SEED + c + mfa, bn_batch)
        sb = os.path.join(work, f"speechbrain_{tag}.safetensors")
        spkv32, spkv8 = os.path.join(work, f"spkv_{tag}.safetensors"), os.path.join(work, f"spkv_{tag}_int8.safetensors")
        onnx32, onnx_pre, onnx8 = (os.path.join(work, f"ecapa_{tag}{s}.onnx") for s in ("", "_pre", "_int8"))
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, sb)
        export_onnx(model, onnx32)
        run([args.spkv, "import", "--from", "speechbrain", sb, "-o", spkv32])
        run([args.spkv, "quantize", spkv32, "--calibration", calib_list, "--method", "mse", "-o", spkv8])

        # ORT static int8 on spkv's features of the same calibration audio, in 501-frame windows.
        windows = []
        for i, path in enumerate(calib_files):
            fp = os.path.join(work, f"calib_{i}.npy")
            run([args.spkv, "features", "--model", spkv32, path, "-o", fp])
            f = np.load(fp).astype(np.float32)
            while len(f) < FRAMES:
                f = np.concatenate([f, f])
            for s in range(0, len(f) - FRAMES + 1, FRAMES):
                windows.append(f[s:s + FRAMES][None])

        class Reader(CalibrationDataReader):
            def __init__(self):
                self.items = iter(windows)

            def get_next(self):
                x = next(self.items, None)
                return None if x is None else {"features": x}

        quant_pre_process(onnx32, onnx_pre)
        quantize_static(onnx_pre, onnx8, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)

        # Accuracy on 5 s of speech (spkv's features for ORT).
        feats = os.path.join(work, f"features_{tag}.npy")
        run([args.spkv, "features", "--model", spkv32, wav5, "-o", feats])
        x = np.load(feats).astype(np.float32)[None]
        np.save(feats, x)
        emb = {}
        for label, path in (("spkv fp32", spkv32), ("spkv int8", spkv8)):
            emb[label] = np.array(run([args.spkv, "embed", "--model", path, wav5]).split()[1:], np.float32)

        # Timing, rotating the order.
        engines = [("ORT fp32", onnx32), ("ORT int8", onnx8), ("spkv fp32", spkv32), ("spkv int8", spkv8)]
        medians = {k: [] for k, _ in engines}
        peak = {}
        load_start = loadavg()
        for r in range(args.rounds):
            for label, path in engines[r % 4:] + engines[:r % 4]:
                if label.startswith("ORT"):
                    out = time_ort_child(path, feats, args.runs, args.warmup)
                    medians[label].append(statistics.median(out["times"]))
                    peak[label] = max(peak.get(label, 0), out["peak_rss_bytes"])
                    emb[label] = np.array(out["embedding"], np.float32)
                else:
                    med, rss = time_spkv(args.bench, path, args.runs, args.warmup)
                    medians[label].append(med)
                    if rss:
                        peak[label] = max(peak.get(label, 0), rss)
        med = {k: statistics.median(v) for k, v in medians.items()}
        res = dict(model=name, frames=FRAMES, rounds=args.rounds, runs_per_round=args.runs,
                   median_ms=med, round_medians_ms=medians, peak_rss_bytes=peak,
                   file_bytes={k: os.path.getsize(p) for k, p in engines},
                   cosine_int8_vs_fp32={"spkv": cosine(emb["spkv int8"], emb["spkv fp32"]),
                                        "ORT": cosine(emb["ORT int8"], emb["ORT fp32"])},
                   cosine_spkv_fp32_vs_ort_fp32=cosine(emb["spkv fp32"], emb["ORT fp32"]),
                   ratios={"spkv int8 / ORT int8": med["spkv int8"] / med["ORT int8"],
                           "spkv fp32 / ORT fp32": med["spkv fp32"] / med["ORT fp32"],
                           "spkv int8 / spkv fp32": med["spkv int8"] / med["spkv fp32"],
                           "ORT int8 / ORT fp32": med["ORT int8"] / med["ORT fp32"]},
                   load_average_start=load_start, load_average_end=loadavg())
        results.append(res)
        print(f"\n== {name}, 5 s = {FRAMES} frames, {args.rounds} rotating rounds x {args.runs} runs, 1 thread; "
              f"load average {load_start} -> {res['load_average_end']}")
        print("engine     | median ms | rounds                         | file MiB | peak RSS MiB")
        for label, path in engines:
            rounds = ", ".join(f"{v:.1f}" for v in medians[label])
            print(f"{label:<10} | {med[label]:9.2f} | {rounds:<30} | {res['file_bytes'][label] / 2**20:8.1f} | "
                  f"{peak.get(label, 0) / 2**20:12.1f}")
        for k, v in res["ratios"].items():
            print(f"{k:<22} {v:.3f}")
        print(f"cosine int8 vs fp32 on 5 s of speech: spkv {res['cosine_int8_vs_fp32']['spkv']:.6f}, "
              f"ORT {res['cosine_int8_vs_fp32']['ORT']:.6f}; spkv fp32 vs ORT fp32 {res['cosine_spkv_fp32_vs_ort_fp32']:.8f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(onnxruntime=ort.__version__, results=results), f, indent=1)


if __name__ == "__main__":
    main()
