#!/usr/bin/env python3
"""Linkage-quality benchmark (issue 7, "Quality benchmark"; results in
bench/RESULTS.md, "Linkage quality (F1)").

Runs the real pipeline through the wyelink program, as the parties would:
keys, `wyelink hash` per agency, `wyelink link` with the default automatic
thresholds, `wyelink eval` against the ground truth. Nothing is tuned on the
truth. Data sets:

  synth       wyelink synth --scale 1, seeds 1-5 (seven agencies): mean, worst
  febrl4      ../shared/data/febrl/dataset4a.csv vs dataset4b.csv (two parties)
              (FEBRL's map feeds address and other_id; with a protocol that
              lacks them, such as protocols/default.json, those columns are
              dropped from the map, as that protocol's map would not name them)
  febrl3      ../shared/data/febrl/dataset3.csv (deduplication, one party)
  historical  ../shared/data/splink_datasets/historical_figures_with_errors_50k.csv
              (deduplication, one party)

Usage (from the source root):
  python3 bench/quality/run_quality.py --build build [--protocol FILE]
      [--datasets synth,febrl4,febrl3,historical] [--seeds 1,2,3,4,5]
      [--scale F] [--threads N] [--work DIR] [--reuse] [--json FILE]
      [--random-secret]

--scale sets the synthetic scale (1 = one county's year, about 5,400
records; 10 and 100 for the scaling runs of bench/quality/FIT.md).
--reuse (with --work) keeps the extracts and encoded files a previous run
left in DIR and runs only `wyelink link` and `wyelink eval` again: for
measuring linker changes without hashing again.

The linkage secret is a fixed test secret unless --random-secret, so reruns
give the same figures.

Prints one line per run and a summary; with --json writes every figure.
Uses only the Python standard library. Prints counts and scores only.
"""
import argparse
import base64
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("WYELINK_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
MAPS = os.path.join(ROOT, "bench", "quality", "maps")
EXTRACT_DATE = "2023-03-31"
# FEBRL was published in 2008 and its dates of birth run from 1900 to 1999:
# extracts of that time. (With 2023 the normaliser refuses the dates before
# 1903 as more than 120 years before the extract date.)
FEBRL_EXTRACT_DATE = "2008-01-01"
SYNTH_AGENCIES = ["police", "gp", "asc", "wmwa", "marac", "idva", "housing"]


class Runner:
    def __init__(self, exe, work, protocol, threads, fixed_secret=True, reuse=False):
        self.exe = exe
        self.reuse = reuse
        self.work = work
        self.protocol = protocol
        self.threads = str(threads)
        self.keys = os.path.join(work, "keys")
        self.trust = os.path.join(work, "trust")
        os.makedirs(self.keys, exist_ok=True)
        os.makedirs(self.trust, exist_ok=True)
        self.fields = set(f["name"] for f in json.load(open(protocol))["fields"])
        self.party("custodian", "custodian")
        self.party("linkage-unit", "linkage-unit")
        self.secret = os.path.join(self.keys, "linkage.secret")
        if reuse and os.path.exists(self.secret):
            pass
        elif fixed_secret:
            # A fixed test secret (bytes 10 11 .. 2f, as bench/privacy uses) so
            # that reruns give the same encodings and the same figures; the
            # file is what `wyelink keys secret` writes (KEYS.md).
            key = bytes(range(0x10, 0x30))
            kid = hashlib.blake2b(b"", digest_size=32, key=key,
                                  person=b"wyelink.keyid.v1").hexdigest()[:16]
            fd = os.open(self.secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write('{\n  "kind": "wyelink-linkage-secret",\n  "version": 1,\n'
                        '  "key_id": "%s",\n  "secret": "%s"\n}\n' %
                        (kid, base64.b64encode(key).decode()))
        else:
            self.run("keys", "secret", "--out", self.secret,
                     "--key", os.path.join(self.keys, "custodian.key"), party="custodian")

    def run(self, *args, party=None):
        """Run a command; party (the signer) names its own audit log."""
        cmd = [self.exe] + list(args)
        if party:
            cmd += ["--audit-log", os.path.join(self.keys, party + ".audit.log")]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.stderr.write(p.stderr)
            raise RuntimeError("wyelink %s failed (exit %d)" % (args[0], p.returncode))
        self.last_stderr = p.stderr
        return p.stdout

    def party(self, name, role):
        if not os.path.exists(os.path.join(self.keys, name + ".key")):
            self.run("keys", "create", "--name", name, "--role", role, "--out", self.keys,
                     party=name)
        if role == "agency":
            shutil.copy(os.path.join(self.keys, name + ".pub"),
                        os.path.join(self.trust, name + ".pub"))

    def map_for_protocol(self, src, dst):
        """The agency's column map without columns for fields the protocol
        does not have (its map for that protocol would not name them)."""
        m = json.load(open(src))
        m["columns"] = [c for c in m["columns"]
                        if "field" not in c or c["field"] in self.fields]
        with open(dst, "w") as f:
            json.dump(m, f, indent=1)
        return dst

    def hash(self, agency, csv_path, map_path, outdir, extract_date=EXTRACT_DATE):
        self.party(agency, "agency")
        wye = os.path.join(outdir, agency + ".wye")
        local = os.path.join(outdir, agency + ".local-map.csv")
        summary = os.path.join(outdir, agency + ".quality.json")
        if self.reuse and os.path.exists(wye) and os.path.exists(local):
            return wye, local
        m = self.map_for_protocol(map_path, os.path.join(outdir, agency + ".map.json"))
        self.run("hash", "--input", csv_path, "--map", m, "--protocol", self.protocol,
                 "--secret", self.secret, "--key", os.path.join(self.keys, agency + ".key"),
                 "--to", os.path.join(self.keys, "linkage-unit.pub"), "--out", wye,
                 "--local-map", local, "--summary-json", summary,
                 "--extract-date", extract_date, "--threads", self.threads, "--quiet",
                 party=agency)
        return wye, local

    def link_eval(self, wyes, locals_, truth, outdir):
        res = os.path.join(outdir, "result")
        shutil.rmtree(res, ignore_errors=True)
        trust = os.path.join(outdir, "trust")
        os.makedirs(trust, exist_ok=True)
        for a in locals_:
            shutil.copy(os.path.join(self.keys, a + ".pub"), os.path.join(trust, a + ".pub"))
        t0 = time.time()
        self.run("link", "--key", os.path.join(self.keys, "linkage-unit.key"),
                 "--trust", trust, "--out", res, "--protocol", self.protocol,
                 "--threads", self.threads, "--quiet", *wyes, party="linkage-unit")
        secs = time.time() - t0
        warnings = [l for l in self.last_stderr.splitlines() if "warning" in l]
        ev = os.path.join(outdir, "eval.json")
        args = ["eval", "--persons", os.path.join(res, "persons.csv"), "--truth", truth,
                "--json", ev, "--quiet"]
        for a, lm in locals_.items():
            args += ["--local-map", "%s=%s" % (a, lm)]
        self.run(*args)
        r = json.load(open(ev))
        summ = json.load(open(os.path.join(res, "summary.json")))
        r["link_seconds"] = round(secs, 2)
        r["summary_thresholds"] = summ.get("thresholds", summ.get("model", {}))
        model = summ.get("model", {})
        r["expected_matches"] = model.get("expected_matches")
        r["model"] = model
        r["link_warnings"] = warnings
        r["summary_persons"] = summ.get("unique_persons")
        return r


def febrl_person(rec_id):
    m = re.match(r"rec-(\d+)-", rec_id.strip())
    return m.group(1) if m else rec_id.strip()


def write_truth(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["agency", "local_id", "person"])
        for r in rows:
            w.writerow(r)


def read_ids(path, id_col, person_of):
    with open(path, newline="", encoding="utf-8") as f:
        rd = csv.reader(f, skipinitialspace=True)
        head = [h.strip() for h in next(rd)]
        i = head.index(id_col)
        out = []
        for row in rd:
            if not row:
                continue
            out.append((row[i].strip(), person_of(row)))
        return out


def run_synth(R, seed, work, scale="1"):
    d = os.path.join(work, "synth-%d" % seed if scale == "1" else
                     "synth-s%s-%d" % (scale, seed))
    data = os.path.join(d, "data")
    os.makedirs(d, exist_ok=True)
    if not (R.reuse and os.path.exists(os.path.join(data, "truth.csv"))):
        R.run("synth", "--seed", str(seed), "--scale", scale, "--out", data, "--quiet",
              "--threads", R.threads)
    wyes, locs = [], {}
    for a in SYNTH_AGENCIES:
        w, lm = R.hash(a, os.path.join(data, a + ".csv"), os.path.join(data, a + ".map.json"), d)
        wyes.append(w)
        locs[a] = lm
    return R.link_eval(wyes, locs, os.path.join(data, "truth.csv"), d)


def run_febrl4(R, work):
    d = os.path.join(work, "febrl4")
    os.makedirs(d, exist_ok=True)
    rows, wyes, locs = [], [], {}
    for part, agency in (("a", "febrl4a"), ("b", "febrl4b")):
        src = os.path.join(SHARED, "febrl", "dataset4%s.csv" % part)
        ids = read_ids(src, "rec_id", lambda r: febrl_person(r[0]))
        rows += [(agency, i, p) for i, p in ids]
        w, lm = R.hash(agency, src, os.path.join(MAPS, "febrl.map.json"), d, FEBRL_EXTRACT_DATE)
        wyes.append(w)
        locs[agency] = lm
    truth = os.path.join(d, "truth.csv")
    write_truth(truth, rows)
    return R.link_eval(wyes, locs, truth, d)


def run_dedup(R, work, name, src, map_name, id_col, person_of, extract_date, parties=1):
    """Deduplication of one file: by default one party NAME-1 holds every
    row and `wyelink link` links that one file. With parties=2 the rows are
    dealt alternately to two parties NAME-1 and NAME-2 (how this was measured
    before `wyelink link` took a single file; the linker deduplicates within
    and across parties alike, its clustering stricter within a party, see
    LINKING.md)."""
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    with open(src, newline="", encoding="utf-8") as f:
        rd = csv.reader(f)
        head = next(rd)
        rows = [r for r in rd if r]
    clean = [h.strip() for h in head]
    i = clean.index(id_col)
    truth_rows, wyes, locs = [], [], {}
    for k in range(1, parties + 1):
        agency = "%s-%d" % (name, k)
        part = os.path.join(d, agency + ".csv")
        with open(part, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(head)
            for j, r in enumerate(rows):
                if j % parties == k - 1:
                    w.writerow(r)
                    truth_rows.append((agency, r[i].strip(), person_of(r)))
        wf, lm = R.hash(agency, part, os.path.join(MAPS, map_name), d, extract_date)
        wyes.append(wf)
        locs[agency] = lm
    truth = os.path.join(d, "truth.csv")
    write_truth(truth, truth_rows)
    return R.link_eval(wyes, locs, truth, d)


def brief(r):
    return ("F1 %.4f  precision %.4f  recall %.4f  records %d  not encoded %d  "
            "persons %d (true %d)  link %.1f s" %
            (r["f1"], r["precision"], r["recall"], r["records"], r.get("not_encoded", 0),
             r["predicted_persons"], r["true_persons"], r["link_seconds"]) +
            ("  expected matches %.0f" % r["expected_matches"]
             if r.get("expected_matches") is not None else "") +
            ("  (fit implausible)" if any("implausible" in w
                                           for w in r.get("link_warnings", [])) else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--protocol", default=os.path.join(ROOT, "protocols", "default.json"))
    ap.add_argument("--datasets", default="synth,febrl4,febrl3,historical")
    ap.add_argument("--dedup-parties", type=int, choices=(1, 2), default=1,
                    help="deduplication sets: one file (default), or dealt to two "
                         "parties as measured before wyelink link took one file")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--scale", default="1", help="synthetic scale (default 1)")
    ap.add_argument("--reuse", action="store_true",
                    help="with --work: keep the extracts and encoded files of a previous "
                    "run there and only link and evaluate again")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default=None, help="folder for keys, encoded files, results "
                    "(default: a new temporary folder, removed at the end)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--random-secret", action="store_true",
                    help="a new secret from `wyelink keys secret` instead of the fixed test "
                    "secret (figures then vary a little from run to run)")
    a = ap.parse_args()
    exe = os.path.join(a.build, "wyelink")
    if not os.access(exe, os.X_OK):
        exe = os.path.join(a.build, "programs", "wyelink")
    if not os.access(exe, os.X_OK):
        sys.exit("run_quality: no wyelink program in '%s'" % a.build)
    work = a.work or tempfile.mkdtemp(prefix="wyelink-quality-")
    os.makedirs(work, exist_ok=True)
    if a.reuse and not a.work:
        sys.exit("run_quality: --reuse needs --work")
    R = Runner(os.path.abspath(exe), work, os.path.abspath(a.protocol), a.threads,
               not a.random_secret, a.reuse)
    sets = a.datasets.split(",")
    out = {"protocol": os.path.relpath(os.path.abspath(a.protocol), ROOT), "results": {}}
    print("protocol: %s (%s)" % (out["protocol"], json.load(open(a.protocol))["name"]),
          flush=True)
    try:
        if "synth" in sets:
            f1s = []
            for s in [int(x) for x in a.seeds.split(",")]:
                r = run_synth(R, s, work, a.scale)
                out["results"]["synth-scale%s-seed%d" % (a.scale, s) if a.scale != "1"
                               else "synth-seed%d" % s] = r
                f1s.append(r["f1"])
                print("synth scale %s seed %d: %s" % (a.scale, s, brief(r)), flush=True)
            out["results"]["synth"] = {"mean_f1": sum(f1s) / len(f1s), "worst_f1": min(f1s),
                                       "seeds": len(f1s)}
            print("synth: mean F1 %.4f, worst %.4f over %d seeds" %
                  (sum(f1s) / len(f1s), min(f1s), len(f1s)), flush=True)
        if "febrl4" in sets:
            r = run_febrl4(R, work)
            out["results"]["febrl4"] = r
            print("febrl4: %s" % brief(r), flush=True)
        if "febrl3" in sets:
            r = run_dedup(R, work, "febrl3", os.path.join(SHARED, "febrl", "dataset3.csv"),
                          "febrl.map.json", "rec_id", lambda row: febrl_person(row[0]),
                          FEBRL_EXTRACT_DATE, a.dedup_parties)
            out["results"]["febrl3"] = r
            print("febrl3: %s" % brief(r), flush=True)
        if "historical" in sets:
            r = run_dedup(R, work, "historical",
                          os.path.join(SHARED, "splink_datasets",
                                       "historical_figures_with_errors_50k.csv"),
                          "historical.map.json", "unique_id", lambda row: row[1],
                          EXTRACT_DATE, a.dedup_parties)
            out["results"]["historical"] = r
            print("historical: %s" % brief(r), flush=True)
    finally:
        if a.json:
            with open(a.json, "w") as f:
                json.dump(out, f, indent=1)
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
