#!/usr/bin/env python3
"""Golden values for spkv's evaluation metrics (SVScoring/Metrics.swift).

    /work/venv/ref/bin/python tools/reference/make_metric_fixtures.py \
        [--out Sources/_SVTestSupport/Fixtures/metrics/golden.json]

Needs numpy and scikit-learn (`pip install scikit-learn`). Deterministic: the same file on every run.

The metrics are computed independently of the Swift code:
* EER: sklearn.metrics.roc_curve(drop_intermediate=False) gives one operating point per distinct
  score (plus the reject-all point, threshold inf). With P_miss = 1 - TPR, take the first point i
  where P_miss <= P_fa (compared exactly on the integer counts) and interpolate linearly between
  points i-1 and i: t = d[i-1] / (d[i-1] - d[i]), d = P_miss - P_fa; EER = P_fa[i-1] + t*(P_fa[i] - P_fa[i-1]).
  Threshold (1-t)*thr[i-1] + t*thr[i], or thr[i] when point i-1 is reject-all. sklearn's inf
  threshold is reported as nextafter(max score, inf). Cross-checked against a float interpolation.
* minDCF: brute force over every distinct score and reject-all, counting with `<`/`>=` directly
  (O(n * distinct) for small sets, searchsorted for large ones; both agree where both run).
  Normalised by min(P, 1-P), C_miss = C_fa = 1; the first (highest-threshold) minimum wins.
* actDCF: accept llr >= log((1-P)/P).
* Cllr: math.fsum of softplus terms.
* min Cllr: sklearn IsotonicRegression on the dense score ranks (it pools tied x) -> posterior p -> llr =
  logit(p) - log(Nt/Nn), +-inf where p is 1/0, Cllr with softplus(-inf) = 0 (BOSARIS min_cllr);
  cross-checked against an exact-fraction PAV on tie groups written here.

Case kinds: "explicit" cases store their scores (repr, so Swift parses the same doubles);
"generated" cases store a SplitMix64 recipe that Swift replays bit-exactly (integer arithmetic
and IEEE additions only, no libm), so large sets cost no fixture bytes.
"""
import argparse
import json
import math
from fractions import Fraction

import numpy as np
import sklearn
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_curve

MASK = (1 << 64) - 1
PRIORS = (0.01, 0.05)


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        """[0, 1) with 53 random bits: exact in a double."""
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)


def generated_scores(seed, n_tar, n_non, shift, scale, quantum):
    """Irwin-Hall(4) approximately-Gaussian scores: ((u1+u2+u3+u4) - 2) * scale (+ shift for
    targets), left to right; with quantum (a power of two) floor(s / quantum) * quantum, which
    makes ties. Swift's `MetricsGoldenTests.generatedScores` replays this exactly."""
    rng = SplitMix64(seed)

    def draw(offset):
        s = rng.uniform()
        s = s + rng.uniform()
        s = s + rng.uniform()
        s = s + rng.uniform()
        s = (s - 2.0) * scale + offset
        if quantum > 0:
            s = math.floor(s / quantum) * quantum
        return s

    tar = [draw(shift) for _ in range(n_tar)]
    non = [draw(0.0) for _ in range(n_non)]
    return tar, non


# ---------------------------------------------------------------- reference metrics

def eer_reference(tar, non):
    nt, nn = len(tar), len(non)
    y = np.r_[np.ones(nt), np.zeros(nn)]
    s = np.r_[tar, non]
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    assert np.isinf(thr[0]) and len(thr) == len(np.unique(s)) + 1
    thr = thr.astype(float).copy()
    thr[0] = np.nextafter(s.max(), np.inf)
    fa = [int(round(v * nn)) for v in fpr]
    miss = [nt - int(round(v * nt)) for v in tpr]
    d = [m * nn - f * nt for m, f in zip(miss, fa)]  # (P_miss - P_fa) * nt * nn, exact
    i = next(k for k in range(len(d)) if d[k] <= 0)
    assert i >= 1
    t = d[i - 1] / (d[i - 1] - d[i])
    eer = (fa[i - 1] + t * (fa[i] - fa[i - 1])) / nn
    if i - 1 == 0 or t == 1:
        threshold = thr[i]
    elif t == 0:
        threshold = thr[i - 1]
    else:
        threshold = (1 - t) * thr[i - 1] + t * thr[i]
    # Cross-check in floating point: the zero of fnr - fpr on the piecewise-linear ROC.
    fnr = 1 - tpr
    dd = fnr - fpr
    j = int(np.argmax(dd <= 1e-12))
    tt = dd[j - 1] / (dd[j - 1] - dd[j]) if dd[j - 1] != dd[j] else 0.0
    assert abs((fpr[j - 1] + tt * (fpr[j] - fpr[j - 1])) - eer) < 1e-9, "float EER cross-check"
    return eer, float(threshold)


def cost(miss, fa, nt, nn, p):
    return (p * (miss / nt) + (1 - p) * (fa / nn)) / min(p, 1 - p)


def min_dcf_reference(tar, non, p):
    tar_a, non_a = np.sort(np.asarray(tar)), np.sort(np.asarray(non))
    nt, nn = len(tar), len(non)
    cands = [float(np.nextafter(max(tar_a[-1], non_a[-1]), np.inf))] + sorted(set(tar) | set(non), reverse=True)
    if nt * len(cands) <= 4_000_000:
        counts = [(sum(1 for x in tar if x < c), sum(1 for x in non if x >= c)) for c in cands]
    else:
        counts = None
    fast = [(int(np.searchsorted(tar_a, c, "left")), nn - int(np.searchsorted(non_a, c, "left"))) for c in cands]
    if counts is not None:
        assert counts == fast, "brute-force and searchsorted counts differ"
    costs = [cost(m, f, nt, nn, p) for m, f in fast]
    k = min(range(len(costs)), key=lambda i: (costs[i], i))
    return costs[k], cands[k]


def act_dcf_reference(tar, non, p):
    theta = math.log((1 - p) / p)
    miss = sum(1 for x in tar if x < theta)
    fa = sum(1 for x in non if x >= theta)
    return cost(miss, fa, len(tar), len(non), p)


def softplus(x):
    if x == -math.inf:
        return 0.0
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def cllr_reference(tar, non):
    return (math.fsum(softplus(-x) for x in tar) / len(tar) + math.fsum(softplus(x) for x in non) / len(non)) / (2 * math.log(2))


def min_cllr_reference(tar, non):
    nt, nn = len(tar), len(non)
    s = np.r_[tar, non]
    y = np.r_[np.ones(nt), np.zeros(nn)]
    # sklearn merges x values closer than ~1e-15 (float resolution) into one tie, so it is fed the
    # dense ranks of the scores: PAV depends only on their order, ties stay ties, the rest stay apart.
    ranks = np.unique(s, return_inverse=True)[1].astype(float)
    post = IsotonicRegression(increasing=True).fit_transform(ranks, y)
    offset = math.log(nt / nn)
    llr = []
    for q in post:
        q = float(q)
        if q <= 0:
            llr.append(-math.inf)
        elif q >= 1:
            llr.append(math.inf)
        else:
            llr.append(math.log(q / (1 - q)) - offset)
    value = cllr_reference(llr[:nt], llr[nt:])
    exact = min_cllr_exact(tar, non)
    assert abs(value - exact) <= 1e-9 * max(1e-300, exact) + 1e-13, (value, exact)
    return value


def min_cllr_exact(tar, non):
    """PAV on tie groups with exact fractions, then Cllr from block counts."""
    groups = {}
    for x in tar:
        groups.setdefault(x, [0, 0])[0] += 1
    for x in non:
        groups.setdefault(x, [0, 0])[1] += 1
    stack = []  # [targets, nontargets]
    for key in sorted(groups):
        t, n = groups[key]
        while stack and Fraction(stack[-1][0], sum(stack[-1])) >= Fraction(t, t + n):
            pt, pn = stack.pop()
            t, n = t + pt, n + pn
        stack.append([t, n])
    nt, nn = len(tar), len(non)
    tar_sum = math.fsum(t * math.log1p((n * nt) / (t * nn)) for t, n in stack if t and n)
    non_sum = math.fsum(n * math.log1p((t * nn) / (n * nt)) for t, n in stack if t and n)
    return (tar_sum / nt + non_sum / nn) / (2 * math.log(2))


def reference(tar, non):
    eer, eer_thr = eer_reference(tar, non)
    out = {"targets": len(tar), "nontargets": len(non), "eer": 100 * eer, "eer_threshold": eer_thr}
    for p, key in zip(PRIORS, ("01", "05")):
        v, th = min_dcf_reference(tar, non, p)
        out[f"min_dcf_{key}"] = v
        out[f"min_dcf_{key}_threshold"] = th
        out[f"act_dcf_{key}"] = act_dcf_reference(tar, non, p)
    out["cllr"] = cllr_reference(tar, non)
    out["min_cllr"] = min_cllr_reference(tar, non)
    return out


# ---------------------------------------------------------------- cases

def explicit_cases():
    rng = np.random.default_rng(20240611)
    cases = []

    def add(name, tar, non, note):
        cases.append({"name": name, "note": note, "kind": "explicit",
                      "target_scores": [float(x) for x in tar], "nontarget_scores": [float(x) for x in non]})

    for n_tar, n_non, seed in [(5, 7, 1), (40, 60, 2), (200, 800, 3), (1000, 1500, 4)]:
        r = np.random.default_rng(seed)
        add(f"gauss_{n_tar}x{n_non}", r.normal(2.0, 1.5, n_tar).round(9), r.normal(-2.0, 2.0, n_non).round(9),
            "LLR-like Gaussians (rounded to 9 decimals; no ties)")
    r = np.random.default_rng(5)
    add("ties_rounded_0.5", (r.normal(1.0, 1.0, 300) * 2).round() / 2, (r.normal(-1.0, 1.0, 700) * 2).round() / 2,
        "scores rounded to multiples of 0.5: many cross-class ties")
    add("imbalanced_12x3000", rng.normal(3.0, 1.0, 12).round(9), rng.normal(0.0, 1.0, 3000).round(9),
        "12 targets vs 3000 non-targets")
    add("imbalanced_2500x9", rng.normal(1.0, 1.0, 2500).round(6), rng.normal(-1.0, 1.0, 9).round(9),
        "many targets, 9 non-targets")
    base_t, base_n = rng.normal(1.0, 1.0, 50).round(6), rng.normal(-0.5, 1.0, 80).round(6)
    add("duplicated", np.r_[base_t, base_t, base_t[:20], base_n[:10]], np.r_[base_n, base_n, base_t[:15]],
        "every score repeated, some shared between the classes")
    add("huge_magnitudes", rng.normal(1.0, 1.0, 150) * 1e200, rng.normal(-1.0, 1.0, 250) * 1e200,
        "scores of order 1e200: no overflow in interpolation or softplus")
    add("tiny_magnitudes", rng.normal(1.0, 1.0, 150) * 1e-200, rng.normal(-1.0, 1.0, 250) * 1e-200,
        "scores of order 1e-200 (LLRs ~ 0: Cllr ~ 1)")
    th01, th05 = math.log(0.99 / 0.01), math.log(0.95 / 0.05)
    add("at_bayes_thresholds", [th01, th01, th05, 5.0, th05, -1.0], [th01, th05, th05, -3.0, 0.0, th01 - 1e-12],
        "scores exactly at the Bayes thresholds log(99) and log(19): accept on equality")
    add("all_equal", [0.25] * 7, [0.25] * 11, "all scores equal: EER 50 %")
    add("separable", [3.0, 4.0], [1.0, 2.0], "perfectly separable")
    add("reversed", [1.0, 2.0], [3.0, 4.0], "every target below every non-target")
    add("single_target", [0.3], rng.normal(0.0, 1.0, 40).round(6), "one target")
    add("single_each", [0.0], [0.0], "one tied pair")
    return cases


def generated_cases():
    return [
        {"name": "generated_large", "kind": "generated", "note": "20k targets, 200k non-targets, no ties",
         "generator": {"seed": 7, "n_tar": 20000, "n_non": 200000, "shift": 3.0, "scale": 2.0, "quantum": 0.0}},
        {"name": "generated_large_ties", "kind": "generated", "note": "quantised to 2^-5: heavy ties",
         "generator": {"seed": 8, "n_tar": 5000, "n_non": 60000, "shift": 1.0, "scale": 3.0, "quantum": 0.03125}},
        {"name": "generated_imbalanced", "kind": "generated", "note": "50 targets, 100k non-targets",
         "generator": {"seed": 9, "n_tar": 50, "n_non": 100000, "shift": 2.0, "scale": 1.0, "quantum": 0.0}},
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="Sources/_SVTestSupport/Fixtures/metrics/golden.json")
    args = ap.parse_args()
    cases = explicit_cases() + generated_cases()
    for c in cases:
        if c["kind"] == "explicit":
            tar, non = c["target_scores"], c["nontarget_scores"]
        else:
            tar, non = generated_scores(**c["generator"])
        c["expected"] = reference(tar, non)
        print(f'{c["name"]:24s} nt={len(tar):6d} nn={len(non):6d} eer={c["expected"]["eer"]:.4f}% '
              f'minDCF01={c["expected"]["min_dcf_01"]:.4f} cllr={c["expected"]["cllr"]:.4g} minCllr={c["expected"]["min_cllr"]:.4f}')
    doc = {"producer": "tools/reference/make_metric_fixtures.py",
           "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__},
           "priors": list(PRIORS), "cases": cases}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
