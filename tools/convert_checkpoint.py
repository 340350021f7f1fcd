#!/usr/bin/env python3
"""Convert a PyTorch checkpoint (.ckpt / .pt / .pth) to .safetensors, for spkv model import.

Handles a bare state_dict (e.g. SpeechBrain's embedding_model.ckpt, WeSpeaker's avg_model.pt) and
state_dicts nested in a training checkpoint under keys such as 'model', 'state_dict', 'encoder',
'model_state_dict', 'embedding_model', 'module', 'teacher', 'student' (found automatically, or
chosen with --key a.b.c). --prefix selects one sub-module and strips its name from the keys
(e.g. --prefix encoder. or --prefix module.). Tensors keep their dtype (int64
num_batches_tracked included) unless --float32 is given; non-tensor entries are skipped and listed.

Examples:
  python tools/convert_checkpoint.py embedding_model.ckpt ecapa.safetensors
  python tools/convert_checkpoint.py model_avg.pt encoder.safetensors --key model --prefix encoder.
  python tools/convert_checkpoint.py ckpt.pth out.safetensors --list        # only show what is inside

Needs: python3 with torch and safetensors (pip install torch safetensors). Loading uses
torch.load(weights_only=True); pass --trust-pickle only for a file you trust, when a training
checkpoint also stores Python objects (configs, optimiser classes) that refuse to load otherwise.
"""
import argparse
import hashlib
import os
import sys

NESTED_KEYS = ["state_dict", "model_state_dict", "model", "embedding_model", "encoder",
               "module", "net", "network", "teacher", "student", "params"]


def is_tensor_dict(d, torch):
    return isinstance(d, dict) and d and any(isinstance(v, torch.Tensor) for v in d.values())


def describe(obj, torch, depth=0, limit=3):
    """Short outline of a checkpoint's top-level structure."""
    pad = "  " * depth
    lines = []
    if isinstance(obj, dict):
        n_t = sum(isinstance(v, torch.Tensor) for v in obj.values())
        lines.append(f"{pad}dict with {len(obj)} entries ({n_t} tensors)")
        if depth < limit:
            for k, v in list(obj.items())[:40]:
                if isinstance(v, dict):
                    lines.append(f"{pad}  [{k!r}]:")
                    lines += describe(v, torch, depth + 2, limit)
                elif not isinstance(v, torch.Tensor):
                    lines.append(f"{pad}  [{k!r}]: {type(v).__name__}")
    else:
        lines.append(f"{pad}{type(obj).__name__}")
    return lines


def find_state_dict(obj, key, torch):
    """Return (state_dict, path) using --key, else the top level, else the usual nesting keys."""
    if key:
        cur = obj
        for part in key.split("."):
            if not isinstance(cur, dict) or part not in cur:
                raise SystemExit(f"--key {key}: no entry {part!r} (have: {list(cur)[:20] if isinstance(cur, dict) else type(cur).__name__})")
            cur = cur[part]
        if hasattr(cur, "state_dict") and not isinstance(cur, dict):
            cur = cur.state_dict()
        if not is_tensor_dict(cur, torch):
            raise SystemExit(f"--key {key}: not a dict of tensors")
        return cur, key
    if hasattr(obj, "state_dict") and not isinstance(obj, dict):   # a pickled nn.Module
        return obj.state_dict(), "(module).state_dict()"
    if is_tensor_dict(obj, torch):
        return obj, "(top level)"
    if isinstance(obj, dict):
        for k in NESTED_KEYS:
            if k in obj:
                v = obj[k]
                if hasattr(v, "state_dict") and not isinstance(v, dict):
                    v = v.state_dict()
                if is_tensor_dict(v, torch):
                    return v, k
        for k, v in obj.items():                              # one level deeper, any key
            if is_tensor_dict(v, torch):
                return v, str(k)
    raise SystemExit("no state_dict found; inspect with --list and choose one with --key\n"
                     + "\n".join(describe(obj, torch)))


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch checkpoint -> .safetensors")
    ap.add_argument("input", help=".ckpt / .pt / .pth file")
    ap.add_argument("output", nargs="?", help=".safetensors file to write")
    ap.add_argument("--key", help="dotted path of the state_dict inside the checkpoint, e.g. model or state.encoder")
    ap.add_argument("--prefix", help="keep only keys starting with this and strip it, e.g. 'encoder.' "
                                     "(a missing trailing '.' is added)")
    ap.add_argument("--float32", action="store_true", help="cast floating tensors (fp16/bf16/fp64) to float32")
    ap.add_argument("--meta", action="append", default=[], metavar="K=V", help="extra metadata entry")
    ap.add_argument("--list", action="store_true", help="only list the selected tensors, write nothing")
    ap.add_argument("--trust-pickle", action="store_true",
                    help="torch.load(weights_only=False): runs pickled code; only for trusted files")
    args = ap.parse_args(argv)
    if not args.list and not args.output:
        ap.error("output path required (or --list)")

    import torch
    obj = torch.load(args.input, map_location="cpu", weights_only=not args.trust_pickle)
    sd, where = find_state_dict(obj, args.key, torch)

    skipped = [k for k, v in sd.items() if not isinstance(v, torch.Tensor)]
    tensors = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    prefix = args.prefix
    if prefix:
        if not prefix.endswith("."):
            prefix += "."
        sel = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not sel:
            heads = sorted({k.split(".")[0] + "." for k in tensors})
            raise SystemExit(f"--prefix {prefix}: no key starts with it; top-level prefixes: {heads}")
        tensors = sel
    else:
        heads = sorted({k.split(".")[0] for k in tensors})
        if heads == ["module"]:
            print("note: every key starts with 'module.' (DataParallel); --prefix module. strips it",
                  file=sys.stderr)

    out = {}
    for k, v in tensors.items():
        t = v.detach().cpu()
        if args.float32 and t.is_floating_point():
            t = t.to(torch.float32)
        out[k] = t.clone().contiguous()          # own storage: shared/tied tensors are allowed

    width = max(len(k) for k in out)
    print(f"{args.input}: state_dict at {where}" + (f", prefix {prefix!r} stripped" if prefix else ""))
    total = 0
    for k in sorted(out):
        t = out[k]
        total += t.numel() * t.element_size()
        print(f"  {k:<{width}}  {str(t.dtype).replace('torch.', ''):<8} {list(t.shape)}")
    print(f"{len(out)} tensors, {total} bytes of data"
          + (f"; skipped {len(skipped)} non-tensor entries: {skipped}" if skipped else ""))
    if args.list:
        return 0

    from safetensors.torch import save_file
    h = hashlib.sha256()
    with open(args.input, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    meta = {"source_file": os.path.basename(args.input), "source_sha256": h.hexdigest(),
            "source_key": where, "converter": "spkv tools/convert_checkpoint.py"}
    if prefix:
        meta["source_prefix"] = prefix
    for kv in args.meta:
        k, _, v = kv.partition("=")
        meta[k] = v
    save_file(out, args.output, metadata=meta)
    print(f"wrote {args.output} ({os.path.getsize(args.output)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
