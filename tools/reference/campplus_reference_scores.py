#!/usr/bin/env python3
"""Cosine scores of a trial list by 3D-Speaker's own CAM++ pipeline, in spkv's score-file format.

The reference for `spkv score` with an imported CAM++ model: 3D-Speaker's `FBank(80, 16000,
mean_nor=True)` and `CAMPPlus` (imported from a checkout of github:modelscope/3D-Speaker, nothing
copied), on audio read as spkv reads it (libsndfile through soundfile; 16-bit PCM / 32768, mixed to
mono; the trial lists here are 16 kHz already), cosine of the embeddings. `spkv eval --scores OUT`
then gives the reference's EER, minDCF and Cllr on the same trials.

Usage:
  /work/refvenv/bin/python tools/reference/campplus_reference_scores.py --speakerlab /path/to/3D-Speaker \
      --pt campplus_cn_en_common.pt --trials models/samples/fotaq-joe/trials.txt \
      --audio-root models/samples/fotaq-joe --output reference.scores
"""
import argparse
import os
import sys

import numpy as np
import soundfile as sf
import torch


def read_trials(path):
    trials = []
    for line in open(path, encoding="utf-8"):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) == 3 and fields[0] in ("0", "1"):
            trials.append((fields[1], fields[2], "target" if fields[0] == "1" else "nontarget"))
        elif len(fields) == 3:
            trials.append((fields[0], fields[1], fields[2]))
        else:
            trials.append((fields[0], fields[1], None))
    return trials


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--speakerlab", required=True)
    parser.add_argument("--pt", required=True)
    parser.add_argument("--trials", required=True)
    parser.add_argument("--audio-root", default=".")
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.speakerlab)
    from speakerlab.models.campplus.DTDNN import CAMPPlus
    from speakerlab.process.processor import FBank

    torch.set_num_threads(1)
    model = CAMPPlus(feat_dim=80, embedding_size=192)
    model.load_state_dict(torch.load(args.pt, map_location="cpu", weights_only=True))
    model.eval()
    front_end = FBank(80, sample_rate=16000, mean_nor=True)
    trials = read_trials(args.trials)
    embeddings = {}
    with torch.no_grad():
        for name in sorted({t[0] for t in trials} | {t[1] for t in trials}):
            data, rate = sf.read(os.path.join(args.audio_root, name), dtype="float32", always_2d=True)
            if rate != 16000:
                raise SystemExit(f"{name}: {rate} Hz; this reference reads 16 kHz audio only")
            wav = torch.from_numpy(data.mean(axis=1)).unsqueeze(0)
            e = model(front_end(wav).unsqueeze(0))[0].numpy().astype(np.float64)
            embeddings[name] = e / np.linalg.norm(e)
    with open(args.output, "w", encoding="utf-8") as out:
        out.write("# spkv-scores kind=cosine model=reference:3D-Speaker-CAMPPlus\n")
        for enroll, test, label in trials:
            score = float(embeddings[enroll] @ embeddings[test])
            out.write(f"{enroll} {test} {score!r}" + (f" {label}\n" if label else "\n"))
    print(f"{len(trials)} trials, {len(embeddings)} files -> {args.output}")


if __name__ == "__main__":
    main()
