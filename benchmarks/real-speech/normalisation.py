#!/usr/bin/env python3
"""Label-free score normalisation on the real-speech benchmark (issue 18, item 5 (b) and (c)), measured offline.

Reads `spkv embed` output (PATH v1 … vD) of the benchmark's clips and of a cohort, and reports for each list, with
cosine scoring: the raw cosine, domain centring (the cohort's mean unit embedding subtracted before the cosine),
AS-norm (adaptive symmetric normalisation, the top-N cohort scores of each side) and both. EER and minDCF at
P_target 0.01 and 0.05 (C_miss = C_fa = 1, normalised), as `spkv eval` computes them.

    spkv embed -m MODEL --threads 2 -o clips.emb <every clip of the lists, paths relative to the corpus's wav/>
    spkv embed -m MODEL --threads 2 -o cohort.emb <cohort clips>
    python3 benchmarks/real-speech/normalisation.py --clips clips.emb --cohort cohort.emb \
        --trials benchmarks/real-speech/trials [--top-n 300] [--lopo]

--lopo adds, for every package-<name>.txt list, the same methods with a cohort of the clips of the other packages
(from --clips; no clip of the held-out package).
Needs numpy.
"""
import argparse
import glob
import os

import numpy as np


def read_embeddings(path):
    names, rows = [], []
    for line in open(path):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        names.append(fields[0])
        rows.append([float(v) for v in fields[1:]])
    x = np.asarray(rows, dtype=np.float64)
    return names, x / np.linalg.norm(x, axis=1, keepdims=True)


def read_trials(path):
    out = []
    for line in open(path):
        f = line.split()
        if len(f) == 3:
            out.append((f[0] == "1", f[1], f[2]))
    return out


def read_enrollments(path):
    models = {}
    if os.path.exists(path):
        for line in open(path):
            f = line.split()
            if len(f) >= 2:
                models[f[0]] = f[1:]
    return models


def eer_and_dcf(scores, labels):
    """EER in % and normalised minDCF at P 0.01 and 0.05 (a threshold between every pair of sorted scores)."""
    order = np.argsort(scores, kind="mergesort")
    labels = labels[order]
    n_t, n_n = labels.sum(), (~labels).sum()
    # Reject everything below each cut: misses grow with targets passed, false alarms fall with non-targets passed.
    p_miss = np.concatenate([[0], np.cumsum(labels)]) / n_t
    p_fa = 1 - np.concatenate([[0], np.cumsum(~labels)]) / n_n
    i = np.argmin(np.abs(p_miss - p_fa))
    eer = (p_miss[i] + p_fa[i]) / 2 * 100
    dcf = {}
    for p in (0.01, 0.05):
        c = p * p_miss + (1 - p) * p_fa
        dcf[p] = c.min() / min(p, 1 - p)
    return eer, dcf[0.01], dcf[0.05]


def side_vectors(names, enrollments, index, x):
    """Unit vectors of each trial side: a clip, or a multi-clip model (mean of its clips' unit vectors, renormalised)."""
    out = {}
    for n in set(names):
        if n in enrollments:
            v = x[[index[c] for c in enrollments[n]]].mean(axis=0)
        else:
            v = x[index[n]]
        out[n] = v / np.linalg.norm(v)
    return out


def evaluate(trials, enrollments, index, x, cohort, top_n):
    labels = np.array([t[0] for t in trials])
    results = {}
    for method in ("cosine", "centring", "as-norm", "centring+as-norm"):
        centred = method.startswith("centring")
        mean = cohort.mean(axis=0)
        xs = x - mean if centred else x
        xs = xs / np.linalg.norm(xs, axis=1, keepdims=True)
        cs = cohort - mean if centred else cohort
        cs = cs / np.linalg.norm(cs, axis=1, keepdims=True)
        sides = side_vectors([t[1] for t in trials] + [t[2] for t in trials], enrollments, index, xs)
        scores = np.array([sides[e] @ sides[t] for _, e, t in trials])
        if method.endswith("as-norm"):
            names = sorted(sides)
            mat = np.stack([sides[n] for n in names]) @ cs.T
            top = -np.sort(-mat, axis=1)[:, :top_n]
            stats = {n: (top[k].mean(), top[k].std()) for k, n in enumerate(names)}
            scores = np.array([0.5 * ((s - stats[e][0]) / stats[e][1] + (s - stats[t][0]) / stats[t][1])
                               for s, (_, e, t) in zip(scores, trials)])
        results[method] = eer_and_dcf(scores, labels)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", required=True)
    ap.add_argument("--cohort", required=True)
    ap.add_argument("--trials", required=True)
    ap.add_argument("--top-n", type=int, default=300)
    ap.add_argument("--lopo", action="store_true")
    a = ap.parse_args()
    names, x = read_embeddings(a.clips)
    index = {n: i for i, n in enumerate(names)}
    _, cohort = read_embeddings(a.cohort)
    print(f"| list | cohort | method | EER % | minDCF 0.01 | minDCF 0.05 |")
    print("|---|---|---|---|---|---|")
    for path in sorted(glob.glob(os.path.join(a.trials, "*.txt"))):
        name = os.path.basename(path)[:-4]
        trials = read_trials(path)
        enrollments = read_enrollments(os.path.join(a.trials, name + ".enrollments"))
        cohorts = [(os.path.basename(a.cohort), cohort)]
        if a.lopo and name.startswith("package-"):
            held = name[len("package-"):]
            others = [i for i, n in enumerate(names) if not n.startswith(held + "/")]
            cohorts.append(("other packages", x[others]))
        for label, c in cohorts:
            for method, (eer, d1, d5) in evaluate(trials, enrollments, index, x, c, a.top_n).items():
                print(f"| {name} | {label} ({len(c)}) | {method} | {eer:.2f} | {d1:.3f} | {d5:.3f} |")


if __name__ == "__main__":
    main()
