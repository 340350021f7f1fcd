#!/usr/bin/env python3
"""Training-step throughput of SpeechBrain's ECAPA-TDNN in PyTorch on the CPU: the reference for
`spkv-train bench` (same network, batch, crop, loss and optimiser; random features, no data loading).

    python tools/reference/training_throughput.py --channels 256 --method simclr --threads 1,2

One step = forward (1 view supervised, 2 views SimCLR with batch-norm statistics per view),
loss (AAM-softmax s=30 m=0.2 over --speakers classes, or symmetric NT-Xent over 2N rows at
tau=0.03), backward, Adam(lr 1e-3). Prints median / p99 step time and seconds of audio per
second (all views) from the median step. Run by hand, never by CI.
"""
import argparse
import json
import math
import resource
import statistics
import time

import torch
import torch.nn.functional as F
from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN


def nt_xent(z1, z2, tau):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    sim = z @ z.t() / tau
    sim.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, targets)


def aam_logits(emb, weight, labels, s=30.0, m=0.2):
    cos = F.linear(F.normalize(emb), F.normalize(weight)).clamp(-1, 1)
    sin = (1 - cos * cos).clamp_min(0).sqrt()
    phi = cos * math.cos(m) - sin * math.sin(m)
    # ArcFace fallback where theta + m would pass pi.
    phi = torch.where(cos > math.cos(math.pi - m), phi, cos - math.sin(math.pi - m) * m)
    onehot = F.one_hot(labels, weight.shape[0]).to(cos.dtype)
    return s * (onehot * phi + (1 - onehot) * cos)


def measure(args, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c = args.channels
    model = ECAPA_TDNN(input_size=args.mels, channels=[c, c, c, c, 3 * c], kernel_sizes=[5, 3, 3, 3, 1],
                       dilations=[1, 2, 3, 4, 1], attention_channels=args.attention, res2net_scale=8,
                       se_channels=args.se, lin_neurons=192, global_context=True)
    model.train()
    params = list(model.parameters())
    classifier = None
    if args.method == "supervised":
        classifier = torch.nn.Parameter(torch.empty(args.speakers, 192))
        torch.nn.init.xavier_uniform_(classifier)
        params.append(classifier)
    opt = torch.optim.Adam(params, lr=1e-3)
    views = 1 if args.method == "supervised" else 2
    x = [torch.rand(args.batch, args.frames, args.mels) * 2 - 1 for _ in range(views)]
    labels = torch.arange(args.batch) % args.speakers

    def step():
        if args.method == "supervised":
            e = model(x[0]).squeeze(1)
            loss = F.cross_entropy(aam_logits(e, classifier, labels), labels)
        else:
            z1 = model(x[0]).squeeze(1)
            z2 = model(x[1]).squeeze(1)
            loss = nt_xent(z1, z2, args.tau)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    median = statistics.median(times)
    p99 = times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)]
    audio = args.batch * views * args.crop
    return dict(method=args.method, channels=c, batch=args.batch, crop_seconds=args.crop, threads=threads,
                median_ms=median, p99_ms=p99, audio_seconds_per_second=audio / (median / 1000),
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, torch=torch.__version__)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", choices=["supervised", "simclr"], default="simclr")
    p.add_argument("--channels", type=int, default=256)
    p.add_argument("--se", type=int, default=None, help="SE bottleneck (default: 64 for C<512, else 128)")
    p.add_argument("--attention", type=int, default=None, help="attention channels (default: as --se)")
    p.add_argument("--mels", type=int, default=40)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--crop", type=float, default=2.0)
    p.add_argument("--frames", type=int, default=201, help="frames of a --crop second crop (sslsv-40: 201 for 2 s)")
    p.add_argument("--speakers", type=int, default=100)
    p.add_argument("--tau", type=float, default=0.03)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.se is None:
        args.se = 64 if args.channels < 512 else 128
    if args.attention is None:
        args.attention = args.se
    if not args.json:
        print("method         C  batch  crop  threads  median ms    p99 ms  audio-s/s  peak RSS MB   (PyTorch %s)" % torch.__version__)
    for t in [int(v) for v in args.threads.split(",")]:
        r = measure(args, t)
        if args.json:
            print(json.dumps(r, sort_keys=True))
        else:
            print("%-13s %4d  %5d  %4.1f  %7d  %9.1f  %8.1f  %9.1f  %11.0f" % (
                r["method"], r["channels"], r["batch"], r["crop_seconds"], r["threads"], r["median_ms"], r["p99_ms"],
                r["audio_seconds_per_second"], r["peak_rss_mb"]))


if __name__ == "__main__":
    main()
