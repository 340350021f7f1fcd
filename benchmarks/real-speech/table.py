#!/usr/bin/env python3
"""Markdown tables from run.sh / lopo.sh output ('NAME LIST {spkv eval --json}' per line).

usage: table.py RESULTS.txt [--lists all,same-language,...] [--metrics eer,min_dcf_01,...] [--columns A,B]
One row per (name, list); cells are EER in %, DCFs and Cllr as spkv eval prints them ('—' where the scores are
not LLRs).
"""
import argparse
import json

LABELS = {"eer": "EER %", "min_dcf_01": "minDCF 0.01", "act_dcf_01": "actDCF 0.01", "min_dcf_05": "minDCF 0.05",
          "act_dcf_05": "actDCF 0.05", "cllr": "Cllr", "min_cllr": "min Cllr"}

def main():
    p = argparse.ArgumentParser()
    p.add_argument("results")
    p.add_argument("--lists", default="")
    p.add_argument("--metrics", default="eer,min_dcf_01,act_dcf_01,min_dcf_05,act_dcf_05,cllr,min_cllr")
    p.add_argument("--columns", default="model,list", help="names of the first two columns (lopo.sh: held-out package,calibration)")
    a = p.parse_args()
    lists = [x for x in a.lists.split(",") if x]
    metrics = a.metrics.split(",")
    first, second = a.columns.split(",")
    print(f"| {first} | {second} | targets / non-targets | " + " | ".join(LABELS[m] for m in metrics) + " |")
    print("|---|---|---|" + "---|" * len(metrics))
    for line in open(a.results):
        name, lst, js = line.split(" ", 2)
        if lists and lst not in lists:
            continue
        d = json.loads(js)
        cells = [("%.2f" % d[m]) if m == "eer" else ("%.3f" % d[m] if m in d else "—") for m in metrics]
        print(f"| {name} | {lst} | {d['targets']} / {d['nontargets']} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
