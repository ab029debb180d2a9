"""Shared by the report's tests: run `wyelink demo`, link its encoded files
again with exact counts (what wyelink link's summary writer publishes from),
and make the report of that linkage with the agencies' quality summaries.
Prints nothing from the data; returns the paths."""
import os, subprocess

AGENCIES = ["police", "gp", "asc", "wmwa", "marac", "idva", "housing"]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def prepare(wyelink, out, scale="1", seed="1"):
    """Returns a dict of paths; raises RuntimeError naming the step that failed."""
    d = {"out": out, "keys": os.path.join(out, "keys"),
         "result": os.path.join(out, "linkage-unit", "result"),
         "exact": os.path.join(out, "linkage-unit", "exact-result"),
         "report": os.path.join(out, "report", "report.html"),
         "tables": os.path.join(out, "report", "report-tables"),
         "log": os.path.join(out, "report.audit.log")}
    r = run([wyelink, "demo", "--out", out, "--scale", scale, "--seed", seed])
    if r.returncode:
        raise RuntimeError("demo failed: " + r.stderr[-500:])
    k = d["keys"]
    d["lu_key"] = os.path.join(k, "linkage-unit", "linkage-unit.key")
    d["lu_pub"] = os.path.join(k, "linkage-unit", "linkage-unit.pub")
    files = [os.path.join(k, a, a + ".wye") for a in AGENCIES]
    r = run([wyelink, "link", "--key", d["lu_key"], "--trust",
             os.path.join(out, "linkage-unit", "trust"), "--out", d["exact"],
             "--exact-small-counts", "--quiet", "--audit-log", d["log"]] + files)
    if r.returncode:
        raise RuntimeError("link failed: " + r.stderr[-500:])
    d["quality"] = [os.path.join(k, a, a + ".quality.json") for a in AGENCIES]
    os.makedirs(os.path.dirname(d["report"]), exist_ok=True)
    cmd = [wyelink, "report", "--result", d["exact"], "--out", d["report"], "--key", d["lu_key"],
           "--audit-log", d["log"]]
    for q in d["quality"]:
        cmd += ["--quality", q]
    r = run(cmd)
    d["report_stdout"] = r.stdout
    if r.returncode:
        raise RuntimeError("report failed: " + r.stderr[-500:])
    return d
