#!/usr/bin/env python3
"""Build the "is this Joe?" trial lists of real speech from Flight of the Amazon Queen.

Writes models/samples/fotaq-joe/: 16 kHz 16-bit mono FLAC clips named by filename class
(joe_<entry>.flac, other_<entry>.flac), trials.txt, trials-calibration.txt, trials-eval.txt
(VoxCeleb format "label enroll test", paths relative to that folder) and README.md.

Source and licence: see tools/reference/extract_test_speech.py (same Debian package
flight-of-the-amazon-queen 1.0.0-9, same queen.1c reader, imported from there, not copied).

Usage (run by hand; not needed by CI or the Swift build):
  cd /tmp && apt-get download flight-of-the-amazon-queen && dpkg -x flight-of-the-amazon-queen_*.deb fotaq
  /work/venv/ref/bin/python tools/reference/make_fotaq_trials.py --root /tmp/fotaq

Labels rest ONLY on the container's filename classes (docs/GAME-SPEECH.md §2):
  * "RRKKKKJn" (in-room dialogue, speaker letter J) and "JOEddddn" (object descriptions) are
    Joe, the protagonist: one voice actor.                                     -> class joe
  * "RRKKKKPn" is "the other person" of that dialogue: some NPC, identity unknown. -> class other
  * Cutaways "C..." (mixed speakers), SFX and leftovers are never used.
Trials pair a Joe clip (enrollment side) with another Joe clip (target, label 1) or an
"other" clip (non-target, label 0).  Two "other" clips are never paired (their identities
are unknown).  No filtering by voice similarity (F0 etc.) is done.

Selection (seeded, reproducible; RR = room, KKKK = 4-hex dialogue key, n = part):
  * candidates: 2.0 <= decoded duration <= 6.0 s; dialogue keys SSSS/XXXX excluded (they do
    not name one dialogue); entries whose MP3 bytes occur more than once in queen.1c excluded
    (reused lines); sequences used by the committed test fixtures and the held-out clips of
    extract_test_speech.py excluded (those stay untouched by anything tuned here).
  * "sequence" = (room, key) for dialogue, description number dddd for JOEddddn.  At most one
    clip per sequence, so no Joe-Joe trial comes from the same dialogue/description
    sequence (the trial builder also checks it and drops such pairs).
  * rooms are shuffled and dealt into two halves A and B.  Per half: 6 J clips from 6 distinct
    rooms, 20 P clips from 20 distinct rooms (a room may appear on both the J and P side: a
    conversation partner is a legitimate non-target); JOE descriptions: candidates sorted by
    description number, cut into 8 strata, one clip per stratum, strata alternate A/B.
  * trials.txt: all Joe-Joe pairs (enroll = earlier clip in sorted order) and all Joe-other
    pairs.  trials-calibration.txt = pairs within half A, trials-eval.txt = pairs within
    half B: disjoint recordings (and disjoint rooms / descriptions).

Processing per clip: decode the MP3 with libsndfile (python soundfile) to float at 11025 Hz,
round to 16-bit (no dither), resample and encode with SoX:
  sox -D -R in.wav -b 16 -c 1 -C 8 out.flac rate -v 16000
"""
import argparse
import collections
import hashlib
import io
import itertools
import os
import random
import re
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import extract_test_speech as ets  # noqa: E402  (the queen.1c reader; not duplicated here)

SEED = 20240611
MIN_S, MAX_S = 2.0, 6.0
N_J_PER_HALF = 6
N_JOE_STRATA = 8          # -> 4 per half
N_P_PER_HALF = 20
OUT_DEFAULT = "models/samples/fotaq-joe"

DIALOGUE_RE = re.compile(r"(\d{2})([0-9A-F]{4})([JP])(\d)")
JOE_RE = re.compile(r"JOE(\d{4})(\d)")


def classify(base):
    """-> (cls, sequence, room) or None.  cls in {'J', 'JOE', 'P'}."""
    m = DIALOGUE_RE.fullmatch(base)
    if m:
        room, key, who, _ = m.groups()
        return who, ("D", room, key), room
    m = JOE_RE.fullmatch(base)
    if m:
        return "JOE", ("JOE", m.group(1)), None
    return None


def reserved_sequences():
    seqs = set()
    for sets in (ets.COMMITTED, ets.HELDOUT):
        for bases in sets.values():
            for b in bases:
                c = classify(b)
                if c:
                    seqs.add(c[1])
    return seqs


def candidates(data, table):
    reserved = reserved_sequences()
    counts = collections.Counter()
    digest = {}
    for name, (off, size) in table.items():
        if name.endswith(".SB"):
            h = hashlib.sha1(data[off:off + size]).hexdigest()
            digest[name[:-3]] = h
            counts[h] += 1
    out = []
    stats = collections.Counter()
    for base in sorted(digest):
        c = classify(base)
        if c is None:
            continue
        cls, seq, room = c
        stats[cls + " all"] += 1
        if seq in reserved:
            stats[cls + " reserved"] += 1
            continue
        if counts[digest[base]] > 1:
            stats[cls + " duplicate"] += 1
            continue
        x = ets.decode_clip(data, table, base)
        dur = len(x) / ets.SR_NATIVE
        if not (MIN_S <= dur <= MAX_S):
            continue
        stats[cls + " candidates"] += 1
        out.append(dict(entry=base, cls=cls, seq=seq, room=room, dur_native=dur))
    return out, stats


def pick_one_per_room(rng, cands, rooms, n):
    by_room = collections.defaultdict(list)
    for c in cands:
        by_room[c["room"]].append(c)
    usable = [r for r in rooms if by_room.get(r)]
    if len(usable) < n:
        raise SystemExit(f"only {len(usable)} rooms have candidates, need {n}")
    picked = []
    for r in usable[:n]:
        picked.append(rng.choice(sorted(by_room[r], key=lambda c: c["entry"])))
    return picked


def select(cands):
    rng = random.Random(SEED)
    rooms = sorted({c["room"] for c in cands if c["room"] is not None})
    rng.shuffle(rooms)
    halves = {"A": rooms[0::2], "B": rooms[1::2]}
    chosen = []
    for h, hrooms in halves.items():
        order = list(hrooms)
        rng.shuffle(order)
        js = pick_one_per_room(rng, [c for c in cands if c["cls"] == "J"], order, N_J_PER_HALF)
        order = list(hrooms)
        rng.shuffle(order)
        ps = pick_one_per_room(rng, [c for c in cands if c["cls"] == "P"], order, N_P_PER_HALF)
        for c in js + ps:
            chosen.append(dict(c, half=h))
    # JOE descriptions: one per description number, stratified over the numbering.
    by_desc = collections.defaultdict(list)
    for c in cands:
        if c["cls"] == "JOE":
            by_desc[c["seq"]].append(c)
    descs = sorted(by_desc)
    strata = np.array_split(np.arange(len(descs)), N_JOE_STRATA)
    for i, idx in enumerate(strata):
        d = descs[int(rng.choice(list(idx)))]
        c = rng.choice(sorted(by_desc[d], key=lambda c: c["entry"]))
        chosen.append(dict(c, half="A" if i % 2 == 0 else "B"))
    for c in chosen:
        c["file"] = ("joe_" if c["cls"] in ("J", "JOE") else "other_") + c["entry"] + ".flac"
    chosen.sort(key=lambda c: c["file"])
    seqs = [c["seq"] for c in chosen]
    assert len(seqs) == len(set(seqs)), "two clips from one sequence"
    return chosen


def write_flac(data, table, base, out_path):
    x = ets.decode_clip(data, table, base)
    pcm = np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    with tempfile.TemporaryDirectory() as td:
        tmp = os.path.join(td, "in.wav")
        sf.write(tmp, pcm, ets.SR_NATIVE, subtype="PCM_16")
        subprocess.run(["sox", "-D", "-R", tmp, "-b", "16", "-c", "1", "-C", "8", out_path,
                        "rate", "-v", str(ets.SR_OUT)], check=True)
    info = sf.info(out_path)
    assert info.samplerate == ets.SR_OUT and info.channels == 1 and info.subtype == "PCM_16"
    assert info.format == "FLAC"
    return info.frames / ets.SR_OUT


def make_trials(clips):
    joe = [c for c in clips if c["cls"] in ("J", "JOE")]
    other = [c for c in clips if c["cls"] == "P"]
    trials, dropped = [], 0
    for a, b in itertools.combinations(joe, 2):  # joe is sorted by file name
        if a["seq"] == b["seq"]:
            dropped += 1
            continue
        trials.append((1, a, b))
    for a in joe:
        for b in other:
            trials.append((0, a, b))
    return trials, dropped


def write_trials(path, trials):
    with open(path, "w") as f:
        for lab, a, b in trials:
            f.write(f"{lab} {a['file']} {b['file']}\n")
    return sum(t[0] for t in trials), sum(1 - t[0] for t in trials)


def fmt_seq(c):
    if c["cls"] == "JOE":
        return f"description {c['seq'][1]}"
    return f"room {c['room']}, key {c['seq'][2]}"


CLASS_TEXT = {"J": "Joe, in-room dialogue (J)", "JOE": "Joe, object description",
              "P": "other person, in-room dialogue (P)"}


def write_readme(path, version, clips, stats, counts, dropped, total_bytes):
    n = collections.Counter(c["cls"] for c in clips)
    secs = collections.defaultdict(float)
    for c in clips:
        secs[c["cls"]] += c["dur"]
    rooms_p = len({c["room"] for c in clips if c["cls"] == "P"})
    rooms_j = len({c["room"] for c in clips if c["cls"] == "J"})
    shared_rooms = ", ".join(sorted({c["room"] for c in clips if c["cls"] == "J"}
                                    & {c["room"] for c in clips if c["cls"] == "P"}))
    shared_rooms = f"rooms {shared_rooms}" if shared_rooms else ""
    shared_dialogues = len({c["seq"] for c in clips if c["cls"] == "J"}
                           & {c["seq"] for c in clips if c["cls"] == "P"})
    half_n = {h: collections.Counter(("joe" if c["cls"] != "P" else "other") for c in clips
                                     if c["half"] == h) for h in "AB"}
    L = []
    w = L.append
    w("# \"Is this Joe?\" trials: real speech from *Flight of the Amazon Queen*")
    w("")
    w("**Modified version notice:** these files are modified excerpts (decoded, resampled,")
    w("re-encoded as FLAC) of the speech of *Flight of the Amazon Queen*. All game content is")
    w("(C) John Passfield and Steven Stamatiadis. They are not the original game data.")
    w("")
    w("A small labelled evaluation set for `spkv score` / `spkv eval` demos and tests. It asks")
    w("one question: *is this recording the protagonist, Joe?* Generated by")
    w("`tools/reference/make_fotaq_trials.py` (run by hand, seeded, reproducible); do not edit")
    w("by hand.")
    w("")
    w("## Contents")
    w("")
    w("| what | count | seconds |")
    w("|---|---|---|")
    w(f"| `joe_*.flac`, Joe in-room dialogue (`RRKKKKJn`) | {n['J']} | {secs['J']:.1f} |")
    w(f"| `joe_JOE*.flac`, Joe object descriptions (`JOEddddn`) | {n['JOE']} | {secs['JOE']:.1f} |")
    w(f"| `other_*.flac`, the other person of a dialogue (`RRKKKKPn`) | {n['P']} | {secs['P']:.1f} |")
    w(f"| **all recordings** | **{len(clips)}** | **{sum(secs.values()):.1f}** |")
    w("")
    w(f"Total size of the FLAC files: {total_bytes} bytes ({total_bytes / 1e6:.2f} MB).")
    w(f"The J clips come from {rooms_j} distinct rooms, the P clips from {rooms_p} distinct rooms")
    w("(one dialogue each).")
    w("")
    w("| trial list | target (1) | non-target (0) | recordings |")
    w("|---|---|---|---|")
    for name, (t, nt, rec) in counts.items():
        w(f"| `{name}` | {t} | {nt} | {rec} |")
    w("")
    w("Format (VoxCeleb): `label enroll test`, one trial a line, paths relative to this folder.")
    w("The enrollment side is always a Joe clip; the test side is another Joe clip (label 1) or")
    w("an `other` clip (label 0). Two `other` clips are never paired.")
    w("")
    w("- `trials.txt`: every Joe-Joe pair (each unordered pair once, enroll = the name that sorts")
    w("  first) and every Joe-other pair.")
    w(f"- `trials-calibration.txt` (half A: {half_n['A']['joe']} Joe, {half_n['A']['other']} other) and")
    w(f"  `trials-eval.txt` (half B: {half_n['B']['joe']} Joe, {half_n['B']['other']} other): the same")
    w("  rule within each half. The halves share **no recording** (nor room nor description")
    w("  number), so a calibration fitted on one half can be evaluated on the other.")
    w(f"- Within a half, a room may give both a J clip and a P clip ({shared_rooms or 'none'}")
    w(f"  here; {shared_dialogues} of those share one dialogue, i.e. room and key): a")
    w("  conversation partner is a legitimate non-target.")
    w(f"- Non-targets outnumber targets about {counts['trials.txt'][1] / counts['trials.txt'][0]:.1f} : 1.")
    w(f"- Joe-Joe pairs from the same dialogue (same room and key) or the same description number")
    w(f"  are excluded; the selection takes at most one clip per such sequence, so this dropped")
    w(f"  {dropped} pairs. Whether two different dialogues or descriptions were recorded in one")
    w("  session cannot be told from the container.")
    w("")
    w("## What the labels mean, and caveats")
    w("")
    w("Speaker identities in the game data are **unknown** (docs/CORPUS.md §2.7). The labels rest")
    w("only on the filename classes of `queen.1c` (docs/GAME-SPEECH.md §2): `J` clips and")
    w("`JOE` descriptions are spoken by the protagonist Joe (one voice actor, 1930 clips; his F0")
    w("sits tightly at 143-151 Hz median); `P` clips are spoken by \"the other person\" of an")
    w("in-room dialogue, i.e. some NPC whose identity is not named here.")
    w("")
    w("- **Label noise risk:** voice actors doubled roles in this game, so Joe's actor may also")
    w("  voice some NPC. A `P` clip of such an NPC would be labelled non-target although the")
    w("  voice is the same. No clip was filtered by voice similarity (F0 or otherwise) to hide")
    w("  this; expect a few \"non-targets\" that are hard or are in fact the same voice.")
    w("- Filename classes could hold rare mistakes of the original production; none were checked")
    w("  by listening.")
    w("- `other` clips are NPCs of different rooms/dialogues, probably many different characters,")
    w("  but several may share one actor. They are not labelled as distinct speakers, which is")
    w("  why they never appear as a pair.")
    w("- All clips are studio recordings at 11025 Hz, MP3 at 16 kbit/s, upsampled to 16 kHz: no")
    w("  content above ~5.5 kHz, no channel variation. Scores here say little about field data;")
    w("  the set is for demos, plumbing tests and calibration mechanics, not for claims.")
    w("- Small: confidence intervals of an EER on a few hundred trials are wide.")
    w("")
    w("## Source")
    w("")
    w(f"- Debian package `{ets.PACKAGE}` **{ets.PACKAGE_VERSION}** (bookworm, main), file")
    w(f"  `{ets.QUEEN}` (talkie, version `{version}`, MP3 type).")
    w("- Each `.SB` entry is a bare MP3 stream (MPEG-2.5 Layer III, 11025 Hz, mono, 16 kbit/s).")
    w("")
    w("## Selection")
    w("")
    w(f"Seed {SEED}. Candidates: entries whose decoded duration is {MIN_S:.0f}-{MAX_S:.0f} s; dialogue keys")
    w("`SSSS`/`XXXX` excluded (they do not name one dialogue); entries whose MP3 bytes occur more")
    w("than once in `queen.1c` excluded (reused lines); the dialogues and description numbers used")
    w("by the committed test fixtures (`Sources/_SVTestSupport/Fixtures/speech`) and by the")
    w("held-out clips of `tools/reference/extract_test_speech.py` excluded.")
    w("")
    w("| class | entries | reserved (fixtures/held-out) | duplicate bytes | 2-6 s candidates |")
    w("|---|---|---|---|---|")
    for cls in ("J", "JOE", "P"):
        w(f"| {cls} | {stats[cls + ' all']} | {stats[cls + ' reserved']} | "
          f"{stats[cls + ' duplicate']} | {stats[cls + ' candidates']} |")
    w("")
    w("Rooms holding candidates are shuffled and dealt into halves A and B. Per half:")
    w(f"{N_J_PER_HALF} J clips from {N_J_PER_HALF} distinct rooms and {N_P_PER_HALF} P clips from "
      f"{N_P_PER_HALF} distinct rooms")
    w("(random key and part within the room). JOE descriptions: candidate description numbers in")
    w(f"order, cut into {N_JOE_STRATA} strata, one clip from each, strata alternating A/B.")
    w("")
    w("## Processing")
    w("")
    w("1. parse the `QTBL` table of `queen.1c` (reader imported from `extract_test_speech.py`);")
    w("2. decode each MP3 with libsndfile 1.2.2 (python `soundfile`) to float at 11025 Hz;")
    w("3. round to 16-bit at 11025 Hz (no dither);")
    w("4. resample and encode with SoX 14.4.2:")
    w("   `sox -D -R in.wav -b 16 -c 1 -C 8 out.flac rate -v 16000`")
    w("   (16 kHz, 16-bit, mono FLAC). A few samples clip at full scale in the resampler")
    w("   (SoX warns, 1-7 samples in some clips); left as is, as for the test fixtures.")
    w("")
    w("Running the script twice gives byte-identical files (checked with md5sum).")
    w("")
    w("## Recordings")
    w("")
    w("| file | class | sequence | half | duration (s) |")
    w("|---|---|---|---|---|")
    for c in clips:
        w(f"| `{c['file']}` | {CLASS_TEXT[c['cls']]} | {fmt_seq(c)} | {c['half']} | {c['dur']:.3f} |")
    w("")
    w("## Licence")
    w("")
    w("Freeware, redistributable. From `/usr/share/doc/flight-of-the-amazon-queen/copyright`:")
    w("")
    w("> 1) You may distribute this game for free on any medium, provided this readme and all")
    w("> associated copyright notices and disclaimers are left intact. [...]")
    w("> 4) You may modify the game as you wish. You may also distribute modified versions under the")
    w("> terms set forth in this license, but with the additional requirement that the work is marked")
    w("> with a prominent notice which states that it is a modified version.")
    w("> 5) All game content is (C) John Passfield and Steven Stamatiadis. The ScummVM engine is (C)")
    w("> The ScummVM Team (www.scummvm.org).")
    w("> 6) THE GAMEDATA IN THIS ARCHIVE IS PROVIDED \"AS IS\" AND WITHOUT ANY EXPRESS OR IMPLIED")
    w("> WARRANTIES, INCLUDING AND NOT LIMITED TO ANY IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS")
    w("> FOR A PARTICULAR PURPOSE.")
    w("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True, help="directory where the .deb was dpkg -x'ed")
    ap.add_argument("--out", default=OUT_DEFAULT)
    args = ap.parse_args()
    data, version, table = ets.read_table(os.path.join(args.root, ets.QUEEN))
    print(f"{ets.PACKAGE} {ets.PACKAGE_VERSION}: queen.1c version {version}, {len(table)} entries")
    cands, stats = candidates(data, table)
    for k in sorted(stats):
        print(f"  {k}: {stats[k]}")
    clips = select(cands)
    os.makedirs(args.out, exist_ok=True)
    for old in os.listdir(args.out):
        if old.endswith(".flac") or old.startswith("trials"):
            os.remove(os.path.join(args.out, old))
    total_bytes = 0
    for c in clips:
        p = os.path.join(args.out, c["file"])
        c["dur"] = write_flac(data, table, c["entry"], p)
        total_bytes += os.path.getsize(p)
        print(f"{p}: {c['dur']:.3f} s  half {c['half']}  {fmt_seq(c)}")
    counts = {}
    dropped_all = 0
    for name, sub in (("trials.txt", clips),
                      ("trials-calibration.txt", [c for c in clips if c["half"] == "A"]),
                      ("trials-eval.txt", [c for c in clips if c["half"] == "B"])):
        trials, dropped = make_trials(sub)
        if name == "trials.txt":
            dropped_all = dropped
        t, nt = write_trials(os.path.join(args.out, name), trials)
        counts[name] = (t, nt, len(sub))
        print(f"{name}: {t} target, {nt} non-target, {len(sub)} recordings")
    cal = {c["file"] for c in clips if c["half"] == "A"}
    ev = {c["file"] for c in clips if c["half"] == "B"}
    assert not cal & ev
    write_readme(os.path.join(args.out, "README.md"), version, clips, stats, counts,
                 dropped_all, total_bytes)
    print(f"total {len(clips)} recordings, {sum(c['dur'] for c in clips):.1f} s, {total_bytes} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
