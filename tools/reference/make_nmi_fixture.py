#!/usr/bin/env python3
"""Golden values for ClusterMetrics.normalizedMutualInformation (tools/SVTraining/SSPS).

Every labeling is generated from SplitMix64 (the same generator as SVKernels.SplitMix64), so the
Swift test rebuilds the labels from (seed, n, ka, kb, noise) and only the scores are literals:

    rng = SplitMix64(seed)
    a[i] = rng.next() % ka                                  for i in 0..<n
    for i in 0..<n:
        if rng.next() % 1000 < noise: b[i] = rng.next() % kb  (independent draw)
        else:                         b[i] = (a[i] + 3) % kb  (a function of a)
    labels A = 5 * a - 11, labels B = 7 * b + 2              (arbitrary, non-contiguous values)

noise = 1000 gives independent labelings, 0 a deterministic function of A (identical partitions
when kb == ka). The score is sklearn.metrics.normalized_mutual_info_score(A, B) with its default
average_method="arithmetic", printed with repr() (shortest round-trip) as Swift literals.

Usage: /work/venv/ref/bin/python tools/reference/make_nmi_fixture.py
"""
import sklearn
from sklearn.metrics import normalized_mutual_info_score

M64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & M64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


def labelings(seed, n, ka, kb, noise):
    rng = SplitMix64(seed)
    a = [rng.next() % ka for _ in range(n)]
    b = []
    for i in range(n):
        if rng.next() % 1000 < noise:
            b.append(rng.next() % kb)
        else:
            b.append((a[i] + 3) % kb)
    return [5 * x - 11 for x in a], [7 * x + 2 for x in b]


# (seed, n, ka, kb, noise per mille)
CASES = [
    (1, 10, 3, 3, 1000),
    (2, 10, 4, 2, 500),
    (3, 37, 5, 7, 1000),
    (4, 64, 2, 2, 0),        # identical partitions, relabelled
    (5, 100, 10, 10, 0),     # identical partitions, relabelled
    (6, 100, 10, 4, 0),      # B is a coarsening of A
    (7, 100, 8, 8, 300),
    (8, 250, 20, 20, 1000),
    (9, 500, 50, 30, 700),
    (10, 500, 3, 40, 100),
    (11, 1000, 100, 100, 1000),
    (12, 1000, 7, 7, 50),
    (13, 2000, 200, 150, 500),
    (14, 2000, 2, 2, 1000),
    (15, 2000, 1, 6, 1000),  # A has a single cluster -> MI = 0
    (16, 2000, 1, 1, 1000),  # both single cluster -> 1.0 (sklearn special case)
    (17, 10, 10, 10, 0),     # identical partitions, some of the 10 labels unused
    (18, 1500, 1000, 3, 1000),
]


def main():
    print(f"// sklearn {sklearn.__version__}, normalized_mutual_info_score(average_method='arithmetic')")
    print("// (seed, n, ka, kb, noise, expected)")
    for seed, n, ka, kb, noise in CASES:
        a, b = labelings(seed, n, ka, kb, noise)
        score = normalized_mutual_info_score(a, b)
        print(f"NMICase(seed: {seed}, n: {n}, ka: {ka}, kb: {kb}, noise: {noise}, expected: {score!r}),")


if __name__ == "__main__":
    main()
