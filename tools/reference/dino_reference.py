#!/usr/bin/env python3
"""Golden values for spkv-train's DINO (tools/SVTraining/DINO, tools/SVAutograd/Optimizers.swift).

Inputs come from SplitMix64 (the same generator as SVKernels.SplitMix64) in float32, exactly as
Swift's `Tensor(shape:uniform:lo,hi,rng:)` makes them (lo + (hi - lo) * u, u = (next() >> 40) / 2^24),
so the Swift test rebuilds them from the seeds; only the results are literals. The DINO loss and
center update are sslsv's `DINOLoss.forward` / `update_center` (reference-sslsv.md §4, one process),
the clip is DINO's `utils.clip_gradients`, the teacher momentum solo-learn/sslsv's `MomentumUpdater`,
the LR the paper-era concatenated warm-up + cosine (§4 [VERSION]).

Usage: /work/venv/ref/bin/python tools/reference/dino_reference.py
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

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


def uniform(shape, lo, hi, seed):
    rng = SplitMix64(seed)
    n = int(np.prod(shape))
    u = np.array([np.float32((rng.next() >> 40) / float(1 << 24)) for _ in range(n)], dtype=np.float32)
    v = np.float32(lo) + np.float32(hi - lo) * u
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def lit(t):
    return "[" + ", ".join(repr(float(x)) for x in np.asarray(t, dtype=np.float64).ravel()) + "]"


def dino_loss(student, teacher, center, student_temp=0.1, teacher_temp=0.04, center_momentum=0.9):
    # sslsv DINOLoss.forward (teacher temperature constant 0.04) and update_center, one process.
    s = (student / student_temp).chunk(6)
    t = F.softmax((teacher - center) / teacher_temp, dim=-1).detach().chunk(2)
    loss, terms = 0, 0
    for j in range(len(t)):
        for i in range(len(s)):
            if i == j:
                continue
            loss += torch.sum(-t[j] * F.log_softmax(s[i], dim=-1), dim=-1).mean()
            terms += 1
    loss /= terms
    new_center = torch.sum(teacher, dim=0, keepdim=True) / teacher.size(0)
    new_center = center * center_momentum + new_center * (1 - center_momentum)
    return loss, new_center


def main():
    torch.set_num_threads(1)
    n, k = 2, 5
    student = uniform([6 * n, k], -1, 1, seed=11).requires_grad_(True)
    teacher = uniform([2 * n, k], -0.2, 0.2, seed=12)
    center = uniform([1, k], -0.05, 0.05, seed=13)
    loss, new_center = dino_loss(student, teacher, center)
    loss.backward()
    print(f"// torch {torch.__version__}: N={n}, K={k}, S ~ U(-1,1) seed 11, T ~ U(-0.2,0.2) seed 12, c ~ U(-0.05,0.05) seed 13")
    print(f"let loss = {float(loss.detach())!r}")
    print(f"let center = {lit(new_center)}")
    print(f"let grad = {lit(student.grad)}")

    # Per-tensor clipping (DINO utils.clip_gradients, clip 3.0): one tensor above, one below.
    big, small = uniform([3, 4], -2, 2, seed=21), uniform([2, 3], -0.5, 0.5, seed=22)
    out = []
    for g in (big, small):
        p = torch.nn.Parameter(torch.zeros_like(g))
        p.grad = g.clone()
        norm = p.grad.data.norm(2)
        clip_coef = 3.0 / (norm + 1e-6)
        if clip_coef < 1:
            p.grad.data.mul_(clip_coef)
        out.append(p.grad)
    print(f"let clippedBig = {lit(out[0])}")
    print(f"let clippedSmall = {lit(out[1])}")

    # Teacher momentum (MomentumUpdater.update_tau) and one EMA update of a tensor.
    total = 20
    taus = [1 - (1 - 0.996) * (math.cos(math.pi * s / total) + 1) / 2 for s in range(total)]
    print(f"let taus = {lit(taus)}")
    t_param, s_param = uniform([7], -1, 1, seed=31), uniform([7], -1, 1, seed=32)
    tau = taus[5]
    ema = t_param * tau + s_param * (1 - tau)
    print(f"let ema = {lit(ema)}")

    # Paper-era LR: linspace warm-up over 2 epochs, then a cosine over all epochs x steps, appended.
    spe, warmup_epochs, epochs, base, final = 3, 2, 5, 0.2, 1e-5
    sched = np.concatenate((np.linspace(0, base, warmup_epochs * spe),
                            final + 0.5 * (base - final) * (1 + np.cos(np.pi * np.arange(epochs * spe) / (epochs * spe)))))
    print(f"let lrs = {lit(sched[:epochs * spe])}")


if __name__ == "__main__":
    main()
