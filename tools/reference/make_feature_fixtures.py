#!/usr/bin/env python3
"""Golden log-mel fixtures for spkv's SVFeatures presets, computed by the reference implementations.

Run by hand (never in CI), from the repository root:
  /work/venv/ref/bin/python tools/reference/make_feature_fixtures.py

Reads the real-speech fixtures Sources/_SVTestSupport/Fixtures/speech/*.wav exactly as the Swift side
sees them (int16 / 32768 as float32) and, for each preset, runs the reference front end itself:

  sslsv-40     torchaudio.transforms.MelSpectrogram(n_fft=512, win_length=400, hop_length=160,
               window_fn=torch.hamming_window, n_mels=40, sample_rate=16000); log(x + 1e-6);
               torch.nn.InstanceNorm1d(40)            (theolepage/sslsv encoders/_BaseEncoder.py)
  sslsv-80     same with window_fn=torch.hann_window, n_mels=80
  speechbrain  speechbrain.lobes.features.Fbank(n_mels=80);
               speechbrain.processing.features.InputNormalization(norm_type="sentence", std_norm=False)
  kaldi        torchaudio.compliance.kaldi.fbank as WeSpeaker calls it (waveform * 32768,
               num_mel_bins=80, frame_length=25, frame_shift=10, dither=0, window_type='hamming',
               use_energy=False, other arguments at their defaults); then mean subtraction over time

Writes, per preset and clip, features/<preset>_<clip>.safetensors:
  raw         F32 (n_mels, S)  log-mel before normalisation, mel-major, selected frames only
  normalized  F32 (n_mels, S)  after normalisation (statistics over the FULL clip), same frames
  frame_index I64 (S,)         which frames of the clip the S columns are
and per preset features/<preset>_tables.safetensors:
  mel_fbank   F32 (n_mels, n_fft/2+1)  the reference's own filterbank (kaldi: Nyquist column zero)
  window      F32 (win_length,)        the reference's own window
Metadata (string -> string): generator, versions, preset, clip, samples, frames, selection.
Frames kept per clip: all if <= 160, else the first 64, the last 32 and 64 evenly spaced between,
so the fixtures stay small (< 2 MB in all) while covering both edges.
"""
import glob
import json
import os
import subprocess

import numpy as np
import soundfile
import speechbrain
import torch
import torchaudio
from safetensors.numpy import save_file
from speechbrain.lobes.features import Fbank
from speechbrain.processing.features import InputNormalization
from torchaudio.compliance import kaldi

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEECH = os.path.join(ROOT, "Sources/_SVTestSupport/Fixtures/speech")
OUT = os.path.join(ROOT, "Sources/_SVTestSupport/Fixtures/features")
MAX_FRAMES = 160


def read_wav(path):
    data, rate = soundfile.read(path, dtype="int16")
    assert rate == 16000 and data.ndim == 1, path
    return torch.from_numpy(data.astype(np.float32) / np.float32(32768.0))


def sslsv(n_mels, window_fn):
    spec = torchaudio.transforms.MelSpectrogram(n_fft=512, win_length=400, hop_length=160,
                                                window_fn=window_fn, n_mels=n_mels, sample_rate=16000)
    norm = torch.nn.InstanceNorm1d(n_mels)

    def run(wav):
        with torch.no_grad():
            raw = (spec(wav[None]) + 1e-6).log()          # (1, n_mels, T)
            return raw[0], norm(raw)[0]
    tables = {"mel_fbank": spec.mel_scale.fb.T.contiguous(), "window": spec.spectrogram.window}
    return run, tables


def speechbrain_fbank():
    fbank = Fbank(n_mels=80)
    norm = InputNormalization(norm_type="sentence", std_norm=False)
    fbank.eval(); norm.eval()

    def run(wav):
        with torch.no_grad():
            raw = fbank(wav[None])                        # (1, T, n_mels)
            out = norm(raw, torch.ones(1))
            return raw[0].T, out[0].T
    f = fbank.compute_fbanks
    f_central = f.f_central.repeat(f.all_freqs_mat.shape[1], 1).transpose(0, 1)
    band = f.band.repeat(f.all_freqs_mat.shape[1], 1).transpose(0, 1)
    matrix = f._create_fbank_matrix(f_central, band)     # (n_stft, n_mels)
    tables = {"mel_fbank": matrix.T.contiguous(), "window": fbank.compute_STFT.window}
    return run, tables


def kaldi_fbank():
    def run(wav):
        with torch.no_grad():
            raw = kaldi.fbank(wav[None] * 32768, num_mel_bins=80, frame_length=25, frame_shift=10,
                              dither=0.0, sample_frequency=16000, window_type="hamming",
                              use_energy=False)           # (T, 80)
            out = raw - raw.mean(dim=0, keepdim=True)
            return raw.T, out.T
    banks, _ = kaldi.get_mel_banks(80, 512, 16000.0, 20.0, 0.0, 100.0, -500.0, 1.0)
    banks = torch.nn.functional.pad(banks, (0, 1))        # Nyquist column, as kaldi.fbank does
    window = kaldi._feature_window_function("hamming", 400, 0.42, torch.device("cpu"), torch.float32)
    return run, {"mel_fbank": banks.contiguous(), "window": window}


PRESETS = {
    "sslsv-40": lambda: sslsv(40, torch.hamming_window),
    "sslsv-80": lambda: sslsv(80, torch.hann_window),
    "speechbrain": speechbrain_fbank,
    "kaldi": kaldi_fbank,
}


def select(frames):
    if frames <= MAX_FRAMES:
        return np.arange(frames)
    head, tail = np.arange(64), np.arange(frames - 32, frames)
    middle = np.linspace(64, frames - 33, 66).round().astype(np.int64)[1:-1]
    return np.unique(np.concatenate([head, middle, tail]))


def git_sha():
    try:
        return subprocess.check_output(["git", "-C", ROOT, "rev-parse", "HEAD"], text=True).strip()
    except Exception:
        return "unknown"


def main():
    torch.set_num_threads(1)
    versions = {"torch": torch.__version__, "torchaudio": torchaudio.__version__,
                "speechbrain": speechbrain.__version__, "numpy": np.__version__}
    common = {"generator": "tools/reference/make_feature_fixtures.py", "spkv_commit": git_sha(),
              "versions": json.dumps(versions, sort_keys=True)}
    os.makedirs(OUT, exist_ok=True)
    clips = sorted(glob.glob(os.path.join(SPEECH, "*.wav")))
    assert clips, "no speech fixtures in " + SPEECH
    for name, make in PRESETS.items():
        run, tables = make()
        save_file({k: v.detach().numpy().astype(np.float32) for k, v in tables.items()},
                  os.path.join(OUT, f"{name}_tables.safetensors"), metadata=dict(common, preset=name))
        for path in clips:
            clip = os.path.splitext(os.path.basename(path))[0]
            wav = read_wav(path)
            raw, norm = (t.numpy().astype(np.float32) for t in run(wav))
            idx = select(raw.shape[1])
            meta = dict(common, preset=name, clip=os.path.basename(path), samples=str(wav.numel()),
                        frames=str(raw.shape[1]), selection=f"first 64, last 32, evenly spaced between; max {MAX_FRAMES}")
            save_file({"raw": np.ascontiguousarray(raw[:, idx]), "normalized": np.ascontiguousarray(norm[:, idx]),
                       "frame_index": idx.astype(np.int64)},
                      os.path.join(OUT, f"{name}_{clip}.safetensors"), metadata=meta)
            print(f"{name:12s} {clip:14s} samples={wav.numel():7d} frames={raw.shape[1]:5d} kept={len(idx)}")
    total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(OUT, "*.safetensors")))
    print(f"total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
