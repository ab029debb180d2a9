#!/usr/bin/env python3
"""Write the hardening variants measured in protocols/PRIVACY.md.

Each variant is protocols/default.json with one change of hardening and/or
of which parts the record carries, under its own protocol name (so its own
fingerprint). Run from the source root:  python3 bench/privacy/make_variants.py
The files are committed; this script documents exactly how they were made.
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


def main():
    with open(os.path.join(ROOT, "protocols", "default.json")) as f:
        base = json.load(f)
    os.makedirs(OUT, exist_ok=True)
    names = []
    for layout in LAYOUTS:
        for hard in HARDENING:
            p = variant(base, layout, hard)
            path = os.path.join(OUT, "%s-%s.json" % (layout, hard))
            with open(path, "w") as f:
                json.dump(p, f, indent=2)
                f.write("\n")
            names.append(path)
    print("\n".join(os.path.relpath(n, ROOT) for n in names))


if __name__ == "__main__":
    sys.exit(main())
