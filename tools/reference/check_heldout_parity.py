#!/usr/bin/env python3
"""Held-out parity: spkv vs the reference toolkit on weights and audio the tests never saw.

For each toolkit and channel width C, build a fresh ECAPA-TDNN with a NEW seed (random weights,
BatchNorm statistics randomised exactly as make_ecapa_fixtures.py does, calibrated on crops of the
committed speech fixtures), save its state_dict as safetensors in a temporary folder, convert it with
`spkv import --from <toolkit>`, embed the held-out clips with `spkv embed`, and compare with the
toolkit's own pipeline in eval mode (float32, CPU, 1 thread):

  speechbrain  ECAPA_TDNN(input_size=80, channels=[C,C,C,C,3C], lin_neurons=192), other arguments at
               their defaults (attention 128, SE 128, scale 8, global context); Fbank(n_mels=80) ->
               InputNormalization(sentence, std_norm=False) -> model(feats, wav_lens=ones).
  wespeaker    wespeaker/models/ecapa_tdnn.py ECAPA_TDNN(channels=C, feat_dim=80, embed_dim=192,
               pooling_func='ASTP', global_context_att=True) unmodified (= ECAPA_TDNN_GLOB_c512 for
               C=512; MFA width is hard-coded 1536, ASTP bottleneck 128); kaldi.fbank on int16-valued
               samples, mean subtraction (as make_ecapa_fixtures.py / wespeaker/cli/speaker.py).

The WAV is read exactly as spkv does: int16 / 32768 as float32. Printed per clip: seconds, cosine, 1 - cosine and
max |Δ| between spkv and the toolkit (float32), the largest |value|, and for scale: max |Δ| between spkv
and the toolkit's float64 run of the same model on the same features, and between the toolkit's own
float32 and float64 runs. Nothing is written outside the temporary folder.

Usage (from the repository root):
  swift build -c release --scratch-path .build-cli --product spkv
  /work/venv/ref/bin/python tools/reference/check_heldout_parity.py --seed 777 \
      [--spkv .build-cli/release/spkv] [--wespeaker /tmp/wespeaker] [--clips '/work/heldout/*.wav'] \
      [--channels 64 512] [--only speechbrain|wespeaker]
Exit status 1 if any cosine is below --min-cosine (default 0.9999).
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_ecapa_fixtures as M  # noqa: E402  (save_file, randomise_batchnorm, calibration_batch, stub_package)

EMBED_DIM = 192


def read_wav(path):
    """(float32 waveform = int16/32768, int16 samples), as spkv reads a 16-bit WAV."""
    pcm, sr = sf.read(path, dtype="int16")
    if sr != 16000 or pcm.ndim != 1:
        raise SystemExit(f"{path}: expected 16 kHz mono, got {sr} Hz, shape {pcm.shape}")
    return torch.from_numpy(pcm.astype(np.float32) / np.float32(32768.0)), pcm


def calibration_wavs():
    """The committed speech fixtures (not the held-out clips), as in make_ecapa_fixtures.py."""
    return [M.load_wav(c)[0] for c in M.CLIPS]


# ----------------------------------------------------------------------------- SpeechBrain
def speechbrain_model(C, seed):
    from speechbrain.lobes.features import Fbank
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
    from speechbrain.processing.features import InputNormalization

    torch.manual_seed(seed)
    model = ECAPA_TDNN(input_size=80, channels=[C, C, C, C, 3 * C], lin_neurons=EMBED_DIM)
    fbank = Fbank(n_mels=80).eval()
    norm = InputNormalization(norm_type="sentence", std_norm=False).eval()

    def features(wav, pcm):
        lens = torch.ones(1)
        return norm(fbank(wav.unsqueeze(0)), lens)          # [1, T, 80]

    def encode(m, feats):
        return m(feats, torch.ones(feats.shape[0], dtype=feats.dtype)).reshape(feats.shape[0], -1)

    def calibrate():
        batch = M.calibration_batch(calibration_wavs())
        lens = torch.ones(batch.shape[0])
        model(norm(fbank(batch), lens), lens)

    M.randomise_batchnorm(model, calibrate, torch.Generator().manual_seed(seed + 1))
    return model, features, encode


# ----------------------------------------------------------------------------- WeSpeaker
def wespeaker_model(C, seed, root):
    import torchaudio.compliance.kaldi as kaldi
    M.stub_package("wespeaker", os.path.join(root, "wespeaker"))
    M.stub_package("wespeaker.models", os.path.join(root, "wespeaker", "models"))
    import wespeaker.models.ecapa_tdnn as ecapa

    torch.manual_seed(seed)
    model = ecapa.ECAPA_TDNN(channels=C, feat_dim=80, embed_dim=EMBED_DIM, pooling_func="ASTP",
                             global_context_att=True, emb_bn=False)

    def fbank(pcm_int16):
        wav = torch.from_numpy(np.asarray(pcm_int16).astype(np.float32)).unsqueeze(0)
        raw = kaldi.fbank(wav, num_mel_bins=80, frame_length=25, frame_shift=10, dither=0.0,
                          sample_frequency=16000, window_type="hamming", use_energy=False)
        return (raw - raw.mean(dim=0)).unsqueeze(0)          # [1, T, 80]

    def features(wav, pcm):
        return fbank(pcm)

    def encode(m, feats):
        return m(feats)[-1].reshape(feats.shape[0], -1)

    def calibrate():
        batch = M.calibration_batch([w * 32768.0 for w in calibration_wavs()])
        model(torch.cat([fbank(w.numpy().astype(np.int16)) for w in batch]))

    M.randomise_batchnorm(model, calibrate, torch.Generator().manual_seed(seed + 1))
    return model, features, encode


# ----------------------------------------------------------------------------- spkv
def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def spkv_embeddings(spkv, toolkit, state, folder, tag, clips):
    src = os.path.join(folder, f"{tag}.safetensors")
    dst = os.path.join(folder, f"{tag}-spkv.safetensors")
    M.save_file({k: v.detach().contiguous() for k, v in state.items()}, src,
                metadata={"note": "held-out parity check, random weights"})
    summary = run([spkv, "import", "--from", toolkit, src, "-o", dst]).strip().splitlines()[0]
    out = run([spkv, "embed", "-m", dst, *clips])
    rows = {}
    for line in out.splitlines():
        path, *values = line.split(" ")
        rows[path] = np.array([float(v) for v in values], dtype=np.float64)
    return summary, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, required=True, help="model seed (use one the fixtures did not)")
    ap.add_argument("--spkv", default=os.path.join(M.REPO, ".build-cli", "release", "spkv"))
    ap.add_argument("--clips", default="/work/heldout/*.wav", help="glob of 16 kHz mono 16-bit WAVs")
    ap.add_argument("--channels", type=int, nargs="+", default=[64, 512])
    ap.add_argument("--wespeaker", default="/tmp/wespeaker", help="checkout of github:wenet-e2e/wespeaker")
    ap.add_argument("--only", action="append", choices=["speechbrain", "wespeaker"])
    ap.add_argument("--min-cosine", type=float, default=0.9999)
    args = ap.parse_args()
    if args.seed in {M.SEED + 100 * i for i in range(3)}:
        raise SystemExit(f"seed {args.seed} is a fixture seed; pick another")
    clips = sorted(glob.glob(args.clips))
    if not clips:
        raise SystemExit(f"no clips match {args.clips}")
    if not os.access(args.spkv, os.X_OK):
        raise SystemExit(f"{args.spkv} not found; swift build -c release --scratch-path .build-cli --product spkv")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    toolkits = []
    if not args.only or "speechbrain" in args.only:
        toolkits.append(("speechbrain", lambda C, s: speechbrain_model(C, s)))
    if not args.only or "wespeaker" in args.only:
        if os.path.isfile(os.path.join(args.wespeaker, "wespeaker", "models", "ecapa_tdnn.py")):
            toolkits.append(("wespeaker", lambda C, s: wespeaker_model(C, s, args.wespeaker)))
        else:
            print(f"skip wespeaker: no checkout at {args.wespeaker}")

    audio = {p: read_wav(p) for p in clips}
    print(f"spkv {args.spkv}; seed {args.seed}; torch {torch.__version__}; {len(clips)} clips")
    print(f"{'toolkit':<12} {'C':>4} {'clip':<24} {'seconds':>7} {'cosine':>11} {'1-cosine':>9} {'max|Δ|':>9} "
          f"{'max|emb|':>8} {'Δ vs f64':>9} {'ref f32-f64':>11}")
    worst = 1.0
    with tempfile.TemporaryDirectory(prefix="spkv-heldout-") as folder:
        for ti, (name, build) in enumerate(toolkits):
            for C in args.channels:
                seed = args.seed + 1000 * ti + C
                model, features, encode = build(C, seed)
                model.eval()
                t0 = time.perf_counter()
                summary, got = spkv_embeddings(args.spkv, name, model.state_dict(), folder, f"{name}_c{C}", clips)
                spkv_seconds = time.perf_counter() - t0
                print(f"# {name} C={C} seed {seed}: {summary} (import + embed {spkv_seconds:.2f} s)")
                for path in clips:
                    wav, pcm = audio[path]
                    with torch.no_grad():
                        feats = features(wav, pcm)
                        ref = encode(model, feats)[0].double()
                        ref64 = encode(model.double(), feats.double())[0]
                        model.float()
                    e = got[path]
                    if e.shape != ref.shape:
                        raise SystemExit(f"{path}: spkv gave {e.shape[0]} values, {name} {ref.shape[0]}")
                    r = ref.numpy()
                    cos = float(e @ r / (np.linalg.norm(e) * np.linalg.norm(r)))
                    diff = float(np.abs(e - r).max())
                    noise = float((ref - ref64).abs().max())
                    worst = min(worst, cos)
                    print(f"{name:<12} {C:>4} {os.path.basename(path):<24} {wav.numel() / 16000:>7.3f} "
                          f"{cos:>11.8f} {1 - cos:>9.1e} {diff:>9.2e} {np.abs(r).max():>8.3f} "
                          f"{np.abs(e - ref64.numpy()).max():>9.2e} {noise:>11.2e}")
    print(f"worst cosine {worst:.9f} (threshold {args.min_cosine})")
    return 0 if worst >= args.min_cosine else 1


if __name__ == "__main__":
    sys.exit(main())
