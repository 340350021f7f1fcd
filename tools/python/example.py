"""Enroll Joe from three recordings, then verify two more (spkv's Python package)."""
import sys

import spkv

model_path, enroll, tests = sys.argv[1], sys.argv[2:5], sys.argv[5:]
model = spkv.Model(model_path)
joe = model.enroll("joe", enroll)          # the mean of three embeddings
for path in tests:                          # Bayes threshold of the calibrated model at prior 0.01
    d = model.verify(joe, path)
    print(f"{path}: {'accept' if d.accepted else 'reject'} (LLR {d.score.llr:.2f})")
