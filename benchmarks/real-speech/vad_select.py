#!/usr/bin/env python3
"""Approximates energy-VAD frame selection (issue 18, item 5 (a)) offline, before spkv does it in the engine.

Writes a copy of every 16-bit WAV under SRC into DST keeping only the 10-ms hops that an energy VAD calls speech
(frame log energy above the recording's 10th-percentile floor + MARGIN dB and within 50 dB of its loudest frame, as
`EnergyVAD` with no hangover), concatenated. Selecting samples is not quite selecting feature frames (the 25-ms
windows straddle the cuts), so this only says whether the engine change is worth making.

    python3 benchmarks/real-speech/vad_select.py labelled/wav voiced/wav [--margin 10]
then embed voiced/wav like labelled/wav and run normalisation.py on it (the 'cosine' rows).
Needs numpy.
"""
import argparse
import os
import wave

import numpy as np


def select(x, rate, margin):
    hop, frame = rate // 100, rate * 25 // 1000
    if len(x) < frame:
        return x
    n = 1 + (len(x) - frame) // hop
    e = np.array([10 * np.log10(max(np.mean(x[i * hop:i * hop + frame] ** 2), 1e-20)) for i in range(n)])
    keep = (e > np.percentile(e, 10) + margin) & (e > e.max() - 50) & (e > -65)
    if keep.sum() < 30:          # too little left to embed: keep the clip as it is
        return x
    return np.concatenate([x[i * hop:(i + 1) * hop] for i in np.flatnonzero(keep)])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--margin", type=float, default=10.0)
    a = ap.parse_args()
    kept = total = 0
    for root, _, files in os.walk(a.src):
        for name in files:
            if not name.endswith(".wav"):
                continue
            path = os.path.join(root, name)
            with wave.open(path) as w:
                rate, data = w.getframerate(), w.readframes(w.getnframes())
            x = np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768
            y = select(x, rate, a.margin)
            kept, total = kept + len(y), total + len(x)
            out = os.path.join(a.dst, os.path.relpath(path, a.src))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with wave.open(out, "wb") as w:
                w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
                w.writeframes((np.clip(y, -1, 32767 / 32768) * 32768).astype("<i2").tobytes())
    print(f"kept {kept / max(total, 1):.1%} of the samples")


if __name__ == "__main__":
    main()
