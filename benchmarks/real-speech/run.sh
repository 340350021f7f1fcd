#!/bin/bash
# The real-speech benchmark for one or more models: every list of a `spkv-train corpus trials` folder scored
# with `spkv score` (one embedding cache per model) and evaluated with `spkv eval --json`.
# usage: benchmarks/real-speech/run.sh CORPUS TRIALS_DIR WORK MODEL…
# prints one line per model and list: MODEL LIST JSON (EER, minDCF/actDCF at 0.01 and 0.05, Cllr, min Cllr, counts).
set -euo pipefail
CORPUS=$1 TRIALS=$2 WORK=$3; shift 3
BIN=${BIN:-.build/release}
mkdir -p "$WORK"
for model in "$@"; do
  name=$(basename "$model" .safetensors)
  for list in "$TRIALS"/*.txt; do
    l=$(basename "$list" .txt)
    extra=(); [ -f "$TRIALS/$l.enrollments" ] && extra=(--enrollments "$TRIALS/$l.enrollments")
    "$BIN/spkv" score --model "$model" --trials "$list" --audio-root "$CORPUS/wav" --threads 2 \
        --embeddings "$WORK/$name.emb" "${extra[@]}" -o "$WORK/$name.$l.scores" 2>/dev/null
    echo "$name $l $("$BIN/spkv" eval --scores "$WORK/$name.$l.scores" --json)"
  done
done
