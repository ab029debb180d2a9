#!/usr/bin/env python3
"""End to end: run `wyelink demo`, then `wyelink map check` on every
agency's extract (as printed, and its summary JSON), also on an extract
whose code columns hold identifiers on a few rows; then search everything
the runs printed or wrote for every identifier that went in. Only the
agencies' own input extracts may hold them; every other output (stdout,
stderr, audit logs, encoded files, data-quality summaries, map checks, local
maps, linkage results) must not.

Identifiers are taken from the columns each agency's column map feeds into
protocol fields, in the forms they were written and in normalised forms
(upper case, postcode without space, NHS number without spaces, dates as
YYYYMMDD and YYYY-MM-DD). Names shorter than four letters are skipped: they
match ordinary words and hex digests too often to mean anything; so are names
that are also words of the program's own text.
"""
import csv, json, os, re, subprocess, sys, tempfile

wyelink = sys.argv[1] if len(sys.argv) > 1 else os.environ["WYELINK"]
out = tempfile.mkdtemp(prefix="wye_e2e_")
run = subprocess.run([wyelink, "demo", "--out", out, "--scale", "0.5", "--seed", "7"],
                     capture_output=True)
printed = run.stdout + run.stderr
if run.returncode != 0:
    sys.stderr.write(printed.decode(errors="replace")[-3000:])
    print("0 passed, 1 failed")
    sys.exit(1)

data = os.path.join(out, "data")
values = set()
months = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
for name in os.listdir(data):
    if not name.endswith(".map.json"):
        continue
    cmap = json.load(open(os.path.join(data, name)))
    wanted = {}
    for c in cmap["columns"]:
        if "field" in c or "split" in c:
            wanted[c["column"]] = c.get("field", "name")
    enc = "cp1252" if cmap.get("encoding") == "windows-1252" else "utf-8-sig"
    with open(os.path.join(data, name[:-len(".map.json")] + ".csv"), newline="", encoding=enc) as f:
        for row in csv.DictReader(f):
            for col, field in wanted.items():
                v = (row.get(col) or "").strip()
                if not v:
                    continue
                if field == "sex":
                    continue  # F/M codes: not identifying, and they match everywhere
                if field in ("date_of_birth",):
                    values.add(v)
                    m = re.match(r"^(\d{1,2})\D(\d{1,2}|[A-Za-z]{3})\D(\d{2,4})$", v)
                    if m and len(m.group(3)) == 4:
                        mo = m.group(2)
                        mo = "%02d" % (months.index(mo.upper()) + 1) if mo.isalpha() else "%02d" % int(mo)
                        d = "%02d" % int(m.group(1))
                        values.add(m.group(3) + mo + d)
                        values.add("%s-%s-%s" % (m.group(3), mo, d))
                elif field == "postcode":
                    values.add(v)
                    values.add(v.replace(" ", "").upper())
                elif field == "nhs_number":
                    values.add(v)
                    values.add(v.replace(" ", ""))
                else:
                    for word in re.split(r"[\s,]+", v):
                        word = word.strip(".'-")
                        if len(word) >= 4:
                            values.add(word)
                            values.add(word.upper())

# `wyelink map check` on each extract through its map, printed and as JSON
# (the demo runs it quietly); once without --extract-date, which warns.
checks = os.path.join(out, "mapcheck")
os.mkdir(checks)
def map_check(csv_path, map_path, name, extra):
    r = subprocess.run([wyelink, "map", "check", "--map", map_path, "--input", csv_path,
                        "--summary-json", os.path.join(checks, name + ".json")] + extra,
                       capture_output=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr.decode(errors="replace")[-2000:])
        print("0 passed, 1 failed")
        sys.exit(1)
    return r.stdout + r.stderr
agencies = sorted(n[:-len(".map.json")] for n in os.listdir(data) if n.endswith(".map.json"))
for i, a in enumerate(agencies):
    printed += map_check(os.path.join(data, a + ".csv"), os.path.join(data, a + ".map.json"), a,
                         ["--extract-date", "2023-03-31"] if i else [])

# The same extract with identifiers where codes belong: a name in the sex
# column and a postcode in the service column on a few rows each (fewer than
# 5 of each value). map check must count them, never show them.
with open(os.path.join(data, "wmwa.csv"), newline="", encoding="utf-8-sig") as f:
    rows = list(csv.reader(f))
head = rows[0]
gcol, scol, ncol, pcol = (head.index(c) for c in ("Gender", "Service", "Full Name", "Postcode"))
planted = 0
for row in rows[1:40]:
    if row[ncol].strip() and row[pcol].strip():
        row[gcol] = row[ncol]          # a whole name as a "code"
        row[scol] = row[pcol]          # a postcode as a "code"
        planted += 1
messy = os.path.join(out, "mapcheck", "wmwa-messy.csv")
with open(messy, "w", newline="", encoding="utf-8") as f:
    csv.writer(f).writerows(rows)
if planted < 10:
    print("too few identifiers planted in code columns (%d)" % planted)
    print("0 passed, 1 failed")
    sys.exit(1)
printed += map_check(messy, os.path.join(data, "wmwa.map.json"), "wmwa-messy",
                     ["--extract-date", "2023-03-31"])
os.remove(messy)  # an input, holding identifiers: not scanned

# Codes the maps themselves name ("Court IDVA") are the agencies' words, not
# identifiers, whatever a name list holds.
map_words = set()
for name in os.listdir(data):
    if name.endswith(".map.json"):
        for c in json.load(open(os.path.join(data, name)))["columns"]:
            for code in (c.get("values") or {}):
                map_words.update(w.encode() for w in re.findall(r"[A-Za-z]{4,}", code))

# A name that is also a word of the program's own text ("Reading" the town,
# "reading" the progress line) cannot be told apart from that text: leave it
# out. The program's words are those of its C sources, but for the
# synthetic-data generator, whose name lists are the inputs themselves.
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
program_words = set()
for folder in ("protocols", "hashing", "linker"):
    for fn in os.listdir(os.path.join(src, folder)):
        if fn.endswith((".c", ".h")):
            program_words.update(re.findall(rb"[A-Za-z]{4,}",
                                            open(os.path.join(src, folder, fn), "rb").read()))
values = {v for v in values if v.encode() not in program_words and v.encode() not in map_words}

if len(values) < 1000:
    print("too few identifiers collected (%d): the test is not testing" % len(values))
    print("0 passed, 1 failed")
    sys.exit(1)

def compile_forms(forms):
    return re.compile(rb"(?<![A-Za-z0-9])(?:" +
                      b"|".join(re.escape(v.encode()) for v in sorted(forms, key=len, reverse=True)) +
                      rb")(?![A-Za-z0-9])")

text_pattern = compile_forms(values)
# Encrypted files are random bytes: a short form turns up in them by chance
# (a 4-letter name in 200 KB of ciphertext about once in five runs), so in
# binary files only forms of 8 bytes or more are searched for.
binary_pattern = compile_forms(v for v in values if len(v) >= 8)

def scan(label, blob):
    pattern = binary_pattern if b"\0" in blob else text_pattern
    m = pattern.search(blob)
    if m:
        # Say where, never what: this test's own output must not leak either.
        print("LEAK: an input identifier (%d bytes) appears in %s at byte %d"
              % (len(m.group(0)), label, m.start()))
        return 1
    return 0

failed = scan("the stdout/stderr of the demo and the map checks", printed)
checked = 1
for root, _, files in os.walk(out):
    for fn in files:
        path = os.path.join(root, fn)
        rel = os.path.relpath(path, out)
        if rel.startswith("data" + os.sep):
            continue  # the agencies' own extracts and maps (inputs), and the truth
        failed += scan(rel, open(path, "rb").read())
        checked += 1
print("searched %d outputs for %d identifier forms" % (checked, len(values)))
print("%d passed, %d failed" % (checked - failed, failed))
sys.exit(1 if failed else 0)
