#!/usr/bin/env python3
"""wyelink report on the demo, end to end, and the attacker on what it and
the summary publish.

  - the report of the demo's linkage (exact summary + quality summaries) is
    written with its tables, and the attacker (attack.py) recovers no
    suppressed count from the tables;
  - the demo's summary as the rule publishes it (sdc_tool, the library
    function wyelink link's summary writer calls) withstands the attacker;
  - the demo's own summary.json: under the rule, the attacker recovers
    nothing and the report accepts it; under the old "<5"-only rule, the
    attacker recovers cell "7" and the report refuses the summary;
  - --exact-small-counts marks every table; two runs give the same bytes;
    the audit entry verifies; misuse exits 2.

    test_report_cli.py WYELINK SDC_TOOL
"""
import filecmp, json, os, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attack  # noqa: E402  (exits 77 without scipy)
import demo_report  # noqa: E402

wyelink, sdc_tool = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp(prefix="wye_report_")
passed = failed = 0


def check(ok, what):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + what)
    passed += bool(ok)
    failed += not ok


d = demo_report.prepare(wyelink, os.path.join(tmp, "demo"))
check(os.path.exists(d["report"]) and os.path.isdir(d["tables"]), "report and tables written")
check("suppressed so that none can be worked out" in d["report_stdout"], "report says what it did")

summary, qualities = attack.trees_from_tables(d["tables"])
n, recovered = attack.attack(summary, qualities)
for path, lo, hi in recovered:
    print("  recovered %s in [%s, %s]" % (path, lo, hi))
check(n > 100 and not recovered, "attacker on the report's tables: %d suppressed, %d narrowed"
      % (n, len(recovered)))

pub = os.path.join(tmp, "published-summary.json")
r = demo_report.run([sdc_tool, os.path.join(d["exact"], "summary.json"), pub])
check(r.returncode == 0, "the rule publishes the demo's exact summary")
if r.returncode == 0:
    n, recovered = attack.attack(json.load(open(pub)), [])
    check(not recovered, "attacker on the published summary: %d suppressed, %d narrowed"
          % (n, len(recovered)))

own = json.load(open(os.path.join(d["result"], "summary.json")))
r = demo_report.run([wyelink, "report", "--result", d["result"], "--out",
                     os.path.join(tmp, "own.html"), "--quiet"])
if str(own.get("disclosure", "")).startswith("wyelink-sdc-"):
    n, recovered = attack.attack(own, [])
    check(not recovered, "attacker on the demo's summary.json: %d suppressed, %d narrowed"
          % (n, len(recovered)))
    check(r.returncode == 0, "the report accepts the demo's summary.json")
else:
    n, recovered = attack.attack(own, [])
    check(any(p == "persons_by_number_of_agencies.7" for p, _, _ in recovered),
          "attacker recovers cell 7 from a summary under the old rule")
    check(r.returncode == 1 and "cannot publish the counts safely" in r.stderr,
          "the report refuses a summary whose suppressed cells can be worked out")

again = os.path.join(tmp, "again.html")
cmd = [wyelink, "report", "--result", d["exact"], "--out", again, "--quiet"]
for q in d["quality"]:
    cmd += ["--quality", q]
r = demo_report.run(cmd)
check(r.returncode == 0 and r.stdout == "" and filecmp.cmp(again, d["report"], shallow=False),
      "a second run writes the same page, quietly")

exact = os.path.join(tmp, "exact.html")
r = demo_report.run([wyelink, "report", "--result", d["exact"], "--out", exact,
                     "--csv-dir", os.path.join(tmp, "exact-csv"), "--exact-small-counts",
                     "--quiet"])
csvs = [os.path.join(tmp, "exact-csv", f) for f in os.listdir(os.path.join(tmp, "exact-csv"))] \
    if r.returncode == 0 else []
check(r.returncode == 0 and csvs and all(
    open(f).readline().startswith("# exact counts: internal use only") for f in csvs) and
    "not for publication" in open(exact).read(), "--exact-small-counts marks every table")

r = demo_report.run([wyelink, "audit", "verify", d["log"], "--signer", d["lu_pub"]])
show = demo_report.run([wyelink, "audit", "show", d["log"]])
check(r.returncode == 0 and "report" in show.stdout, "the report's audit entry verifies")

for args, what in ([[], "no option"], [["--result", d["exact"]], "no --out"],
                   [["--result", d["result"], "--out", exact, "--exact-small-counts"],
                    "--exact-small-counts with a published summary"],
                   [["--out", exact, "--result", d["exact"], "--audit-log", "x"],
                    "--audit-log without --key"]):
    r = demo_report.run([wyelink, "report"] + args)
    check(r.returncode == 2 and "wyelink report:" in r.stderr, "misuse exits 2: " + what)

r = demo_report.run([wyelink, "report", "--result", os.path.join(tmp, "nowhere"), "--out", exact])
check(r.returncode == 1 and "nowhere" in r.stderr, "a missing result folder is named, exit 1")

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
