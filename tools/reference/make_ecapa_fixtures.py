#!/usr/bin/env python3
"""Golden ECAPA-TDNN fixtures made by the reference toolkits themselves.

For each toolkit, build a small ECAPA-TDNN with random weights (seeded), make its BatchNorm layers
non-trivial, run the toolkit's own front end + normalisation + encoder in eval mode on the committed
real-speech fixtures, and write into Sources/_SVTestSupport/Fixtures/ecapa/:

  <toolkit>_c<C>.safetensors         the module's state_dict with the toolkit's own key names
                                     (metadata "constructor": JSON of the constructor arguments)
  <toolkit>_c<C>_golden.safetensors  per clip: normalised features [frames, mels], embedding [dim],
                                     and (for the shortest clip) intermediate activations [C, frames]

Toolkits (all run from their own, unmodified code):
  speechbrain  speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN + lobes.features.Fbank +
               processing.features.InputNormalization(sentence, std_norm=False), called exactly as
               speechbrain.inference.classifiers.EncoderClassifier.encode_batch does
               (compute_features -> mean_var_norm(feats, wav_lens=1) -> embedding_model(feats, wav_lens)).
  wespeaker    wespeaker/models/ecapa_tdnn.py ECAPA_TDNN(global_context_att=True) (= ECAPA_TDNN_GLOB_*)
               with torchaudio.compliance.kaldi.fbank on int16-scale samples and mean subtraction,
               as wespeaker/cli/speaker.py does. Needs a checkout of github:wenet-e2e/wespeaker.
  sslsv        sslsv/encoders/ECAPATDNN.py ECAPATDNN (its own MelSpectrogram + log(x+1e-6) +
               InstanceNorm1d front end inside forward). Needs a checkout of github:theolepage/sslsv.

Third-party module files are imported from the given checkouts (git worktree or plain directory);
nothing of them is copied into this repository. Package __init__ files that would pull unrelated
heavy imports are replaced by empty stub packages.

Usage:
  /work/venv/ref/bin/python tools/reference/make_ecapa_fixtures.py \
      --wespeaker /path/to/wespeaker-checkout --sslsv /path/to/sslsv-checkout [--only speechbrain]

Reproducible: torch.manual_seed(SEED + toolkit index), CPU, float32, deterministic algorithms.
"""
import argparse
import json
import os
import subprocess
import sys
import types

import numpy as np
import soundfile as sf
import torch

SEED = 20261125
CLIPS = ["speech_a_3s", "speech_b_8s", "speech_c_15s"]
INTERMEDIATE_CLIPS = {"speech_a_3s"}     # intermediates only here, to keep fixtures small
FEATURE_CLIPS = {                         # clips whose full feature matrix is stored
    "speechbrain": {"speech_a_3s", "speech_b_8s"},
    "wespeaker": {"speech_a_3s"},
    "sslsv": {"speech_a_3s"},
}
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SPEECH_DIR = os.path.join(REPO, "Sources/_SVTestSupport/Fixtures/speech")
OUT_DIR = os.path.join(REPO, "Sources/_SVTestSupport/Fixtures/ecapa")


def load_wav(name):
    """Read the 16-bit WAV exactly as the Swift side does: int16 / 32768 as float32."""
    pcm, sr = sf.read(os.path.join(SPEECH_DIR, name + ".wav"), dtype="int16")
    assert sr == 16000 and pcm.ndim == 1
    return torch.from_numpy(pcm.astype(np.float32) / np.float32(32768.0)), pcm


def git_head(path):
    try:
        return subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    except Exception:
        return "unknown"


def stub_package(name, path):
    mod = types.ModuleType(name)
    mod.__path__ = [path]
    sys.modules[name] = mod


def calibration_batch(wavs, n=32000):
    """All non-overlapping 2 s crops of the clips, as one batch [B, n] (B = 13 here)."""
    crops = [w[i:i + n] for w in wavs for i in range(0, w.numel() - n + 1, n)]
    return torch.stack(crops)


def randomise_batchnorm(model, calibrate, gen):
    """Give every BatchNorm realistic running statistics, then perturb all four BN tensors.

    1. train mode, momentum=None: run `calibrate()` once on a batch of 2 s crops of the clips
       (their own features), so running_mean/var match the activations, keeping all O(1);
    2. perturb: var *= U(0.5, 2), mean += 0.3*sqrt(var)*N(0,1), weight = U(0.5, 1.5),
       bias = 0.3*N(0,1). BN is then clearly not an identity and not a pure whitening.
    """
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        calibrate()
    model.eval()
    with torch.no_grad():
        for m in bns:
            m.momentum = 0.1
            n = m.num_features
            m.running_var.mul_(0.5 + 1.5 * torch.rand(n, generator=gen))
            m.running_mean.add_(0.3 * m.running_var.sqrt() * torch.randn(n, generator=gen))
            m.weight.copy_(0.5 + torch.rand(n, generator=gen))
            m.bias.copy_(0.3 * torch.randn(n, generator=gen))
    return len(bns)


class Recorder:
    """Forward hooks that keep the first tensor output of named modules, batch dim dropped."""

    def __init__(self, named):
        self.out = {}
        self.handles = [mod.register_forward_hook(self._hook(name)) for name, mod in named]

    def _hook(self, name):
        def fn(_m, _inp, out):
            t = out[-1] if isinstance(out, tuple) else out
            self.out[name] = t.detach()[0].clone()
        return fn

    def close(self):
        for h in self.handles:
            h.remove()


_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
           torch.float16: "F16", torch.bfloat16: "BF16", torch.uint8: "U8", torch.bool: "BOOL"}


def save_file(tensors, path, metadata=None):
    """Write a safetensors file deterministically (sorted names and metadata keys, so that
    reruns give identical bytes; the reference writer orders metadata by a hash map)."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


def contiguous_f32(t):
    return t.detach().to(torch.float32).contiguous()


# ----------------------------------------------------------------------------- SpeechBrain
def make_speechbrain(gen_seed, args):
    import speechbrain
    from speechbrain.lobes.features import Fbank
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
    from speechbrain.processing.features import InputNormalization

    C = 64
    ctor = dict(input_size=80, channels=[C, C, C, C, 3 * C], kernel_sizes=[5, 3, 3, 3, 1],
                dilations=[1, 2, 3, 4, 1], attention_channels=16, res2net_scale=8,
                se_channels=16, global_context=True, lin_neurons=32)
    torch.manual_seed(gen_seed)
    model = ECAPA_TDNN(**ctor)
    compute_features = Fbank(n_mels=80)
    mean_var_norm = InputNormalization(norm_type="sentence", std_norm=False)
    compute_features.eval()
    mean_var_norm.eval()

    def front(wav):
        wavs = wav.unsqueeze(0)
        wav_lens = torch.ones(1)
        raw = compute_features(wavs)                 # [1, T, 80]
        feats = mean_var_norm(raw, wav_lens)         # sentence mean removed
        return raw, feats, wav_lens

    def encode(feats, wav_lens):
        return model(feats, wav_lens)                # [1, 1, 32]

    wavs = {c: load_wav(c)[0] for c in CLIPS}
    gen = torch.Generator().manual_seed(gen_seed + 1)

    def calibrate():
        batch = calibration_batch([wavs[c] for c in CLIPS])
        lens = torch.ones(batch.shape[0])
        encode(mean_var_norm(compute_features(batch), lens), lens)
    nbn = randomise_batchnorm(model, calibrate, gen)

    named = [("block0_tdnn", model.blocks[0]), ("block1_seres2net", model.blocks[1]),
             ("block2_seres2net", model.blocks[2]), ("block3_seres2net", model.blocks[3]),
             ("mfa", model.mfa), ("asp", model.asp), ("asp_bn", model.asp_bn)]
    golden = {}
    info = {}
    for c in CLIPS:
        rec = Recorder(named) if c in INTERMEDIATE_CLIPS else None
        with torch.no_grad():
            raw, feats, lens = front(wavs[c])
            emb = encode(feats, lens)
            if rec:
                rec.close()
            emb64 = model.double()(feats.double(), lens.double())
            model.float()
        golden[f"{c}/embedding"] = contiguous_f32(emb.reshape(-1))
        golden[f"{c}/raw_feature_mean"] = contiguous_f32(raw[0].mean(dim=0))
        if c in FEATURE_CLIPS["speechbrain"]:
            golden[f"{c}/features"] = contiguous_f32(feats[0])
        if rec:
            for k, v in rec.out.items():
                golden[f"{c}/{k}"] = contiguous_f32(v.squeeze(-1) if v.shape[-1] == 1 else v)
        info[c] = dict(samples=int(wavs[c].numel()), frames=int(feats.shape[1]),
                       f32_vs_f64_embedding_max_abs_diff=float((emb.double() - emb64).abs().max()))
    meta = dict(toolkit="speechbrain", toolkit_version=speechbrain.__version__,
                module="speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN",
                frontend="speechbrain.lobes.features.Fbank(n_mels=80) -> "
                         "speechbrain.processing.features.InputNormalization(norm_type='sentence', "
                         "std_norm=False)(feats, wav_lens=ones) -> ECAPA_TDNN(feats, wav_lens=ones)",
                constructor=ctor, batchnorm_layers=nbn)
    return "speechbrain", C, model.state_dict(), ctor, golden, meta, info


# ----------------------------------------------------------------------------- WeSpeaker
def make_wespeaker(gen_seed, args):
    import torchaudio.compliance.kaldi as kaldi

    root = args.wespeaker
    stub_package("wespeaker", os.path.join(root, "wespeaker"))
    stub_package("wespeaker.models", os.path.join(root, "wespeaker", "models"))
    import wespeaker.models.ecapa_tdnn as ecapa
    import wespeaker.models.pooling_layers as pooling_layers

    C = 32                                   # 32, not 64: keeps all ECAPA fixtures < 3 MB
    EMB = 32
    MFA = 3 * C
    ATT = 16
    ctor = dict(channels=C, feat_dim=80, embed_dim=EMB, pooling_func="ASTP",
                global_context_att=True, emb_bn=False)
    torch.manual_seed(gen_seed)
    model = ecapa.ECAPA_TDNN(**ctor)
    # ecapa_tdnn.py hard-codes the MFA width (out_channels = 512 * 3) and ASTP keeps its default
    # bottleneck_dim=128; at that size the fixture would be ~4 MB. Replace the four head modules
    # with instances of the same classes at small width; forward() is unchanged.
    model.conv = torch.nn.Conv1d(3 * C, MFA, kernel_size=1)
    model.pool = pooling_layers.ASTP(in_dim=MFA, bottleneck_dim=ATT, global_context_att=True)
    model.pool_out_dim = model.pool.get_out_dim()
    model.bn = torch.nn.BatchNorm1d(model.pool_out_dim)
    model.linear = torch.nn.Linear(model.pool_out_dim, EMB)
    ctor_effective = dict(ctor, replaced_head=dict(
        conv="torch.nn.Conv1d(%d, %d, kernel_size=1)" % (3 * C, MFA),
        pool="pooling_layers.ASTP(in_dim=%d, bottleneck_dim=%d, global_context_att=True)" % (MFA, ATT),
        bn="torch.nn.BatchNorm1d(%d)" % (2 * MFA),
        linear="torch.nn.Linear(%d, %d)" % (2 * MFA, EMB)))

    def front(pcm_int16):
        # wespeaker/cli/speaker.py: torchaudio.load(normalize=False) gives the int16 values;
        # compute_features: kaldi.fbank(num_mel_bins=80, frame_length=25, frame_shift=10,
        # sample_frequency=sr, window_type='hamming') then feat - mean(feat, dim=0).
        # (bin/extract.py: waveform * (1 << 15), dither forced to 0.0, apply_cmvn mean only: same.)
        wav = torch.from_numpy(pcm_int16.astype(np.float32)).unsqueeze(0)
        raw = kaldi.fbank(wav, num_mel_bins=80, frame_length=25, frame_shift=10,
                          dither=0.0, sample_frequency=16000, window_type="hamming",
                          use_energy=False)
        feats = raw - torch.mean(raw, dim=0)
        return raw, feats.unsqueeze(0)

    pcms = {c: load_wav(c)[1] for c in CLIPS}
    # the float32 path of the Swift side (x/32768) times 32768 is exactly the int16 value
    for c in CLIPS:
        assert torch.equal(load_wav(c)[0] * 32768.0, torch.from_numpy(pcms[c].astype(np.float32)))
    gen = torch.Generator().manual_seed(gen_seed + 1)

    def calibrate():
        batch = calibration_batch([torch.from_numpy(pcms[c].astype(np.float32)) for c in CLIPS])
        model(torch.cat([front(w.numpy().astype(np.int16))[1] for w in batch]))
    nbn = randomise_batchnorm(model, calibrate, gen)

    named = [("layer1", model.layer1), ("layer2", model.layer2), ("layer3", model.layer3),
             ("layer4", model.layer4), ("mfa_conv_before_relu", model.conv),
             ("pool", model.pool), ("pool_bn", model.bn)]
    golden, info = {}, {}
    for c in CLIPS:
        rec = Recorder(named) if c in INTERMEDIATE_CLIPS else None
        with torch.no_grad():
            raw, feats = front(pcms[c])
            emb = model(feats)[-1]
            if rec:
                rec.close()
            emb64 = model.double()(feats.double())[-1]
            model.float()
        golden[f"{c}/embedding"] = contiguous_f32(emb.reshape(-1))
        golden[f"{c}/raw_feature_mean"] = contiguous_f32(raw.mean(dim=0))
        if c in FEATURE_CLIPS["wespeaker"]:
            golden[f"{c}/features"] = contiguous_f32(feats[0])
        if rec:
            for k, v in rec.out.items():
                golden[f"{c}/{k}"] = contiguous_f32(v)
        info[c] = dict(samples=int(pcms[c].size), frames=int(feats.shape[1]),
                       f32_vs_f64_embedding_max_abs_diff=float((emb.double() - emb64).abs().max()))
    meta = dict(toolkit="wespeaker", toolkit_commit=git_head(root),
                module="wespeaker/models/ecapa_tdnn.py ECAPA_TDNN (global_context_att=True)",
                frontend="torchaudio.compliance.kaldi.fbank(int16-valued waveform, num_mel_bins=80, "
                         "frame_length=25, frame_shift=10, dither=0.0, sample_frequency=16000, "
                         "window_type='hamming', use_energy=False) -> feat - mean over time",
                constructor=ctor_effective, batchnorm_layers=nbn)
    return "wespeaker", C, model.state_dict(), ctor_effective, golden, meta, info


# ----------------------------------------------------------------------------- sslsv
def make_sslsv(gen_seed, args):
    root = args.sslsv
    stub_package("sslsv", os.path.join(root, "sslsv"))
    stub_package("sslsv.encoders", os.path.join(root, "sslsv", "encoders"))
    from sslsv.encoders.ECAPATDNN import ECAPATDNN, ECAPATDNNConfig

    C = 32
    ctor = dict(encoder_dim=32, mel_n_mels=40, channels=[C, C, C, C, 3 * C],
                kernel_sizes=[5, 3, 3, 3, 1], dilations=[1, 2, 3, 4, 1], groups=[1, 1, 1, 1, 1],
                attention_channels=16, res2net_scale=8, se_channels=16, global_context=True,
                pooling=True)
    torch.manual_seed(gen_seed)
    model = ECAPATDNN(ECAPATDNNConfig(**ctor))
    wavs = {c: load_wav(c)[0] for c in CLIPS}
    gen = torch.Generator().manual_seed(gen_seed + 1)

    def calibrate():
        model(calibration_batch([wavs[c] for c in CLIPS]))
    nbn = randomise_batchnorm(model, calibrate, gen)

    named = [("features", model.instance_norm), ("block0_tdnn", model.blocks[0]),
             ("block1_seres2net", model.blocks[1]), ("block2_seres2net", model.blocks[2]),
             ("block3_seres2net", model.blocks[3]), ("mfa", model.mfa), ("asp", model.asp),
             ("asp_bn", model.asp_bn)]
    golden, info = {}, {}
    for c in CLIPS:
        rec = Recorder(named)
        with torch.no_grad():
            emb = model(wavs[c].unsqueeze(0))
            logmel = (model.features_extractor(wavs[c].unsqueeze(0)) + 1e-6).log()
        rec.close()
        feats = rec.out.pop("features")              # [40, T]
        with torch.no_grad():
            enc = model.double()
            Z = feats.double().unsqueeze(0)
            zs = []
            for layer in enc.blocks:
                Z = layer(Z); zs.append(Z)
            Z = enc.fc(enc.asp_bn(enc.asp(enc.mfa(torch.cat(zs[1:], dim=1))))).squeeze(2)
            model.float()
        golden[f"{c}/embedding"] = contiguous_f32(emb.reshape(-1))
        golden[f"{c}/raw_feature_mean"] = contiguous_f32(logmel[0].mean(dim=1))
        if c in FEATURE_CLIPS["sslsv"]:
            golden[f"{c}/features"] = contiguous_f32(feats.t())
        if c in INTERMEDIATE_CLIPS:
            for k, v in rec.out.items():
                golden[f"{c}/{k}"] = contiguous_f32(v.squeeze(-1) if v.shape[-1] == 1 else v)
        info[c] = dict(samples=int(wavs[c].numel()), frames=int(feats.shape[1]),
                       f32_vs_f64_embedding_max_abs_diff=float((emb.double() - Z).abs().max()))
    meta = dict(toolkit="sslsv", toolkit_commit=git_head(root),
                module="sslsv/encoders/ECAPATDNN.py ECAPATDNN(ECAPATDNNConfig(...))",
                frontend="inside ECAPATDNN.forward: torchaudio MelSpectrogram(n_fft=512, "
                         "win_length=400, hop_length=160, hamming, n_mels=40, sr=16000) "
                         "-> +1e-6 -> log -> InstanceNorm1d(40)",
                constructor=ctor, batchnorm_layers=nbn)
    return "sslsv", C, model.state_dict(), ctor, golden, meta, info


TOOLKITS = [("speechbrain", make_speechbrain), ("wespeaker", make_wespeaker), ("sslsv", make_sslsv)]


def main():
    ap = argparse.ArgumentParser(description="ECAPA-TDNN golden fixtures from reference toolkits")
    ap.add_argument("--wespeaker", help="checkout (work tree) of github:wenet-e2e/wespeaker")
    ap.add_argument("--sslsv", help="checkout (work tree) of github:theolepage/sslsv")
    ap.add_argument("--only", action="append", choices=[t for t, _ in TOOLKITS])
    ap.add_argument("--out", default=OUT_DIR)
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    import torchaudio
    for i, (name, fn) in enumerate(TOOLKITS):
        if args.only and name not in args.only:
            continue
        if name in ("wespeaker", "sslsv") and not getattr(args, name):
            print(f"skip {name}: pass --{name} CHECKOUT")
            continue
        tk, C, state, ctor, golden, meta, info = fn(SEED + 100 * i, args)
        common = dict(seed=str(SEED + 100 * i), torch_version=torch.__version__,
                      torchaudio_version=torchaudio.__version__, numpy_version=np.__version__,
                      script="tools/reference/make_ecapa_fixtures.py")
        dtypes = sorted({str(v.dtype) for v in state.values()})
        model_meta = dict(common, constructor=json.dumps(ctor), toolkit=tk,
                          details=json.dumps(meta), tensor_dtypes=",".join(dtypes))
        state = {k: v.detach().contiguous() for k, v in state.items()}
        mpath = os.path.join(args.out, f"{tk}_c{C}.safetensors")
        save_file(state, mpath, metadata=model_meta)
        gmeta = dict(common, toolkit=tk, clips=json.dumps(info), details=json.dumps(meta),
                     layout="features: [frames, mels]; embedding: [dim]; intermediates: "
                            "[channels, frames] (pooled stats: [2*channels], mean then std)")
        gpath = os.path.join(args.out, f"{tk}_c{C}_golden.safetensors")
        save_file(golden, gpath, metadata=gmeta)
        print(f"{mpath}: {len(state)} tensors, {os.path.getsize(mpath)} bytes")
        print(f"{gpath}: {len(golden)} tensors, {os.path.getsize(gpath)} bytes")
        for c, v in info.items():
            print(f"  {c}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
