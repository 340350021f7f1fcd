#!/usr/bin/env python3
"""Build the small real-speech test fixtures of spkv from a Debian game-data package.

Source (the only real recorded speech the project may use, CORPUS.md §2.7):
  Debian package  flight-of-the-amazon-queen  1.0.0-9  (bookworm, main, arch all)
  file            usr/share/scummvm/flight-of-the-amazon-queen/queen.1c  (talkie "CEM10")
Licence: freeware, redistributable.  /usr/share/doc/flight-of-the-amazon-queen/copyright:
  "1) You may distribute this game for free on any medium, provided this readme and all
   associated copyright notices and disclaimers are left intact. ...
   4) You may modify the game as you wish. You may also distribute modified versions under
   the terms set forth in this license, but with the additional requirement that the work is
   marked with a prominent notice which states that it is a modified version.
   5) All game content is (C) John Passfield and Steven Stamatiadis."
The fixtures are such modified excerpts (concatenated, resampled); the README next to them says so.

Usage (run by hand; not needed by CI or the Swift build):
  cd /tmp && apt-get download flight-of-the-amazon-queen && dpkg -x flight-of-the-amazon-queen_*.deb fotaq
  /work/venv/ref/bin/python tools/reference/extract_test_speech.py \
      --root /tmp/fotaq --out Sources/_SVTestSupport/Fixtures/speech --heldout /work/heldout

Format facts this reader relies on (docs/GAME-SPEECH.md §2, not ScummVM code):
  * queen.1c starts with b"QTBL", a 6-byte version string (b"CEM10\\0"), 2 skipped bytes,
    byte 12 = compression type (1 = MP3), bytes 13-14 = uint16 big-endian entry count.
  * Then count x 21-byte entries: 12-byte NUL-padded filename, 1-byte bundle number,
    uint32 BE absolute offset, uint32 BE size.
  * "*.SB" entries are bare MP3 streams (MPEG-2.5 Layer III, 11025 Hz, mono, 16 kbit/s), no
    SB header.  We decode them with libsndfile (python `soundfile`, libsndfile >= 1.1) from memory.
  * Filenames "RRRRKKxn" are in-room dialogue: 4-digit room, 2-char dialogue key, x = J (Joe,
    the protagonist) or P (the other person), n = part number.  "JOEnnnnn" are Joe's object
    descriptions.  Consecutive parts of one (room, key, P) are one NPC's lines; we use the
    filename classes only to keep one voice per fixture and never name the speakers.

Processing per fixture: decode each MP3 clip to float at 11025 Hz, concatenate the consecutive
clips with 0.15 s of digital silence between them, write 16-bit 11025 Hz WAV (plain rounding,
no dither), then resample with sox: `sox -D -R in.wav -b 16 -c 1 out.wav rate -v 16000`
(-D: no dither, -R: repeatable, rate -v: very high quality).  Output: 16-bit PCM mono 16 kHz WAV.
"""
import argparse
import io
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf

PACKAGE = "flight-of-the-amazon-queen"
PACKAGE_VERSION = "1.0.0-9"
QUEEN = "usr/share/scummvm/flight-of-the-amazon-queen/queen.1c"
SR_NATIVE = 11025
SR_OUT = 16000
GAP_S = 0.15

# name -> list of entry base names (consecutive clips of one voice), chosen once by listing
# the table; kept explicit so the fixtures are reproducible.
COMMITTED = {
    # Joe's object descriptions, consecutive entries
    "speech_a_3s.wav": ["JOE00011", "JOE00021"],
    # the other person of dialogue (room 23, key 00 06), parts P1..P3
    "speech_b_8s.wav": ["230006P1", "230006P2", "230006P3"],
    # the other person of dialogue (room 57, key 00 1E), parts P2..P6
    "speech_c_15s.wav": ["57001EP2", "57001EP3", "57001EP4", "57001EP5", "57001EP6"],
}
HELDOUT = {
    "heldout_joe_7s.wav": ["JOE00041", "JOE00051", "JOE00061", "JOE00071"],
    "heldout_npc59_11s.wav": ["590007P1", "590007P2"],
    "heldout_npc83_10s.wav": ["830033P1", "830033P2"],
}


def read_table(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"QTBL":
        raise SystemExit(f"{path}: not a QTBL resource file")
    version = data[4:10].rstrip(b"\0").decode()
    comp = data[12]
    if comp != 1:
        raise SystemExit(f"{path}: compression type {comp}, expected 1 (MP3)")
    (count,) = struct.unpack(">H", data[13:15])
    table = {}
    for i in range(count):
        e = data[15 + 21 * i: 15 + 21 * (i + 1)]
        name = e[:12].rstrip(b"\0").decode("ascii")
        off, size = struct.unpack(">II", e[13:21])
        table[name] = (off, size)
    return data, version, table


def decode_clip(data, table, base):
    off, size = table[base + ".SB"]
    blob = data[off: off + size]
    x, sr = sf.read(io.BytesIO(blob), dtype="float32")
    if sr != SR_NATIVE:
        raise SystemExit(f"{base}: sample rate {sr}, expected {SR_NATIVE}")
    if x.ndim > 1:
        x = x.mean(axis=1)
    return x


def build(data, table, bases, out_path):
    gap = np.zeros(int(round(GAP_S * SR_NATIVE)), dtype=np.float32)
    parts = []
    for i, b in enumerate(bases):
        if i:
            parts.append(gap)
        parts.append(decode_clip(data, table, b))
    x = np.concatenate(parts)
    pcm = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    with tempfile.TemporaryDirectory() as td:
        tmp = os.path.join(td, "in.wav")
        sf.write(tmp, pcm, SR_NATIVE, subtype="PCM_16")
        subprocess.run(["sox", "-D", "-R", tmp, "-b", "16", "-c", "1", out_path,
                        "rate", "-v", str(SR_OUT)], check=True)
    info = sf.info(out_path)
    assert info.samplerate == SR_OUT and info.channels == 1 and info.subtype == "PCM_16"
    return info.frames / SR_OUT


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True, help="directory where the .deb was dpkg -x'ed")
    ap.add_argument("--out", default="Sources/_SVTestSupport/Fixtures/speech")
    ap.add_argument("--heldout", default="/work/heldout")
    args = ap.parse_args()
    data, version, table = read_table(os.path.join(args.root, QUEEN))
    print(f"{PACKAGE} {PACKAGE_VERSION}: queen.1c version {version}, {len(table)} entries")
    for outdir, sets in ((args.out, COMMITTED), (args.heldout, HELDOUT)):
        os.makedirs(outdir, exist_ok=True)
        for name, bases in sets.items():
            p = os.path.join(outdir, name)
            dur = build(data, table, bases, p)
            print(f"{p}: {dur:.3f} s from {', '.join(b + '.SB' for b in bases)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
