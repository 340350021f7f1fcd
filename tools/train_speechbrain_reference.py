#!/usr/bin/env python3
"""Trains a SpeechBrain ECAPA-TDNN with SpeechBrain's own code on a spkv corpus, for import into spkv.

The model spkv imports must come from the reference toolkit, not from spkv-train: this script builds
`speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN` (80 log-mel bins, channels [C, C, C, C, 3C], 192-d)
with SpeechBrain's `Fbank(n_mels=80)` and sentence mean normalisation, trains it supervised with
SpeechBrain's `Classifier` + `AdditiveAngularMargin(margin=0.2, scale=30)` on random 2 s crops of the
corpus's training split (Adam), and saves the embedding model's state_dict as `embedding_model.ckpt`,
the file `spkv import --from speechbrain` reads (SpeechBrain's own checkpoint layout).

Run by hand (never in CI), e.g.:
    /work/venv/ref/bin/python tools/train_speechbrain_reference.py --corpus /work/runs/corpus-small \
        --out /work/runs/sb-ref --channels 256 --epochs 8
    .build/release/spkv import --from speechbrain /work/runs/sb-ref/embedding_model.ckpt -o sb-ref.safetensors
"""
import argparse
import csv
import os
import random
import time

import numpy as np
import soundfile as sf
import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--channels", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--crop", type=float, default=2.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1717)
    args = ap.parse_args()

    from speechbrain.lobes.features import Fbank
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier
    from speechbrain.nnet.losses import AdditiveAngularMargin, LogSoftmaxWrapper
    from speechbrain.processing.features import InputNormalization

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    with open(os.path.join(args.corpus, "meta.tsv")) as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["split"] == "train"]
    speakers = sorted({r["speaker"] for r in rows})
    label = {s: i for i, s in enumerate(speakers)}
    audio, labels = [], []
    for r in rows:
        x, sr = sf.read(os.path.join(args.corpus, "wav", r["path"]), dtype="float32")
        assert sr == 16000, (r["path"], sr)
        audio.append(x if x.ndim == 1 else x.mean(axis=1))
        labels.append(label[r["speaker"]])
    print(f"{len(audio)} utterances, {len(speakers)} speakers, {sum(map(len, audio)) / 16000 / 3600:.2f} h")

    fbank = Fbank(n_mels=80)
    norm = InputNormalization(norm_type="sentence", std_norm=False)
    model = ECAPA_TDNN(input_size=80, channels=[args.channels] * 4 + [3 * args.channels], lin_neurons=192)
    classifier = Classifier(input_size=192, out_neurons=len(speakers))
    loss_fn = LogSoftmaxWrapper(AdditiveAngularMargin(margin=0.2, scale=30))
    params = list(model.parameters()) + list(classifier.parameters())
    opt = torch.optim.Adam(params, lr=args.lr, weight_decay=2e-5)
    crop = int(args.crop * 16000)
    steps = len(audio) // args.batch
    for epoch in range(1, args.epochs + 1):
        model.train(); classifier.train()
        order = list(range(len(audio)))
        random.shuffle(order)
        t0, total = time.time(), 0.0
        for s in range(steps):
            idx = order[s * args.batch:(s + 1) * args.batch]
            batch = []
            for i in idx:
                x = audio[i]
                if len(x) < crop:
                    x = np.tile(x, crop // len(x) + 1)
                start = random.randint(0, len(x) - crop)
                batch.append(x[start:start + crop])
            wav = torch.from_numpy(np.stack(batch))
            feats = norm(fbank(wav), torch.ones(len(idx)))
            emb = model(feats)
            logits = classifier(emb)
            loss = loss_fn(logits, torch.tensor([labels[i] for i in idx])[:, None])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        for g in opt.param_groups:
            g["lr"] *= 0.8
        print(f"epoch {epoch}: loss {total / steps:.4f}, {time.time() - t0:.0f} s", flush=True)
        torch.save(model.state_dict(), os.path.join(args.out, "embedding_model.ckpt"))
    print(f"wrote {os.path.join(args.out, 'embedding_model.ckpt')}")


if __name__ == "__main__":
    main()
