"""Independent numpy re-derivation (float64) of the three ECAPA front ends, from the facts in
tools/reference/README.md, compared with the features stored in the golden fixtures (speech_a_3s).
An executable spec for porting: expected max |diff| about 1e-3 dB (SpeechBrain), 3e-4 (WeSpeaker, ln),
5e-5 (sslsv), i.e. float32 rounding of the reference.

Usage: /work/venv/ref/bin/python tools/reference/check_frontends_numpy.py
"""
import sys, numpy as np, soundfile as sf
import os
from safetensors.numpy import load_file
D = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'Sources/_SVTestSupport/Fixtures/')
pcm, _ = sf.read(D + 'speech/speech_a_3s.wav', dtype='int16')
x = pcm.astype(np.float64) / 32768.0
N = len(x)

def frames(sig, n_fft, hop, center, pad_mode):
    if center:
        sig = np.pad(sig, n_fft // 2, mode=pad_mode)
    T = 1 + (len(sig) - n_fft) // hop
    return np.stack([sig[t * hop:t * hop + n_fft] for t in range(T)])

# --- SpeechBrain
n = np.arange(400); w = 0.54 - 0.46 * np.cos(2 * np.pi * n / 400)       # periodic hamming
F = frames(x, 400, 160, True, 'constant') * w
P = np.abs(np.fft.rfft(F, 400)) ** 2                                      # [T, 201]
mel = lambda f: 2595 * np.log10(1 + f / 700); hz = lambda m: 700 * (10 ** (m / 2595) - 1)
pts = hz(np.linspace(mel(0), mel(8000), 82)); fc = pts[1:-1]; band = pts[1:-1] - pts[:-2]
f = np.linspace(0, 8000, 201)[:, None]
fb = np.maximum(0, np.minimum(1 + (f - fc) / band, 1 - (f - fc) / band))
E = 10 * np.log10(np.maximum(P @ fb, 1e-10)); E = np.maximum(E, E.max() - 80)
sb = E - E.mean(0)
g = load_file(D + 'ecapa/speechbrain_c64_golden.safetensors')
print('speechbrain', sb.shape, np.abs(sb - g['speech_a_3s/features']).max())

# --- WeSpeaker / kaldi
y = pcm.astype(np.float64)
T = 1 + (N - 400) // 160
F = np.stack([y[t * 160:t * 160 + 400] for t in range(T)])
F = F - F.mean(1, keepdims=True)
F = F - 0.97 * np.concatenate([F[:, :1], F[:, :-1]], 1)
F = F * (0.54 - 0.46 * np.cos(2 * np.pi * n / 399))                      # symmetric hamming
P = np.abs(np.fft.rfft(F, 512)) ** 2                                      # [T, 257]
kmel = lambda f: 1127 * np.log(1 + f / 700)
lo, hi = kmel(20.0), kmel(8000.0); d = (hi - lo) / 81
b = np.arange(80)[:, None]; L, C, R = lo + b * d, lo + (b + 1) * d, lo + (b + 2) * d
m = kmel(31.25 * np.arange(256))[None]
fbk = np.maximum(0, np.minimum((m - L) / (C - L), (R - m) / (R - C)))
fbk = np.concatenate([fbk, np.zeros((80, 1))], 1)                         # Nyquist bin weight 0
E = np.log(np.maximum(P @ fbk.T, np.finfo(np.float32).eps))
ws = E - E.mean(0)
g = load_file(D + 'ecapa/wespeaker_c32_golden.safetensors')
print('wespeaker', ws.shape, np.abs(ws - g['speech_a_3s/features']).max())

# --- sslsv
wp = np.zeros(512); wp[56:456] = w                                        # periodic hamming centred in 512
F = frames(x, 512, 160, True, 'reflect') * wp
P = np.abs(np.fft.rfft(F, 512)) ** 2
pts = hz(np.linspace(mel(0), mel(8000), 42)); f = np.linspace(0, 8000, 257)[:, None]
fbs = np.maximum(0, np.minimum((f - pts[:-2]) / (pts[1:-1] - pts[:-2]), (pts[2:] - f) / (pts[2:] - pts[1:-1])))
E = np.log(P @ fbs + 1e-6)
ss = (E - E.mean(0)) / np.sqrt(E.var(0) + 1e-5)
g = load_file(D + 'ecapa/sslsv_c32_golden.safetensors')
print('sslsv', ss.shape, np.abs(ss - g['speech_a_3s/features']).max())
st = load_file(D + 'ecapa/sslsv_c32.safetensors')
print('sslsv fb', np.abs(st['features_extractor.0.mel_scale.fb'] - fbs).max(), 'window', np.abs(st['features_extractor.0.spectrogram.window'] - w).max())
