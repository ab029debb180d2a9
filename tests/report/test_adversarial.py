#!/usr/bin/env python3
"""The disclosure rule against the attacker on small, adversarial tables.

Random small populations (2 to 4 agencies, a few to a few hundred persons,
profiles per agency and overall, and tables where rounding errors line up)
are summarised exactly as wyelink link does, published by the rule
(sdc_tool, the C library) and attacked (attack.py, scipy). Every suppressed
count must keep at least 5 possible values. The same tables published by
rounding alone (no secondary suppression) must be broken at least once:
otherwise these tables would not test anything.

    test_adversarial.py SDC_TOOL [CASES]
"""
import collections, itertools, json, os, random, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attack  # noqa: E402

ATTRS = {"sex": ["F", "M", "X"], "age_band": ["16-24", "25-44", "45+"]}


def population(rng):
    n = rng.randint(2, 4)
    names = ["ag%d" % i for i in range(n)]
    persons = []
    big = rng.choice([0, 6, 8, 13, 22, 47, 103, 212])
    for _ in range(big):  # a large group: rounding errors that line up
        persons.append({names[0]})
    for _ in range(rng.randint(0, 40)):
        k = rng.choice([1, 1, 1, 2, 2, 3, n])
        persons.append(set(rng.sample(names, min(k, n))))
    for a in names:  # every agency linked sent someone
        if not any(a in s for s in persons):
            persons.append({a})
    people = []
    for s in persons:
        recs = []
        for a in sorted(s):
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                recs.append((a, {at: rng.choice(v + [None] * rng.randint(0, 2))
                                 for at, v in ATTRS.items()}))
        people.append(recs)
    return names, people


def exact_summary(names, people):
    recs = collections.Counter(a for p in people for a, _ in p)
    sets = [frozenset(a for a, _ in p) for p in people]
    excl = collections.Counter(sets)

    def prof(sel):
        out = {}
        for at, vals in ATTRS.items():
            counts = {v: 0 for v in vals}
            missing = 0
            for p in people:
                got = {r[at] for a, r in p if sel(a)} - {None}
                if not any(sel(a) for a, _ in p):
                    continue
                if not got:
                    missing += 1
                for v in got:
                    counts[v] += 1
            out[at] = {"values": counts, "missing": missing}
        return out

    return {
        "small_counts": "exact",
        "records": {a: recs[a] for a in names},
        "records_total": sum(recs.values()),
        "unique_persons": len(people),
        "persons_per_agency": {a: sum(a in s for s in sets) for a in names},
        "persons_by_number_of_agencies": {str(k): sum(len(s) == k for s in sets)
                                          for k in range(1, len(names) + 1)},
        "overlaps": [{"agencies": [x, y], "persons": sum(x in s and y in s for s in sets)}
                     for x, y in itertools.combinations(names, 2)],
        "intersections": [{"agencies": list(c), "persons": excl[frozenset(c)]}
                          for k in range(1, len(names) + 1)
                          for c in itertools.combinations(names, k)],
        "persons_by_attribute": prof(lambda a: True),
        "persons_by_attribute_per_agency": {x: prof(lambda a, x=x: a == x) for x in names},
        "links": {"merges": sum(recs.values()) - len(people),
                  "largest_person_records": max((len(p) for p in people), default=0)},
    }


def naive(tree):
    """Rounding and <5 alone, with no secondary suppression."""
    if isinstance(tree, dict):
        return {k: naive(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [naive(v) for v in tree]
    if isinstance(tree, int) and not isinstance(tree, bool):
        return "<5" if tree < 5 else (tree + 2) // 5 * 5
    return tree


def main():
    tool = sys.argv[1]
    cases = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    rng = random.Random(17)
    tmp = tempfile.mkdtemp(prefix="wye_sdc_")
    failed = naive_broken = secondary = 0
    for case in range(cases):
        names, people = population(rng)
        exact = exact_summary(names, people)
        src, dst = os.path.join(tmp, "exact.json"), os.path.join(tmp, "published.json")
        json.dump(exact, open(src, "w"))
        run = subprocess.run([tool, src, dst], capture_output=True, text=True)
        if run.returncode != 0:
            print("case %d: sdc_tool failed: %s" % (case, run.stderr.strip()))
            failed += 1
            continue
        published = json.load(open(dst))
        secondary += json.dumps(published).count('"suppressed"')
        n, recovered = attack.attack(published, [])
        for path, lo, hi in recovered:
            print("case %d: recovered %s in [%s, %s]" % (case, path, lo, hi))
        failed += bool(recovered)
        nv = naive(exact)
        nv["disclosure"] = "wyelink-sdc-naive"
        try:
            _, rn = attack.attack(dict(nv, disclosure="wyelink-sdc-1"), [])
            naive_broken += bool(rn)
        except RuntimeError:
            pass
    print("%d tables: rule held on %d, %d secondary suppressions; rounding alone broken on %d"
          % (cases, cases - failed, secondary, naive_broken))
    if naive_broken == 0:
        print("rounding alone was never broken: the tables are not adversarial")
        failed += 1
    print("%d passed, %d failed" % (cases - failed if failed <= cases else 0, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
