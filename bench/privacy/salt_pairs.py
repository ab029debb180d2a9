#!/usr/bin/env python3
"""Count the true pairs of a `wyelink synth` folder whose salt field (the
year of birth) is present on both sides and equal, differs, or is present on
one side only (protocols/PRIVACY.md section 3.2).

Usage: python3 bench/privacy/salt_pairs.py DIR   (DIR from `wyelink synth --out DIR`)
Reads each AGENCY.csv through the date column its AGENCY.map.json names and
truth.csv; compares the last two digits of the year, since one agency writes
two-digit years. Prints counts only, never a value. Standard library only.
"""
import collections
import csv
import glob
import itertools
import json
import os
import sys


def year2(value, fmt):
    if not value:
        return None
    if fmt == "YYYYMMDD":
        return value[2:4] if len(value) == 8 else None
    if fmt.startswith("YYYY"):
        return value[2:4]
    return value[-2:]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    truth = {}
    with open(os.path.join(d, "truth.csv"), newline="") as f:
        for r in csv.DictReader(f):
            truth[(r["agency"], r["local_id"])] = r["person"]
    years = collections.defaultdict(list)
    rows = missing = 0
    for m in sorted(glob.glob(os.path.join(d, "*.map.json"))):
        mp = json.load(open(m))
        ag = mp["agency"]
        col = next((c for c in mp["columns"] if c.get("field") == "date_of_birth"), None)
        with open(os.path.join(d, ag + ".csv"), encoding="utf-8-sig", newline="") as f:
            for r in csv.DictReader(f):
                v = r.get(col["column"], "").strip() if col else ""
                y = year2(v, col["date_format"]) if col else None
                rows += 1
                missing += y is None
                years[truth.get((ag, r[mp["local_id"]]))].append(y)
    n = same = diff = one = none = 0
    for ys in years.values():
        for a, b in itertools.combinations(ys, 2):
            n += 1
            if a and b:
                same += a == b
                diff += a != b
            elif a or b:
                one += 1
            else:
                none += 1
    print("rows %d, without a year of birth %d" % (rows, missing))
    print("true pairs %d: same year %d, different year %d, year on one side only %d, "
          "on neither %d" % (n, same, diff, one, none))


if __name__ == "__main__":
    main()
