#!/usr/bin/env python3
"""Where each data set's missed true pairs go (issue 7).

Runs build/bench/quality/quality_misses on the encoded files that
`run_quality.py --work DIR` left in DIR, one data set at a time, and prints
its report: for every true pair the linkage misses (and every pair it links
wrongly), the blocking keys the two records share, each comparison's level
and weight, the score and what became of the pair; then counts by cause.
Only counts, field names, levels and scores are printed, never a value of
an input row, a local id or a pseudonym.

Usage (from the source root):
  python3 bench/quality/run_quality.py --build build-q --work /tmp/q
  python3 bench/quality/miss_report.py --build build-q --work /tmp/q
      [--datasets febrl4,febrl3,synth-1,...] [--summary] [--exhaustive]
      [--protocol FILE]
"""
import argparse
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--work", required=True, help="the --work folder of run_quality.py")
    ap.add_argument("--datasets", default=None,
                    help="sub-folders of WORK (default: every one with a truth)")
    ap.add_argument("--protocol", default=os.path.join(ROOT, "protocols", "default.json"))
    ap.add_argument("--threads", default="2")
    ap.add_argument("--summary", action="store_true", help="the counts only")
    ap.add_argument("--exhaustive", action="store_true", help="every pair a candidate")
    ap.add_argument("--extra", default="", help="more arguments for quality_misses, "
                    "e.g. '--minhash2-bands 8 --minhash2-per-field 4'")
    a = ap.parse_args()
    exe = os.path.join(a.build, "bench", "quality", "quality_misses")
    if not os.access(exe, os.X_OK):
        sys.exit("miss_report: no quality_misses in '%s'" % a.build)
    key = os.path.join(a.work, "keys", "linkage-unit.key")
    if a.datasets:
        names = a.datasets.split(",")
    else:
        truths = glob.glob(os.path.join(a.work, "*", "truth.csv")) + \
            glob.glob(os.path.join(a.work, "*", "data", "truth.csv"))
        names = sorted(os.path.relpath(t, a.work).split(os.sep)[0] for t in truths)
    for name in dict.fromkeys(names):
        d = os.path.join(a.work, name)
        truth = os.path.join(d, "truth.csv")
        if not os.path.exists(truth):
            truth = os.path.join(d, "data", "truth.csv")
        wyes = sorted(glob.glob(os.path.join(d, "*.wye")))
        cmd = [exe, "--key", key, "--trust", os.path.join(a.work, "trust"), "--truth", truth,
               "--protocol", a.protocol, "--threads", a.threads]
        if a.exhaustive:
            cmd.append("--exhaustive")
        cmd += a.extra.split()
        for w in wyes:
            agency = os.path.basename(w)[:-4]
            cmd += ["--map", "%s=%s" % (agency, os.path.join(d, agency + ".local-map.csv"))]
        cmd += wyes
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.stderr.write(p.stderr)
            sys.exit("miss_report: quality_misses failed on %s" % name)
        print("== %s" % name)
        for line in p.stdout.splitlines():
            if a.summary and line.startswith(("missed ", "false ")) and ": score " in line:
                continue
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
