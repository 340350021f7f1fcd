#!/usr/bin/env python3
"""MagNetO's stage 2 (full-length refinement of the embedding layer) for the frozen CAM++, measured offline per package
(issue 18, item 3).

CAM++'s last layer maps the pooled statistics (mean + std, 1,024 values) to the 192-value embedding by one affine map
(convolution + batch norm, folded). Stage 2 retrains that map with AM-softmax on the labelled speakers of the other
packages (leave-one-package-out), starting from CAM++'s own map, and the held-out package's list is scored by cosine.
With --augmented, the pooled statistics of channel-augmented copies of the training clips join the training set (the
paper refines on augmented copies); the held-out package is always scored on its clean clips.

Inputs come from `spkv-train magneto`'s cache (inputs.safetensors: `pooled` and `embeddings` in meta.tsv order):

    spkv-train magneto --model models/campplus-zh-en-16k-v1.safetensors --corpus CORPUS --out RUN ...
    python3 benchmarks/real-speech/refinement.py --inputs RUN/inputs.safetensors --meta CORPUS/meta.tsv \
        --trials benchmarks/real-speech/trials [--augmented AUG_RUN/inputs.safetensors --augmented-meta AUG/meta.tsv]

Needs numpy, torch and safetensors. Prints EER % and minDCF(0.01) of the given map and of the refined map after each
of --checkpoints steps.
"""
import argparse
import csv
import os

import numpy as np
import torch
from safetensors.numpy import load_file

from normalisation import eer_and_dcf, read_trials


def read_meta(path):
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r["path"] for r in rows], [r["speaker"] for r in rows], [r["engine"] for r in rows]


def fit_given_map(pooled, embeddings):
    """CAM++'s folded affine map, recovered by least squares (exact up to float rounding)."""
    a = np.hstack([pooled, np.ones((len(pooled), 1))]).astype(np.float64)
    sol, *_ = np.linalg.lstsq(a, embeddings.astype(np.float64), rcond=None)
    residual = np.abs(a @ sol - embeddings).max() / np.abs(embeddings).max()
    return sol[:-1].T.copy(), sol[-1].copy(), residual


def score(trials, index, emb):
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    labels = np.array([t[0] for t in trials])
    s = np.array([x[index[e]] @ x[index[t]] for _, e, t in trials])
    eer, dcf01, _ = eer_and_dcf(s, labels)
    return eer, dcf01


def refine(pooled, labels, weight, bias, steps, checkpoints, lr, scale=30.0, margin=0.2, batch=256, seed=1):
    """AM-softmax on (pooled → affine → embedding), SGD momentum 0.9, learning rate halved every steps/5."""
    g = torch.Generator().manual_seed(seed)
    x = torch.tensor(pooled, dtype=torch.float32)
    y = torch.tensor(labels)
    w = torch.tensor(weight, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(bias, dtype=torch.float32, requires_grad=True)
    with torch.no_grad():
        e = torch.nn.functional.normalize(x @ w.T + b, dim=1)
        centres = torch.zeros(int(y.max()) + 1, e.shape[1]).index_add_(0, y, e)
    classes = torch.nn.functional.normalize(centres, dim=1).requires_grad_(True)
    opt = torch.optim.SGD([w, b, classes], lr=lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, steps // 5), gamma=0.5)
    out = {}
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(x), (batch,), generator=g)
        e = torch.nn.functional.normalize(x[idx] @ w.T + b, dim=1)
        cos = e @ torch.nn.functional.normalize(classes, dim=1).T
        onehot = torch.nn.functional.one_hot(y[idx], cos.shape[1]).float()
        loss = torch.nn.functional.cross_entropy(scale * (cos - margin * onehot), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step in checkpoints:
            out[step] = (w.detach().numpy().copy(), b.detach().numpy().copy(), loss.item())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--trials", required=True)
    ap.add_argument("--augmented")
    ap.add_argument("--augmented-meta")
    ap.add_argument("--checkpoints", default="100,300,1000")
    ap.add_argument("--lr", type=float, default=0.01)
    a = ap.parse_args()
    checkpoints = sorted(int(c) for c in a.checkpoints.split(","))
    d = load_file(a.inputs)
    pooled, embeddings = d["pooled"], d["embeddings"]
    paths, speakers, sources = read_meta(a.meta)
    assert len(paths) == len(pooled), "inputs and meta.tsv differ in length"
    weight, bias, residual = fit_given_map(pooled, embeddings)
    print(f"given map recovered, max relative residual {residual:.2e}")
    aug_pooled, aug_speakers, aug_sources = np.zeros((0, pooled.shape[1]), np.float32), [], []
    if a.augmented:
        aug_pooled = load_file(a.augmented)["pooled"]
        _, aug_speakers, aug_sources = read_meta(a.augmented_meta)
    index = {p: i for i, p in enumerate(paths)}
    print("| held-out package | map | steps | loss | EER % | minDCF 0.01 |")
    print("|---|---|---|---|---|---|")
    for package in sorted(set(sources)):
        path = os.path.join(a.trials, f"package-{package}.txt")
        if not os.path.exists(path):  # codec2-examples: no list of its own (one clip per talker and condition)
            continue
        trials = read_trials(path)
        eer, dcf = score(trials, index, embeddings)
        print(f"| {package} | given | 0 | – | {eer:.2f} | {dcf:.3f} |")
        keep = [i for i, (s, src) in enumerate(zip(speakers, sources)) if src != package and s != "-"]
        aug_keep = [i for i, (s, src) in enumerate(zip(aug_speakers, aug_sources)) if src != package and s != "-"]
        names = sorted({speakers[i] for i in keep} | {aug_speakers[i] for i in aug_keep})
        label_of = {n: k for k, n in enumerate(names)}
        x = np.vstack([pooled[keep], aug_pooled[aug_keep]])
        y = np.array([label_of[speakers[i]] for i in keep] + [label_of[aug_speakers[i]] for i in aug_keep])
        for step, (w, b, loss) in refine(x, y, weight, bias, max(checkpoints), set(checkpoints), a.lr).items():
            eer, dcf = score(trials, index, pooled @ w.T + b)
            tag = "refined+aug" if a.augmented else "refined"
            print(f"| {package} | {tag} | {step} | {loss:.3f} | {eer:.2f} | {dcf:.3f} |", flush=True)


if __name__ == "__main__":
    main()
