#!/usr/bin/env python3
"""Golden values for SVScoring's linear calibration and AS-norm (run by hand, never by CI).

    /work/venv/ref/bin/python tools/reference/make_calibration_fixtures.py \
        [--out Sources/_SVTestSupport/Fixtures/scoring]

Writes two JSON files (floats as Python repr, which reads back bit-exactly):

* calibration.json: score sets drawn from seeded Gaussians and the (scale, offset) minimising the
  prior-weighted logistic-regression objective (Brümmer / BOSARIS `train_linear_calibration`)

      C(a, b) = P mean_tar softplus(-(a s + b + logit P)) + (1 - P) mean_non softplus(a s + b + logit P)

  found by scipy.optimize.minimize (BFGS on the objective and its hand-written gradient, then a
  trust-region Newton polish), independently of the Swift Newton solver. Also the objective value
  and the gradient norm at the optimum.

* asnorm.json: random float32 cohort and test embeddings, and per embedding the mean / std of the
  top-N cosine scores against the cohort, as WeSpeaker's `wespeaker/bin/score_norm.py`
  (`get_mean_std`, wenet-e2e/wespeaker@dfa7419) defines them (length-normalise both, sort scores
  descending, keep the first top_n, np.mean and np.std, i.e. population std), re-implemented here in
  float64; plus normalised scores s' = ((s - mu_e)/sd_e + (s - mu_t)/sd_t)/2 for some pairs.
  `speechbrain_std` records SpeechBrain's torch.std (ddof=1) for the same top-N, for reference.

Everything is seeded; the output is byte-reproducible with numpy 2.4.6 / scipy 1.17.1.
"""
import argparse
import json
import os

import numpy as np
from scipy.optimize import minimize


def softplus(x):
    return np.logaddexp(0.0, x)


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def objective(w, tar, non, prior):
    a, b = w
    L = np.log(prior / (1.0 - prior))
    return prior * np.mean(softplus(-(a * tar + b + L))) + (1 - prior) * np.mean(softplus(a * non + b + L))


def gradient(w, tar, non, prior):
    a, b = w
    L = np.log(prior / (1.0 - prior))
    rt = -sigmoid(-(a * tar + b + L))  # d softplus(-z)/dz
    rn = sigmoid(a * non + b + L)  # d softplus(z)/dz
    return np.array([prior * np.mean(rt * tar) + (1 - prior) * np.mean(rn * non),
                     prior * np.mean(rt) + (1 - prior) * np.mean(rn)])


def hessian(w, tar, non, prior):
    a, b = w
    L = np.log(prior / (1.0 - prior))
    zt, zn = a * tar + b + L, a * non + b + L
    ht, hn = sigmoid(zt) * sigmoid(-zt), sigmoid(zn) * sigmoid(-zn)
    def m(h, s):
        return np.array([[np.mean(h * s * s), np.mean(h * s)], [np.mean(h * s), np.mean(h)]])
    return prior * m(ht, tar) + (1 - prior) * m(hn, non)


def fit(tar, non, prior):
    r = minimize(objective, np.zeros(2), args=(tar, non, prior), jac=gradient, method="BFGS",
                 options={"gtol": 1e-13, "maxiter": 10000})
    r2 = minimize(objective, r.x, args=(tar, non, prior), jac=gradient, hess=hessian, method="trust-exact",
                  options={"gtol": 1e-14})
    assert np.all(np.abs(r2.x - r.x) <= 1e-5 * np.maximum(1, np.abs(r.x))), (r.x, r2.x)
    # cross-check: the same fit on standardised scores u = (s - m)/d, mapped back (a = alpha/d, b = beta - alpha m/d)
    allv = np.concatenate([tar, non])
    m, d = allv.mean(), allv.std()
    r3 = minimize(objective, np.zeros(2), args=((tar - m) / d, (non - m) / d, prior), jac=gradient, hess=hessian,
                  method="trust-exact", options={"gtol": 1e-15})
    w3 = np.array([r3.x[0] / d, r3.x[1] - r3.x[0] * m / d])
    assert np.all(np.abs(w3 - r2.x) <= 1e-7 * np.abs(r2.x)), (w3, r2.x)
    return r2.x


# (name, seed, n_tar, n_non, (mu_tar, sd_tar), (mu_non, sd_non))
SETS = [
    # well separated (d' = 4) yet overlapping in the sample, so that a finite optimum exists
    ("well_separated", 11, 100, 300, (4.0, 1.0), (0.0, 1.0)),
    # strongly overlapping, unequal spreads
    ("overlapping", 12, 200, 200, (0.4, 1.3), (0.0, 0.9)),
    # cosine-like scores, 20 targets against 1000 non-targets
    ("imbalanced_cosine", 13, 20, 1000, (0.55, 0.12), (0.05, 0.10)),
    # large offset and scale, to exercise conditioning
    ("large_offset", 14, 100, 300, (1003.0, 4.0), (995.0, 5.0)),
]
PRIORS = [0.01, 0.5]


def calibration_sets():
    sets = []
    for name, seed, nt, nn, (mt, st), (mn, sn) in SETS:
        rng = np.random.default_rng(seed)
        tar = rng.normal(mt, st, nt)
        non = rng.normal(mn, sn, nn)
        assert tar.min() < non.max() and non.min() < tar.max(), f"{name}: classes must overlap"
        fits = []
        for prior in PRIORS:
            a, b = fit(tar, non, prior)
            g = gradient((a, b), tar, non, prior)
            fits.append({"prior": prior, "scale": float(a), "offset": float(b),
                         "objective": float(objective((a, b), tar, non, prior)),
                         "gradient_norm": float(np.linalg.norm(g))})
        sets.append({"name": name, "seed": seed, "targets": tar.tolist(), "nontargets": non.tolist(), "fits": fits})
    return sets


def asnorm_case(seed, cohort_size, dim, n_emb, top_n):
    rng = np.random.default_rng(seed)
    # float32 values, computed on in float64 (as the Swift side reads them exactly)
    cohort = (rng.normal(0, 1, (cohort_size, dim)) * rng.uniform(0.5, 3, (cohort_size, 1))).astype(np.float32)
    shared = rng.normal(0, 1, dim)  # a common direction so top-N scores are not all near 0
    emb = (rng.normal(0, 1, (n_emb, dim)) + 0.8 * shared).astype(np.float32) * np.float32(rng.uniform(0.2, 5))
    cohort[: cohort_size // 3] += (0.6 * shared).astype(np.float32)

    def mean_std(e, c, n, ddof):
        e = e.astype(np.float64)
        c = c.astype(np.float64)
        e = e / np.sqrt(np.sum(e ** 2, axis=1, keepdims=True))
        c = c / np.sqrt(np.sum(c ** 2, axis=1, keepdims=True))
        s = np.sort(e @ c.T, axis=1)[:, ::-1][:, :n]
        return s.mean(axis=1), s.std(axis=1, ddof=ddof)

    mu, sd = mean_std(emb, cohort, top_n, 0)
    _, sd_sb = mean_std(emb, cohort, top_n, 1)
    e64 = emb.astype(np.float64)
    en = e64 / np.linalg.norm(e64, axis=1, keepdims=True)
    pairs = []
    for i in range(n_emb):
        for j in range(n_emb):
            if (i + 2 * j) % 3 == 0 and i != j:
                s = float(en[i] @ en[j])
                norm = 0.5 * ((s - mu[i]) / sd[i] + (s - mu[j]) / sd[j])
                pairs.append({"enroll": i, "test": j, "score": s, "normalized": float(norm)})
    return {
        "seed": seed, "top_n": top_n,
        "cohort": [[float(x) for x in row] for row in cohort],
        "embeddings": [[float(x) for x in row] for row in emb],
        "mean": mu.tolist(), "std": sd.tolist(), "speechbrain_std": sd_sb.tolist(),
        "pairs": pairs,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="Sources/_SVTestSupport/Fixtures/scoring")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    meta = {"generator": "tools/reference/make_calibration_fixtures.py",
            "numpy": np.__version__, "scipy": __import__("scipy").__version__}
    with open(os.path.join(args.out, "calibration.json"), "w") as f:
        json.dump({"meta": meta, "sets": calibration_sets()}, f, separators=(",", ":"))
        f.write("\n")
    cases = [asnorm_case(21, 60, 16, 9, 10), asnorm_case(22, 25, 8, 6, 25), asnorm_case(23, 40, 24, 7, 2)]
    with open(os.path.join(args.out, "asnorm.json"), "w") as f:
        json.dump({"meta": meta | {"reference": "wenet-e2e/wespeaker@dfa7419 wespeaker/bin/score_norm.py"},
                   "cases": cases}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
