#!/usr/bin/env python3
"""Write the hardening variants measured in protocols/PRIVACY.md.

Each variant is protocols/default.json with one change of hardening and/or
of which parts the record carries, under its own protocol name (so its own
fingerprint). Run from the source root:  python3 bench/privacy/make_variants.py
writes the round-2 variants (fh-*: field filters hardened as well); with
--round1 also the 22 of round 1 (ff-*, rec-*) from default.json, which must
then be as at commit f9ae705. The files are committed; this script documents
exactly how they were made.
"""
import copy
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "protocols", "variants")

HARDENING = {
    "none": {},
    "bal": {"balancing": True},
    "xor": {"xor_fold": True},
    "salt": {"salting": {"field": "date_of_birth", "part": "year"}},
    "diff4": {"diffusion": {"t": 4, "bits": 1024}},
    "diff8": {"diffusion": {"t": 8, "bits": 1024}},
    "salt-bal": {"salting": {"field": "date_of_birth", "part": "year"}, "balancing": True},
    "salt-xor": {"salting": {"field": "date_of_birth", "part": "year"}, "xor_fold": True},
    "salt-diff4": {"salting": {"field": "date_of_birth", "part": "year"},
                   "diffusion": {"t": 4, "bits": 1024}},
    "bal-xor": {"balancing": True, "xor_fold": True},
    "saltdob": {"salting": {"field": "date_of_birth", "part": "whole"}},
}

# Which parts the record carries besides the record-level filter:
#   ff  field filters and exact digests (as the current default)
#   rec no field filters; exact digests of date of birth and NHS number
LAYOUTS = ["ff", "rec"]


def variant(base, layout, hard):
    p = copy.deepcopy(base)
    p["name"] = "wyelink-da-v-%s-%s" % (layout, hard)
    p["description"] = ("Privacy variant (protocols/PRIVACY.md): layout %s, hardening %s. "
                        "Made by bench/privacy/make_variants.py from default.json." % (layout, hard))
    if layout == "rec":
        for f in p["fields"]:
            f.pop("field_filter_bits", None)
            f.pop("field_filter_k", None)
        # former_family_name then contributes nothing: drop it
        p["fields"] = [f for f in p["fields"]
                       if f.get("record_bits", 0) or f.get("exact_digest", False)]
    h = {"salting": False, "balancing": False, "xor_fold": False, "diffusion": False}
    h.update(HARDENING[hard])
    p["hardening"] = h
    return p


# Round 2: field filters hardened too ("field_hardening", PROTOCOL.md).
# Layout fh: the default's record, with field-filter hardening FH and
# record-level hardening REC, named fh-<FH>.r-<REC>.
SALT_YEAR = {"field": "date_of_birth", "part": "year"}
FIELD_HARDENING = {
    "salt": {"salting": SALT_YEAR},
    "xor": {"xor_fold": True},
    "diff2": {"diffusion": {"t": 2}},
    "diff4": {"diffusion": {"t": 4}},
    "salt-xor": {"salting": SALT_YEAR, "xor_fold": True},
    "salt-diff2": {"salting": SALT_YEAR, "diffusion": {"t": 2}},
    "salt-diff4": {"salting": SALT_YEAR, "diffusion": {"t": 4}},
    "saltdob": {"salting": {"field": "date_of_birth", "part": "whole"}},
    "salt-diff8": {"salting": SALT_YEAR, "diffusion": {"t": 8}},
    "salt-xor-diff4": {"salting": SALT_YEAR, "xor_fold": True, "diffusion": {"t": 4}},
}
FH_VARIANTS = [
    # field filters hardened alone (record-level filter as the default)
    ("salt", "none"), ("xor", "none"), ("diff4", "none"), ("salt-xor", "none"),
    # salted field filters with an unsalted record-level filter, which the
    # linker then scores as a fallback where salt groups may differ
    ("salt", "bal"), ("salt", "xor"), ("salt", "diff4"),
    ("salt-xor", "bal"), ("salt-diff2", "bal"),
    # both salted (no fallback)
    ("salt", "salt-xor"), ("salt-xor", "salt-xor"), ("salt-diff2", "salt-xor"),
    ("salt-diff4", "salt-diff4"), ("salt", "salt"), ("salt-diff2", "salt-diff4"),
    ("saltdob", "saltdob"),
    # deterministic field-filter hardening with a hardened record-level filter
    ("diff4", "diff4"),
    # stronger field-filter hardening (added after the first results: the
    # re-encoding graph attack on the field filters was the worst target)
    ("salt-diff8", "salt-diff4"), ("salt-xor-diff4", "salt-diff4"),
]


def fh_variant(base, ffh, rech):
    """base: protocols/variants/ff-none.json (the default's encoding of round
    1, kept fixed so these files do not move when default.json gains fields)."""
    p = copy.deepcopy(base)
    p["name"] = "wyelink-da-v-fh-%s.r-%s" % (ffh, rech)
    p["description"] = ("Privacy variant (protocols/PRIVACY.md, round 2): field filters hardened "
                        "(%s), record-level filter hardened (%s). Made by "
                        "bench/privacy/make_variants.py from variants/ff-none.json." % (ffh, rech))
    h = {"salting": False, "balancing": False, "xor_fold": False, "diffusion": False}
    h.update(HARDENING[rech])
    p["hardening"] = h
    fh = {"salting": False, "xor_fold": False, "diffusion": False}
    fh.update(FIELD_HARDENING[ffh])
    p["field_hardening"] = fh
    return p


def write(path, p, names):
    with open(path, "w") as f:
        json.dump(p, f, indent=2)
        f.write("\n")
    names.append(path)


def main():
    os.makedirs(OUT, exist_ok=True)
    names = []
    # round 2 (the default run): the fh- variants only
    with open(os.path.join(OUT, "ff-none.json")) as f:
        ffnone = json.load(f)
    for ffh, rech in FH_VARIANTS:
        write(os.path.join(OUT, "fh-%s.r-%s.json" % (ffh, rech)), fh_variant(ffnone, ffh, rech),
              names)
    # the candidate default-2 (protocols/candidates/default-2.json: address and
    # other_id added), as it is, with the round-2 best trade-off, and with the
    # cheapest hardening that meets attack 1's bound (PRIVACY.md section 4)
    cand = os.path.join(ROOT, "protocols", "candidates", "default-2.json")
    if os.path.exists(cand):
        with open(cand) as f:
            d2 = json.load(f)
        for ffh, rech in [(None, "none"), ("salt-diff8", "salt-diff4"), ("salt", "bal")]:
            if ffh:
                p = fh_variant(d2, ffh, rech)
                p["name"] = "wyelink-da-v-d2-fh-%s.r-%s" % (ffh, rech)
                path = os.path.join(OUT, "d2-fh-%s.r-%s.json" % (ffh, rech))
            else:
                p = copy.deepcopy(d2)
                p["name"] = "wyelink-da-v-d2-none"
                path = os.path.join(OUT, "d2-none.json")
            p["description"] = ("Privacy variant (protocols/PRIVACY.md, round 2): the candidate "
                                "default-2 with hardening %s. Made by bench/privacy/"
                                "make_variants.py." % (ffh and "fh-%s.r-%s" % (ffh, rech)
                                                        or "none"))
            write(path, p, names)
    if "--round1" not in sys.argv[1:]:
        print("\n".join(os.path.relpath(n, ROOT) for n in names))
        return 0
    # round 1 (--round1): from the first default, wyelink-da-default-1, as it
    # was then; it is kept byte for byte in protocols/archive
    with open(os.path.join(ROOT, "protocols", "archive", "wyelink-da-default-1.json")) as f:
        base = json.load(f)
    for layout in LAYOUTS:
        for hard in HARDENING:
            write(os.path.join(OUT, "%s-%s.json" % (layout, hard)), variant(base, layout, hard),
                  names)
    print("\n".join(os.path.relpath(n, ROOT) for n in names))

if __name__ == "__main__":
    sys.exit(main())
