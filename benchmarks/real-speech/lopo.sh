#!/bin/bash
# Leave-one-package-out calibration of a frozen model on the real-speech benchmark (issue 18, item 3).
# usage: benchmarks/real-speech/lopo.sh MODEL CORPUS TRIALS_DIR WORK [MAGNETO_OPTIONS…]
#   MODEL: an uncalibrated or calibrated spkv model; CORPUS: spkv-train corpus import-package output (or a merge
#   of it with other corpora: then set AUDIO_ROOT to the folder the lists' paths are under, e.g. CORPUS/wav/pkg);
#   TRIALS_DIR: spkv-train corpus trials output; WORK: a folder for models, scores and caches.
# For each package with a package-<name>.txt list: MagNetO and the global linear calibrator are fitted on
# every other package's clips (spkv-train magneto --exclude-source), then the held-out list is scored with
# the model as given, the linear model and the MagNetO model, and evaluated (spkv eval --json).
set -euo pipefail
MODEL=$1 CORPUS=$2 TRIALS=$3 WORK=$4; shift 4
BIN=${BIN:-.build/release}
AUDIO_ROOT=${AUDIO_ROOT:-$CORPUS/wav}
mkdir -p "$WORK"
for list in "$TRIALS"/package-*.txt; do
  held=$(basename "$list" .txt); held=${held#package-}
  run="$WORK/without-$held"
  mkdir -p "$run"
  # The embeddings of the whole corpus are computed once and shared by every held-out choice.
  [ -f "$WORK/inputs.safetensors" ] && [ ! -f "$run/inputs.safetensors" ] && cp "$WORK/inputs.safetensors" "$run/"
  "$BIN/spkv-train" magneto --model "$MODEL" --corpus "$CORPUS" --out "$run" --output "$run/magneto.safetensors" \
      --linear-output "$run/linear.safetensors" --exclude-source "$held" "$@" > "$run/magneto.log" 2>&1
  [ -f "$WORK/inputs.safetensors" ] || cp "$run/inputs.safetensors" "$WORK/"
  for variant in given linear magneto; do
    m="$run/$variant.safetensors"; [ "$variant" = given ] && m=$MODEL
    "$BIN/spkv" score --model "$m" --trials "$list" --audio-root "$AUDIO_ROOT" --threads 2 \
        --embeddings "$run/$variant.emb" -o "$run/$variant.scores" 2>/dev/null
    echo "$held $variant $("$BIN/spkv" eval --scores "$run/$variant.scores" --json)"
  done
done
