#!/usr/bin/env python3
"""How many household members the linker merges wrongly (issue 15).

Household members are different persons in the truth whose records share a
family name and an address (postcode), the case a linker must never merge:
twins (the same date of birth as well), a partner with the same family name,
adult children, siblings. This script finds them in a `wyelink demo` folder
from the extracts themselves (read through their column maps, not from the
generator's internals), then counts the pairs the linker put into one
person: twins (a shared date of birth), partners (different sexes), and the
rest (adult children, siblings); and, of all the pairs of different persons
the linker joined, how many are household members.

Only counts are printed, never a value from an extract.

Usage (from the source root, after `build/programs/wyelink demo --out D`):
  python3 bench/quality/household_check.py D [D2 ...]
"""
import csv
import itertools
import json
import os
import re
import sys
from collections import defaultdict

MONTHS = {m: i + 1 for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split())}
TITLES = {"MR", "MRS", "MISS", "MS", "DR"}


def letters(s):
    return re.sub(r"[^A-Z]", "", s.upper())


def parse_date(s, fmt, extract_year):
    s = s.strip()
    try:
        if fmt == "DD/MM/YYYY":
            d, m, y = s.split("/")
        elif fmt == "DD.MM.YYYY":
            d, m, y = s.split(".")
        elif fmt == "YYYY-MM-DD":
            y, m, d = s.split("-")
        elif fmt == "YYYYMMDD":
            y, m, d = s[:4], s[4:6], s[6:8]
        elif fmt == "DD-Mon-YYYY":
            d, mon, y = s.split("-")
            m = MONTHS[mon.lower()]
        elif fmt == "DD/MM/YY":
            d, m, yy = s.split("/")
            y = int(yy) + (2000 if int(yy) <= extract_year % 100 else 1900)
        else:
            return None
        return (int(y), int(m), int(d))
    except (ValueError, KeyError):
        return None


def family_from(entry, value):
    """The family name of a row, from a family_name field or a split one."""
    if entry.get("field") == "family_name":
        return letters(value)
    split = entry.get("split")
    if split == "surname_comma_forename":
        return letters(value.split(",")[0])
    if split == "forename_surname":
        words = [w for w in value.split() if letters(w) not in TITLES]
        return letters(words[-1]) if len(words) > 1 else ""
    return None


def read_agency(data, agency, extract_year=2023):
    """(local_id, family, postcode, dob, sex) for each row of an extract."""
    with open(os.path.join(data, agency + ".map.json"), encoding="utf-8") as f:
        cmap = json.load(f)
    enc = "cp1252" if cmap.get("encoding") == "windows-1252" else "utf-8-sig"
    rows = []
    with open(os.path.join(data, agency + ".csv"), encoding=enc, newline="") as f:
        for r in csv.DictReader(f):
            fam = pc = dob = sex = None
            for e in cmap["columns"]:
                v = r.get(e["column"], "")
                got = family_from(e, v)
                if got is not None:
                    fam = got
                elif e.get("field") == "postcode":
                    p = re.sub(r"\s", "", v.upper())
                    pc = p if re.fullmatch(r"[A-Z]{1,2}[0-9][0-9A-Z]?[0-9][A-Z]{2}", p) else ""
                elif e.get("field") == "date_of_birth":
                    dob = parse_date(v, e.get("date_format"), extract_year)
                elif e.get("field") == "sex":
                    sex = e["values"].get(v) if "values" in e else v.strip().upper()[:1]
            rows.append((r[cmap["local_id"]], fam or "", pc or "", dob, sex))
    return rows


def check(demo):
    data = os.path.join(demo, "data")
    truth = {}
    with open(os.path.join(data, "truth.csv"), newline="") as f:
        for r in csv.DictReader(f):
            truth[(r["agency"], r["local_id"])] = r["person"]
    pred = {}
    with open(os.path.join(demo, "linkage-unit", "result", "persons.csv"), newline="") as f:
        for r in csv.DictReader(f):
            pred[(r["agency"], r["record"])] = r["person"]
    agencies = sorted({a for a, _ in truth})
    # (family, postcode) -> {true person: set of dates of birth}
    homes = defaultdict(lambda: defaultdict(set))
    sexes = defaultdict(set)
    # true person -> predicted persons of its records, and back
    pred_of = defaultdict(set)
    true_of = defaultdict(set)
    for a in agencies:
        lmap = {}
        with open(os.path.join(demo, "keys", a, a + ".local-map.csv"), newline="") as f:
            for r in csv.DictReader(f):
                lmap[r["local_id"]] = r["record"]
        for lid, fam, pc, dob, sex in read_agency(data, a):
            person = truth[(a, lid)]
            rec = lmap.get(lid)
            if rec is not None and (a, rec) in pred:
                pred_of[person].add(pred[(a, rec)])
                true_of[pred[(a, rec)]].add(person)
            if fam and pc:
                homes[(fam, pc)][person].add(dob)
            if sex in ("F", "M"):
                sexes[person].add(sex)
    pairs = {}
    for people in homes.values():
        if len(people) < 2:
            continue
        for p, q in itertools.combinations(sorted(people), 2):
            twin = bool((people[p] & people[q]) - {None})
            pairs[(p, q)] = pairs.get((p, q), False) or twin
    # kind -> [pairs, merged]
    counts = {"twins": [0, 0], "partners": [0, 0], "other": [0, 0]}
    for (p, q), twin in pairs.items():
        kind = "twins" if twin else \
            "partners" if len(sexes[p]) == 1 and len(sexes[q]) == 1 and sexes[p] != sexes[q] \
            else "other"
        counts[kind][0] += 1
        counts[kind][1] += bool(pred_of[p] & pred_of[q])
    wrong = set()
    for people in true_of.values():
        wrong.update(itertools.combinations(sorted(people), 2))
    return counts, len(wrong), len(wrong & set(pairs))


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) > 1 else 2
    print("%-12s %15s %15s %15s %22s" % ("demo", "twins merged", "partners merged",
                                            "others merged", "wrong person pairs"))
    for demo in sys.argv[1:]:
        c, wrong, household = check(demo)
        cells = ["%5d of %5d" % (c[k][1], c[k][0]) for k in ("twins", "partners", "other")]
        print("%-12s %15s %15s %15s %9d (%d household)" % (
            os.path.basename(demo.rstrip("/"))[:12], *cells, wrong, household))
    return 0


if __name__ == "__main__":
    sys.exit(main())
