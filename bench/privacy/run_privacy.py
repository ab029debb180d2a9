#!/usr/bin/env python3
"""Measure every protocol variant: both attacks and linkage quality.

Runs build/bench/privacy/bench_privacy on protocols/default.json and each
protocols/variants/*.json (or the files given), collects its output and
prints the results table of protocols/PRIVACY.md (Markdown), with the rule
of issue 8 applied: re-identification under 0.5% of records in every attack
(frequency and pattern mining: records whose name it recovers; graph
matching at 100% and 50% overlap, on every part of the record it can use:
records matched to their own person, beyond the chance baseline) and at most 0.5 F1 points lost against
the unhardened encoding (protocols/variants/ff-none.json, the current
default's encoding) on the synthetic data and on FEBRL4.

Usage (from the source root):
  python3 bench/privacy/run_privacy.py --build build [--seed 1] [--scale 1]
      [--threads 2] [--json FILE] [--raw DIR] [PROTOCOL.json ...]
Standard library only. The output holds shares and counts, never a value.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("WYELINK_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
BOUND = 0.005          # share of records re-identified
F1_LOSS = 0.005        # F1 points (0.5 of 100)
BASELINE = "ff-none"   # the unhardened encoding


def parse(text):
    """bench_privacy's lines -> dict."""
    r = {"attacks": {}, "learned": {}}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        what = parts[1]
        if what == "f1":
            r["f1"] = float(re.search(r"F1 ([0-9.]+)", parts[2]).group(1))
            r["f1_precision"] = float(re.search(r"precision ([0-9.]+)", line).group(1))
            r["f1_recall"] = float(re.search(r"recall ([0-9.]+)", line).group(1))
        elif what == "febrl4":
            r["febrl4"] = float(re.search(r"F1 ([0-9.]+)", parts[2]).group(1))
        elif what == "data":
            r["records"] = int(re.search(r"records (\d+)", parts[2]).group(1))
        elif "tokens learned" in parts[2]:
            r["learned"][what] = int(re.search(r"tokens learned (\d+)", parts[2]).group(1))
        elif parts[2].startswith("identity "):
            m = re.match(r"identity ([0-9.]+) \((\d+)/(\d+)\)", parts[2])
            c = re.search(r"chance: identity ([0-9.]+) names ([0-9.]+)", line)
            name = re.sub(r" \(\d+ s\)", "", what)
            r["attacks"].setdefault(name, {}).update(
                {"identity": float(m.group(1)), "ident": int(m.group(2)),
                 "chance_identity": float(c.group(1)), "chance_names": float(c.group(2))})
        elif parts[2].startswith("records "):
            m = re.match(r"records ([0-9.]+) \((\d+)/(\d+)\)", parts[2])
            n = re.match(r"names ([0-9.]+) \((\d+)/(\d+)\)", parts[3])
            name = re.sub(r" \(\d+ s\)", "", what)
            r["attacks"].setdefault(name, {}).update(
                {"records": float(m.group(1)), "reid": int(m.group(2)),
                 "of": int(m.group(3)), "names": float(n.group(1)),
                 "full": float(re.search(r"full ([0-9.]+)", line).group(1))})
    return r


def family(name):
    if name.startswith("freq:"):
        return "freq"
    if "100% overlap" in name:
        return "graph100"
    if "50% overlap" in name:
        return "graph50"
    return "other"


def rule_figure(name, v):
    """The share the rule of issue 8 is applied to (PRIVACY.md section 1):
    attack 1, records whose name it recovers; graph matching, records matched
    to their own person beyond what matching at random within the clear
    attributes achieves (identity minus its chance baseline)."""
    if family(name) == "freq":
        return v["records"]
    if "identity" in v:
        return max(0.0, v["identity"] - v["chance_identity"])
    return v["records"]  # round-1 output: name hits only


def worst(r, fam):
    best = None
    for k, v in r["attacks"].items():
        if family(k) != fam or "(not a name)" in k:
            continue
        if best is None or rule_figure(k, v) > rule_figure(*best):
            best = (k, v)
    return best


def pct(x):
    return "%.2f%%" % (100 * x)


def short(name):
    return (name.replace("freq: ", "").replace("graph ", "").replace(" 100% overlap", "")
            .replace(" 50% overlap", "").replace(": frequency", " freq.")
            .replace(": pattern mining", " mining"))


def table(results):
    """The Markdown table; marks each result against the rule."""
    base = results.get(BASELINE, {})
    rows = ["| variant | F1 synth. | F1 FEBRL4 | attack 1: records / names | "
            "graph 100%: identity - chance (name hits / chance) | graph 50%: identity - chance "
            "(name hits / chance) | worst | rule |",
            "|" + "---|" * 8]
    for name, r in results.items():
        cells = [name, "%.4f" % r.get("f1", float("nan")), "%.4f" % r.get("febrl4", float("nan"))]
        worst_all = 0.0
        for fam in ("freq", "graph100", "graph50"):
            w = worst(r, fam)
            if w is None:
                cells.append("-")
                continue
            worst_all = max(worst_all, rule_figure(*w))
            v = w[1]
            if fam == "freq" or "identity" not in v:
                cells.append("%s / %s (%s)" % (pct(v["records"]), pct(v["names"]), short(w[0])))
            else:
                cells.append("%s - %s = %s (%s / %s; %s)" % (
                    pct(v["identity"]), pct(v["chance_identity"]), pct(rule_figure(*w)),
                    pct(v["records"]), pct(v["chance_names"]), short(w[0])))
        cells.append(pct(worst_all))
        ok_priv = worst_all < BOUND
        ok_f1 = ("f1" in base and r.get("f1", 0) >= base["f1"] - F1_LOSS and
                 r.get("febrl4", 0) >= base.get("febrl4", 0) - F1_LOSS)
        r["worst"] = worst_all
        r["meets_privacy"] = ok_priv
        r["meets_quality"] = ok_f1
        cells.append("meets" if ok_priv and ok_f1 else
                     "fails %s" % " and ".join(x for x, ok in (("privacy", ok_priv),
                                                             ("F1", ok_f1)) if not ok))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--scale", default="1")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--json", default=None)
    ap.add_argument("--raw", default=None, help="folder to keep bench_privacy's output in")
    ap.add_argument("--from-json", default=None,
                    help="print the table of an earlier run's --json instead of measuring")
    ap.add_argument("--update-f1", default=None, metavar="JSON",
                    help="re-measure only F1 (synthetic and FEBRL4) for the protocols of an "
                    "earlier run's --json, e.g. after a linker change, and rewrite it")
    ap.add_argument("--from-output", nargs="+", default=None, metavar="FILE",
                    help="print the table of saved bench_privacy output (attacks and F1 may "
                    "be in separate files; lines are grouped by protocol)")
    ap.add_argument("protocols", nargs="*")
    a = ap.parse_args()
    if a.from_output:
        by = {}
        for fn in a.from_output:
            for line in open(fn):
                name = os.path.splitext(line.split("\t", 1)[0])[0]
                by.setdefault(name, []).append(line.rstrip("\n"))
        results = {}
        for name, lines in by.items():
            r = parse("\n".join(lines))
            if r["attacks"] or "f1" in r:
                results[name] = r
        print(table(results))
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"bound": BOUND, "f1_loss": F1_LOSS, "baseline": BASELINE,
                           "results": results}, f, indent=1)
        return 0
    if a.update_f1:
        exe = os.path.join(a.build, "bench", "privacy", "bench_privacy")
        doc = json.load(open(a.update_f1))
        for name, r in doc["results"].items():
            cmd = [exe, "--seed", doc["seed"], "--scale", doc["scale"], "--threads", a.threads,
                   "--f1-only", "--record-dice", "auto", "--febrl4",
                   os.path.join(SHARED, "febrl"), os.path.join(ROOT, r["protocol"])]
            out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
            new = parse(out.stdout)
            for k in ("f1", "f1_precision", "f1_recall", "febrl4"):
                r[k] = new[k]
        with open(a.update_f1, "w") as f:
            json.dump(doc, f, indent=1)
        print(table(doc["results"]))
        return 0
    if a.from_json:
        print(table(json.load(open(a.from_json))["results"]))
        return 0
    exe = os.path.join(a.build, "bench", "privacy", "bench_privacy")
    protos = a.protocols or sorted(glob.glob(os.path.join(ROOT, "protocols", "variants", "*.json")))
    results = {}
    for p in protos:
        name = os.path.splitext(os.path.basename(p))[0]
        cmd = [exe, "--seed", a.seed, "--scale", a.scale, "--threads", a.threads, "--f1",
               "--record-dice", "auto", "--febrl4", os.path.join(SHARED, "febrl"), p]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if a.raw:
            os.makedirs(a.raw, exist_ok=True)
            with open(os.path.join(a.raw, name + ".txt"), "w") as f:
                f.write(out.stdout)
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
            sys.exit("run_privacy: bench_privacy failed on %s" % p)
        results[name] = parse(out.stdout)
        results[name]["protocol"] = os.path.relpath(os.path.abspath(p), ROOT)
        print("measured %s" % name, file=sys.stderr, flush=True)
    print(table(results))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"seed": a.seed, "scale": a.scale, "bound": BOUND, "f1_loss": F1_LOSS,
                       "baseline": BASELINE, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
