#!/usr/bin/env python3
"""The attacker the disclosure rule (linker/DISCLOSURE.md) is tested against.

It reads what wyelink published (a summary.json, and the data-quality
tables of a report) and solves everything in it as one integer program:
every published count with the interval its form allows ("<5" 0..4, 5 5..7,
r r-2..r+2, "suppressed" 5 or more), and every identity that is true by
construction:
  - persons are split by the exact combination of agencies that know them
    (2^n - 1 non-negative whole numbers); unique persons, persons per
    agency, persons by number of agencies, overlaps (pairs) and the UpSet
    intersections are all sums of these;
  - records of an agency >= its persons; records - persons = merges; every
    agency listed knows at least one person (it sent records); the largest
    person has at least one record (these counts' floor is 1, not 0);
  - profiles: for each attribute, a value's persons + the missing <= the
    persons, all values + missing >= the persons; an agency's count of a
    value <= the overall count <= the sum over agencies; the overall
    missing <= the sum of the agencies' missing;
  - data quality: rows read = encoded + rejected = rows counted; present +
    missing + invalid = rows counted; the reasons add up to their total;
    an agency's rows encoded = its records in the summary.
It then asks, for every suppressed count, the least and greatest value it
can take. It is written independently of the C code (linker/disclosure.c), so
that each checks the other.

    attack.py SUMMARY.json [QUALITY.json...]   exit 0: nothing recovered
    attack.py --tables DIR                     the same, on a report's CSV tables
    attack.py --expect-recovery SUMMARY.json   exit 0: something recovered
                                                (the test of the attacker)
Prints only paths of counts and ranges, never a value from an extract.
"""
import csv, itertools, json, math, os, sys

try:
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
except ImportError:  # meson's skip
    print("skipped: scipy is not installed (apt-get install python3-scipy)")
    sys.exit(77)

BASE = 5
INF = math.inf


class Program:
    def __init__(self):
        self.nvars = 0
        self.rows = []      # (dict var->coef, lo, hi)
        self.cells = []     # (path, dict, kind, floor) kind: "small"/"suppressed"
        self.exact_ints = False  # a tree published otherwise: integers are exact

    def var(self):
        self.nvars += 1
        return self.nvars - 1

    def row(self, terms, lo, hi):
        self.rows.append((dict(terms), lo, hi))

    def count(self, path, terms, value, floor=0):
        """A published count: its interval, and remember it if suppressed."""
        terms = dict(terms)
        if isinstance(value, bool) or value is None:
            raise ValueError("%s: not a count" % path)
        if isinstance(value, int) and self.exact_ints:
            self.row(terms, value, value)
        elif isinstance(value, int):
            if value % BASE or value < BASE:
                raise ValueError("%s: not rounded to %d" % (path, BASE))
            lo = BASE if value == BASE else value - BASE // 2
            self.row(terms, lo, value + BASE // 2)
        elif value == "<5":
            self.row(terms, 0, BASE - 1)
            self.cells.append((path, terms, "small", floor))
        elif value == "suppressed":
            self.row(terms, 0, INF)  # may hide a small count too: says nothing
            self.cells.append((path, terms, "suppressed", floor))
        else:
            raise ValueError("%s: unknown published form" % path)

    def solve(self, terms, maximise):
        n = self.nvars
        c = np.zeros(n)
        for v, k in terms.items():
            c[v] = -k if maximise else k
        A = np.zeros((len(self.rows), n))
        lo = np.zeros(len(self.rows))
        hi = np.zeros(len(self.rows))
        for i, (t, l, h) in enumerate(self.rows):
            for v, k in t.items():
                A[i, v] += k
            lo[i], hi[i] = l, h
        res = milp(c, integrality=np.ones(n), bounds=Bounds(np.zeros(n), np.full(n, np.inf)),
                   constraints=LinearConstraint(A, lo, hi))
        if res.status == 0:
            return round(res.fun * (-1 if maximise else 1))
        if res.status == 2:
            raise RuntimeError("the published tables contradict each other")
        return INF if maximise else -INF   # unbounded


def add_summary(p, s):
    agencies = list(s["records"])
    n = len(agencies)
    idx = {a: i for i, a in enumerate(agencies)}
    combos = range(1, 1 << n)
    e = {m: p.var() for m in combos}          # persons known to exactly mask m
    rec = {a: p.var() for a in agencies}

    def persons(pred):
        return {e[m]: 1 for m in combos if pred(m)}

    def mask(names):
        return sum(1 << idx[a] for a in names)

    everyone = persons(lambda m: True)
    for a in agencies:   # an agency listed sent at least one record
        p.count("records." + a, {rec[a]: 1}, s["records"][a], 1)
    if "records_total" in s:
        p.count("records_total", {rec[a]: 1 for a in agencies}, s["records_total"])
    if "unique_persons" in s:
        p.count("unique_persons", everyone, s["unique_persons"])
    at = {}
    for a in agencies:
        at[a] = persons(lambda m, b=1 << idx[a]: m & b)
        p.row({**{rec[a]: 1}, **{v: -1 for v in at[a]}}, 0, INF)
        p.row(at[a], 1, INF)
    for a, v in s.get("persons_per_agency", {}).items():
        p.count("persons_per_agency." + a, at[a], v, 1)
    for k, v in s.get("persons_by_number_of_agencies", {}).items():
        p.count("persons_by_number_of_agencies." + k,
                persons(lambda m, k=int(k): bin(m).count("1") == k), v)
    for i, o in enumerate(s.get("overlaps", [])):
        t = mask(o["agencies"])
        p.count("overlaps[%d]" % i, persons(lambda m, t=t: m & t == t), o["persons"])
    for i, o in enumerate(s.get("intersections", [])):
        p.count("intersections[%d]" % i, {e[mask(o["agencies"])]: 1}, o["persons"])
    links = s.get("links", {})
    if "merges" in links:   # records - persons
        t = {rec[a]: 1 for a in agencies}
        for v in everyone:
            t[v] = -1
        p.count("links.merges", t, links["merges"])
    if "largest_person_records" in links:
        x = p.var()
        p.row({x: 1}, 1, INF)
        p.count("links.largest_person_records", {x: 1}, links["largest_person_records"], 1)
    # profiles
    prof = {}   # (agency or None, attr, value or None) -> var

    def profile(path, tree, who, pop):
        for attr, o in tree.items():
            miss = p.var()
            prof[(who, attr, None)] = miss
            p.count(path + "." + attr + ".missing", {miss: 1}, o["missing"])
            vals = []
            for val, v in o["values"].items():
                x = p.var()
                prof[(who, attr, val)] = x
                vals.append(x)
                p.count(path + "." + attr + ".values." + val, {x: 1}, v)
                t = {x: 1, miss: 1}
                for y in pop:
                    t[y] = t.get(y, 0) - 1
                p.row(t, -INF, 0)
            t = {x: 1 for x in vals + [miss]}
            for y in pop:
                t[y] = t.get(y, 0) - 1
            p.row(t, 0, INF)

    if "persons_by_attribute" in s:
        profile("persons_by_attribute", s["persons_by_attribute"], None, everyone)
    for a, tree in s.get("persons_by_attribute_per_agency", {}).items():
        profile("persons_by_attribute_per_agency." + a, tree, a, at[a])
    for (who, attr, val), x in list(prof.items()):
        if who is not None:
            continue
        parts = [y for (w, at2, v2), y in prof.items()
                 if w is not None and at2 == attr and v2 == val]
        if not parts:
            continue
        t = {x: 1}
        for y in parts:
            t[y] = t.get(y, 0) - 1
        p.row(t, -INF, 0)
        if val is not None:
            for y in parts:
                p.row({y: 1, x: -1}, -INF, 0)
    return rec


def add_quality(p, q, rec, summary):
    a = q["agency"]
    path = "quality." + a
    R, J, C = p.var(), p.var(), p.var()
    same = summary and a in summary["records"] and summary["records"][a] == q["rows_encoded"]
    E = rec[a] if same else p.var()
    p.count(path + ".rows_read", {R: 1}, q["rows_read"])
    p.count(path + ".rows_encoded", {E: 1}, q["rows_encoded"])
    p.count(path + ".rows_rejected", {J: 1}, q["rows_rejected"])
    p.count(path + ".rows_with_fields_counted", {C: 1}, q["rows_with_fields_counted"])
    p.row({R: 1, E: -1, J: -1}, 0, 0)
    p.row({C: 1, R: -1}, 0, 0)

    def reasons(prefix, obj, total):
        t = {total: -1}
        for k, v in obj.items():
            x = p.var()
            p.count(prefix + "." + k, {x: 1}, v)
            t[x] = 1
        p.row(t, 0, 0)

    reasons(path + ".rejected_by_reason", q["rejected_by_reason"], J)
    for group in ("fields", "attributes"):
        for name, t in q.get(group, {}).items():
            if not t.get("mapped"):
                continue
            xs = []
            for part in ("present", "missing", "invalid"):
                x = p.var()
                xs.append(x)
                p.count("%s.%s.%s.%s" % (path, group, name, part), {x: 1}, t[part])
            p.row({xs[0]: 1, xs[1]: 1, xs[2]: 1, C: -1}, 0, 0)
            if "invalid_reasons" in t:
                reasons("%s.%s.%s.invalid_reasons" % (path, group, name), t["invalid_reasons"],
                        xs[2])


def attack(summary, qualities):
    p = Program()
    p.exact_ints = bool(summary) and not str(summary.get("disclosure", "")).startswith("wyelink-sdc-")
    rec = add_summary(p, summary) if summary else {}
    for q in qualities:
        add_quality(p, q, rec, summary)
    recovered = []
    for path, terms, kind, floor in p.cells:
        lo, hi = p.solve(terms, False), p.solve(terms, True)
        if kind == "small":
            ok = lo <= floor and hi >= BASE - 1
        else:
            ok = hi - lo >= BASE - 1
        if not ok:
            recovered.append((path, lo, hi))
    return len(p.cells), recovered


def _csv(folder, name):
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        lines = [l for l in f if not l.startswith("#")]
    return list(csv.DictReader(lines))


def _count(v):
    return int(v) if v.lstrip("-").isdigit() else v


def trees_from_tables(folder):
    """The report's CSV tables, read back into the shapes of the summary and
    the quality summaries: the attacker sees exactly what was published."""
    head = {r["measure"]: r["value"] for r in _csv(folder, "headline.csv")}
    ag = _csv(folder, "agencies.csv")
    s = {"disclosure": "wyelink-sdc-1 (report tables)",
         "records": {r["agency"]: _count(r["records"]) for r in ag},
         "records_total": _count(head["records"]),
         "unique_persons": _count(head["unique persons"]),
         "persons_per_agency": {r["agency"]: _count(r["persons"]) for r in ag},
         "persons_by_number_of_agencies": {r["agencies"]: _count(r["persons"])
                                           for r in _csv(folder, "persons_by_number_of_agencies.csv")},
         "overlaps": [{"agencies": [r["agency_a"], r["agency_b"]], "persons": _count(r["persons"])}
                      for r in _csv(folder, "overlaps.csv")],
         "intersections": [{"agencies": r["agencies"].split(" + "), "persons": _count(r["persons"])}
                           for r in _csv(folder, "intersections.csv")],
         "persons_by_attribute": {}, "persons_by_attribute_per_agency": {}, "links": {}}
    names = list(s["records"])
    for fn in sorted(os.listdir(folder)):
        if not fn.startswith("profile_"):
            continue
        rows = _csv(folder, fn)
        attr = fn[len("profile_"):-len(".csv")]
        for col in ["all agencies"] + names:
            if rows and col not in rows[0]:
                continue
            o = {"values": {r["value"]: _count(r[col]) for r in rows if r["value"] != "missing"},
                 "missing": _count([r[col] for r in rows if r["value"] == "missing"][0])}
            if col == "all agencies":
                s["persons_by_attribute"][attr] = o
            else:
                s["persons_by_attribute_per_agency"].setdefault(col, {})[attr] = o
    link = {r["measure"]: r["value"] for r in _csv(folder, "linkage.csv")}
    if "merges (records - persons)" in link:
        s["links"]["merges"] = _count(link["merges (records - persons)"])
    if "records of the largest person" in link:
        s["links"]["largest_person_records"] = _count(link["records of the largest person"])
    qs = {}
    for r in _csv(folder, "quality_rows.csv"):
        qs[r["agency"]] = {"agency": r["agency"], "rows_read": _count(r["rows_read"]),
                           "rows_encoded": _count(r["rows_encoded"]),
                           "rows_rejected": _count(r["rows_refused"]),
                           "rows_with_fields_counted": _count(r["rows_read"]),
                           "rejected_by_reason": {}, "fields": {}, "attributes": {}}
    for r in _csv(folder, "quality_refused.csv"):
        qs[r["agency"]]["rejected_by_reason"][r["reason"]] = _count(r["rows"])
    for r in _csv(folder, "quality_fields.csv"):
        group = "fields" if r["kind"] == "field" else "attributes"
        mapped = r["present"] != "no column"
        t = {"mapped": mapped}
        if mapped:
            t.update(present=_count(r["present"]), missing=_count(r["missing"]),
                     invalid=_count(r["invalid"]), invalid_reasons={})
        qs[r["agency"]][group][r["name"]] = t
    for r in _csv(folder, "quality_invalid.csv"):
        q = qs[r["agency"]]
        t = q["fields" if r["kind"] == "field" else "attributes"][r["name"]]
        t["invalid_reasons"][r["reason"]] = _count(r["rows"])
    return s, list(qs.values())


def main(argv):
    expect = argv[1:2] == ["--expect-recovery"]
    files = argv[2:] if expect else argv[1:]
    if files[:1] == ["--tables"]:
        summary, qualities = trees_from_tables(files[1])
        trees = [summary] + qualities
    else:
        trees = [json.load(open(f)) for f in files]
    summary = trees[0] if trees and "records" in trees[0] else None
    qualities = [t for t in trees if t is not summary]
    for t in trees:
        if t.get("disclosure") == "exact" or t.get("small_counts") == "exact":
            print("%s: exact counts (internal use), nothing to attack" % "tree")
            return 1
    n, recovered = attack(summary, qualities)
    for path, lo, hi in recovered:
        print("recovered: %s lies in [%s, %s]" % (path, lo, hi))
    print("attacked %d suppressed counts: %d narrowed below %d values" % (n, len(recovered), BASE))
    if expect:
        return 0 if recovered else 1
    return 1 if recovered else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
