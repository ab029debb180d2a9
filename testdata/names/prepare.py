#!/usr/bin/env python3
"""Derive the compact name lists under testdata/names/ from the sources in
../shared/data (see SOURCE.md for each source and its licence).

Run once by hand when a source changes:
    python3 testdata/names/prepare.py /work/shared/data testdata/names
The outputs are committed; the build embeds them (embed.py) so that
`wyelink synth` needs no data files at run time.
"""
import collections
import csv
import sys

SRC, OUT = sys.argv[1], sys.argv[2]

# Irish O' surnames: the source list strips the apostrophe (obrien).
O_ROOTS = {
    "brien", "neill", "neil", "connor", "donnell", "sullivan", "leary", "hara",
    "doherty", "hare", "connell", "meara", "shea", "keefe", "keeffe", "kane",
    "reilly", "rourke", "dwyer", "driscoll", "mahony", "mahoney", "callaghan",
    "halloran", "flynn", "grady", "gorman", "hagan", "hanlon", "toole", "dea",
    "dowd", "malley", "regan", "riordan", "donoghue", "donovan", "farrell",
    "loughlin", "mara", "boyle", "brady", "byrne", "carroll", "connolly",
    "dell", "donohoe", "gara", "hagan", "halloran", "higgins", "kelly",
    "keeffe", "leary", "neal", "rorke", "rourke", "sullivan", "day",
}
# "day"/"dell"/"neal" as O' names are rare; keep only those that really are.
O_ROOTS -= {"day", "dell", "neal", "kelly", "higgins", "hagan", "brady",
            "byrne", "carroll", "connolly", "boyle"}


# Mac names written without a capital after the prefix.
MAC_PLAIN = {"mackie", "macey", "mackey", "mackin"}


def titlecase(n):
    return "-".join(p[:1].upper() + p[1:] for p in n.split("-"))


def surname_case(n, mc_roots):
    if n.startswith("mc") and len(n) > 3:
        return "Mc" + n[2:3].upper() + n[3:]
    if n.startswith("mac") and len(n) > 5 and n[3:] in mc_roots and n not in MAC_PLAIN:
        return "Mac" + n[3:4].upper() + n[4:]
    if n.startswith("o") and n[1:] in O_ROOTS:
        return "O'" + n[1:2].upper() + n[2:]
    return titlecase(n)


def alpha(n):
    return n.replace("-", "").replace("'", "").isalpha() and n.isascii()


# Given names: the source is a sample of ONS baby-name rows across 1996-2018;
# pooled by sex (the per-year sample is too thin to keep years apart).
given = {"female": collections.Counter(), "male": collections.Counter()}
with open(f"{SRC}/sdglinkage_uk_names/firstname_uk.csv", newline="") as f:
    for r in csv.DictReader(f):
        n = r["firstname"].strip().lower()
        if r["sex"] in given and alpha(n) and len(n) >= 2 and "'" not in n:
            given[r["sex"]][n] += float(r["freq"])
kept = {}
for sex, c in given.items():
    total = sum(c.values())
    rows, s = [], 0.0
    for n, w in sorted(c.items(), key=lambda x: (-x[1], x[0])):
        rows.append((titlecase(n), max(1, round(w * 1e6))))
        s += w
        if s / total >= 0.97:
            break
    kept[sex] = rows
    with open(f"{OUT}/given_{sex}.csv", "w", newline="") as f:
        f.write("name,weight\n")
        for n, w in rows:
            f.write(f"{n},{w}\n")

# Surnames, merged where the source repeats a name.
sur = collections.Counter()
with open(f"{SRC}/sdglinkage_uk_names/lastname_uk.csv", newline="") as f:
    for r in csv.DictReader(f):
        n = r["surname"].strip().lower()
        if alpha(n) and len(n) >= 2 and "-" not in n:
            sur[n] += float(r["freq"])
mc_roots = {n[2:] for n in sur if n.startswith("mc")}
with open(f"{OUT}/surnames.csv", "w", newline="") as f:
    f.write("name,weight\n")
    for n, w in sorted(sur.items(), key=lambda x: (-x[1], x[0])):
        f.write(f"{surname_case(n, mc_roots)},{max(1, round(w * 1e6))}\n")

# Nicknames and diminutives of the given names we keep: carltonnorthern
# (has_nickname) and Wikidata diminutives/hypocorisms.
names = {n.lower() for rows in kept.values() for n, _ in rows}
pairs = set()
with open(f"{SRC}/nicknames/names.csv", newline="") as f:
    for r in csv.DictReader(f):
        if r["relationship"] == "has_nickname":
            pairs.add((r["name1"].strip().lower(), r["name2"].strip().lower()))
for fn, col in (("scraped_diminutives.csv", "alt_name"), ("hypo_page_0_0_to_4999.csv", "alt_name")):
    with open(f"{SRC}/wikidata_given_name_variants/{fn}", newline="") as f:
        for r in csv.DictReader(f):
            pairs.add((r["original_name"].strip().lower(), r[col].strip().lower()))
with open(f"{OUT}/nicknames.csv", "w", newline="") as f:
    f.write("name,nickname\n")
    for a, b in sorted(pairs):
        if a in names and a != b and alpha(a) and alpha(b) and len(b) >= 2 and " " not in b:
            f.write(f"{titlecase(a)},{titlecase(b)}\n")

# Postcode districts (outward codes); 1 = Herefordshire (the county of the
# scale-1 population).
out = set()
with open(f"{SRC}/uk_postcode_outcodes/postcodes.csv", newline="") as f:
    for r in csv.DictReader(f):
        pc = r["postcode"].strip().upper()
        if pc and pc.isalnum():
            out.add((pc, 1 if r["county"].strip() == "County of Herefordshire" else 0))
with open(f"{OUT}/outcodes.csv", "w", newline="") as f:
    f.write("outcode,local\n")
    for pc, local in sorted(out):
        f.write(f"{pc},{local}\n")
