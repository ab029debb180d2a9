#!/usr/bin/env python3
"""The demo's report in a real browser: Debian's chromium, headless.

  - a screenshot of the first screen, kept under the build folder;
  - the DOM text holds the headline numbers as the tables publish them;
  - no console message, and no request made by the page (chromium's net
    log; every host name resolves to nothing); the file itself has no
    script and no http(s) reference;
  - printing to PDF succeeds with a document of several pages.
Skips (77) when chromium is not installed; CI installs it.

    test_browser.py WYELINK SCREENSHOT.png
"""
import csv, json, os, re, shutil, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_report  # noqa: E402

wyelink, screenshot = sys.argv[1], sys.argv[2]
browser = shutil.which("chromium") or shutil.which("chromium-browser")
if not browser:
    print("skipped: chromium is not installed (apt-get install chromium)")
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix="wye_browser_")
d = demo_report.prepare(wyelink, os.path.join(tmp, "demo"))
url = "file://" + os.path.abspath(d["report"])
passed = failed = 0


def check(ok, what):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + what)
    passed += bool(ok)
    failed += not ok


page_requests = []


def chromium(*args):
    """Run chromium on the page; note every request the page made (the net
    log's requests with the page's origin, not the browser's own)."""
    profile = tempfile.mkdtemp(prefix="profile_", dir=tmp)  # a new one each run
    netlog = os.path.join(profile, "net.json")
    r = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--log-net-log=" + netlog] + list(args) + [url],
        capture_output=True, text=True, timeout=120)
    try:
        events = json.load(open(netlog)).get("events", [])
    except (OSError, ValueError):
        events = [{"params": {"url": "(no net log)", "initiator": "?"}}]
    for e in events:
        p = e.get("params", {})
        if "url" in p and p.get("initiator", "not an origin") != "not an origin":
            page_requests.append(p["url"])
    return r


html = open(d["report"], encoding="utf-8").read()
check("<script" not in html.lower(), "the page has no script")
check(not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", html, re.I) and
      "http://" not in html and "https://" not in html, "the page refers to nothing outside")

dom = chromium("--dump-dom")
text = re.sub(r"<[^>]+>", " ", dom.stdout)
head = {r["measure"]: r["value"] for r in csv.DictReader(open(os.path.join(d["tables"],
                                                                          "headline.csv")))}
agencies = list(csv.DictReader(open(os.path.join(d["tables"], "agencies.csv"))))


def shown(v):
    return "{:,}".format(int(v)) if v.isdigit() else v.replace("<", "&lt;")


want = [shown(head["unique persons"]), shown(head["records"])] + \
    [shown(a["persons"]) for a in agencies] + [shown(a["records"]) for a in agencies]
check(dom.returncode == 0 and all(w in text for w in want),
      "the DOM holds the headline numbers (%s unique persons)" % shown(head["unique persons"]))
for section in ("Who is known to which agencies", "UpSet", "Who they are",
                "Linkage diagnostics", "Data quality per agency", "Provenance"):
    check(section in text, "the DOM has the section: " + section)

shot = chromium("--screenshot=" + os.path.abspath(screenshot), "--window-size=1000,1300",
                "--hide-scrollbars")
png = open(screenshot, "rb").read() if os.path.exists(screenshot) else b""
check(shot.returncode == 0 and png.startswith(b"\x89PNG") and len(png) > 20000,
      "screenshot of the first screen: %s (%d bytes)" % (screenshot, len(png)))

pdf_path = os.path.join(tmp, "report.pdf")
pdf = chromium("--print-to-pdf=" + pdf_path, "--no-pdf-header-footer")
data = open(pdf_path, "rb").read() if os.path.exists(pdf_path) else b""
pages = len(re.findall(rb"/Type\s*/Page\b", data))
check(pdf.returncode == 0 and data.startswith(b"%PDF") and len(data) > 30000 and pages >= 3,
      "print to PDF: %d bytes, %d pages" % (len(data), pages))

log = dom.stderr + shot.stderr + pdf.stderr
# The page has no script: any console message at all (chromium logs even
# "Uncaught ReferenceError" at INFO level) means something is wrong.
console = [l for l in log.splitlines() if ":CONSOLE" in l]
check(not console, "no console messages (%d)" % len(console))
check(not page_requests, "no request made by the page (%d)" % len(page_requests))
for l in (console + page_requests)[:5]:
    print("  " + l[:120])

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
