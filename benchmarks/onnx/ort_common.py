"""Helpers shared by the ONNX Runtime comparisons (no torch import, so a timing child stays small)."""
import subprocess
import sys
import time

import numpy as np

FRAMES = 501          # 5 s at 16 kHz, hop 160, centred frames
MELS = 80


def ort_session(path):
    """One intra-op and one inter-op thread, sequential execution, all graph optimisations."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout


def time_ort(sess, feats, runs, warmup):
    """Milliseconds per run; one input value changes every run so nothing can be cached."""
    x = feats.copy()
    for _ in range(warmup):
        sess.run(None, {"features": x})
    times = []
    for i in range(runs):
        x[0, i % x.shape[1], i % MELS] += 1e-6
        t0 = time.perf_counter()
        sess.run(None, {"features": x})
        times.append((time.perf_counter() - t0) * 1e3)
    return times
