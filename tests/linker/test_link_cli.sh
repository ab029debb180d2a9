#!/bin/sh
# `wyelink link` as a hostile but realistic user runs it (issue 14): the
# audit log is checked before any work and is never an input; the outputs
# appear together, only after the audit entry recording them was appended,
# or not at all; an interrupted set is completed by the next run; SIGINT and
# SIGTERM stop the run, keep the previous results and leave a "cancelled"
# entry; duplicate agencies, bad or look-alike trusted keys are named.
#
#   test_link_cli.sh path/to/wyelink
set -u
W=${1:?usage: test_link_cli.sh path/to/wyelink}
T=$(mktemp -d /tmp/wye-link-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok - $1"; }
bad() {
    echo "not ok - $1"
    fails=$((fails + 1))
}
check() { # name want got
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (want $2, got $3)"; fi
}
has() { # name file text
    if grep -qF -- "$3" "$2"; then ok "$1"; else
        bad "$1: '$3' not in $2:"
        sed 's/^/    /' "$2"
    fi
}
hasnt() { # name file text
    if grep -qF -- "$3" "$2"; then
        bad "$1: '$3' in $2"
        sed 's/^/    /' "$2"
    else ok "$1"; fi
}

# One small county (demo scale 4: about 21,000 records of seven agencies, so
# that comparing every pair on one thread takes seconds on any machine).
"$W" demo --out "$T/d" --scale 4 > "$T/demo.out" 2>&1 || {
    cat "$T/demo.out"
    echo "not ok - demo"
    exit 1
}
K=$T/d/keys
LU=$K/linkage-unit/linkage-unit.key
TR=$T/d/linkage-unit/trust
LOG=$T/lu.log
all="$K/police/police.wye $K/gp/gp.wye $K/asc/asc.wye $K/wmwa/wmwa.wye $K/marac/marac.wye"
few="$K/police/police.wye $K/gp/gp.wye"
link() { "$W" link --key "$LU" --trust "$TR" --quiet "$@"; }
# LeakSanitizer cannot run under ptrace: off for the runs under strace.
traced() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -o /dev/null "$@"; }

# The results to protect, and their copy.
link --out "$T/res" --audit-log "$LOG" $all 2> "$T/err"
check "a first run succeeds" 0 $?
cp -rp "$T/res" "$T/keep"
unchanged() { # name: the previous results, byte for byte, and no temp file beside them
    for f in persons.csv pairs.csv summary.json; do
        cmp -s "$T/res/$f" "$T/keep/$f" || {
            bad "$1: $f was replaced"
            return
        }
    done
    left=$(ls -A "$T/res" | grep -v -e '^persons.csv$' -e '^pairs.csv$' -e '^summary.json$')
    if [ -n "$left" ]; then bad "$1: left $left"; else ok "$1"; fi
}
entries() { wc -l < "$LOG" | tr -d ' '; }

# 1. another party's log: refused before any work, exactly why, nothing replaced.
cp "$K/gp/gp.audit.log" "$T/gp.log.before"
link --out "$T/res" --audit-log "$K/gp/gp.audit.log" $few 2> "$T/err"
check "another party's log: exit 1" 1 $?
has "another party's log: says whose" "$T/err" "belongs to another party"
hasnt "another party's log: not called broken" "$T/err" "not intact"
unchanged "another party's log: previous results kept"
cmp -s "$K/gp/gp.audit.log" "$T/gp.log.before"
check "another party's log: untouched" 0 $?

# 2. --audit-log (or $WYELINK_AUDIT_LOG) naming an input is refused.
cp "$K/gp/gp.wye" "$T/gp.wye.before"
link --out "$T/res" --audit-log "$K/gp/gp.wye" $few 2> "$T/err"
check "--audit-log naming an input: exit 2" 2 $?
has "--audit-log naming an input: says so" "$T/err" "which is also an input"
WYELINK_AUDIT_LOG=$K/police/police.wye "$W" link --key "$LU" --trust "$TR" --quiet \
    --out "$T/res" $few 2> "$T/err"
check "\$WYELINK_AUDIT_LOG naming an input: exit 2" 2 $?
link --out "$T/res" --audit-log "$LU" $few 2> "$T/err"
check "--audit-log naming the key: exit 2" 2 $?
cmp -s "$K/gp/gp.wye" "$T/gp.wye.before"
check "the input is untouched" 0 $?
unchanged "--audit-log naming an input: previous results kept"

# 7b. two files of one agency.
link --out "$T/res" --audit-log "$LOG" "$K/gp/gp.wye" "$K/police/police.wye" "$T/gp.wye.before" \
    2> "$T/err"
check "two files of one agency: exit 1" 1 $?
has "two files of one agency: named" "$T/err" \
    "wyelink link: two inputs are from agency 'gp': '$K/gp/gp.wye' and '$T/gp.wye.before'"
hasnt "two files of one agency: not 'file exists'" "$T/err" "refusing to overwrite"

# 7e and 8. the trust folder: a bad .pub is named; two keys under one name
# are refused, both files named.
mkdir "$T/trust2"
cp "$TR"/*.pub "$T/trust2/"
echo '{"kind": "wyelink-party-public"}' > "$T/trust2/zz-bad.pub"
"$W" link --key "$LU" --trust "$T/trust2" --quiet --out "$T/res" --audit-log "$LOG" $few \
    2> "$T/err"
check "bad .pub: exit 1" 1 $?
has "bad .pub: the file is named" "$T/err" "'zz-bad.pub'"
rm "$T/trust2/zz-bad.pub"
"$W" keys create --name gp --role agency --out "$T/fake" --audit-log "$T/fake.log" \
    > /dev/null 2>&1 || "$W" keys create --help > "$T/keys-help.txt"
if [ -f "$T/fake/gp.pub" ]; then
    cp "$T/fake/gp.pub" "$T/trust2/gp-new.pub"
    "$W" link --key "$LU" --trust "$T/trust2" --quiet --out "$T/res" --audit-log "$LOG" $few \
        2> "$T/err"
    check "two keys named gp: exit 1" 1 $?
    has "two keys named gp: both files named" "$T/err" \
        "'gp-new.pub' and 'gp.pub' hold two different keys named 'gp'"
else
    bad "cannot make a look-alike key (keys create): $(head -3 "$T/keys-help.txt")"
fi
unchanged "refused inputs: previous results kept"

# 4. stale temp files of the outputs are removed by the next run.
: > "$T/res/.persons.csv.~tmp.AbC123"
: > "$T/res/.summary.json.~tmp.xYz789"
link --out "$T/res" --audit-log "$LOG" $all 2> "$T/err"
check "a run beside stale temp files: exit 0" 0 $?
unchanged "stale temp files removed, same results for the same inputs"

# 4. a crash between the renames of a commit (SIGKILL at the 5th rename: the
# set's three journals are in place and persons.csv is renamed, pairs.csv and
# summary.json are not): the next run, even one that fails, completes the set.
if command -v strace > /dev/null 2>&1; then
    link --out "$T/ref" --audit-log "$T/ref.log" $few 2> "$T/err"
    traced -e trace=rename,renameat,renameat2 \
        -e inject=rename,renameat,renameat2:signal=SIGKILL:when=5 \
        "$W" link --key "$LU" --trust "$TR" --quiet --out "$T/res" --audit-log "$LOG" $few \
        2> "$T/err"
    check "killed mid-commit: SIGKILL" 137 $?
    "$W" audit verify "$LOG" --signer "$K/linkage-unit/linkage-unit.pub" > "$T/v" 2>&1
    check "killed mid-commit: the log verifies" 0 $?
    link --out "$T/res" --audit-log "$LOG" "$K/gp/gp.wye" "$T/no-such.wye" 2> "$T/err"
    check "the next run fails on a missing input" 1 $?
    same=0
    for f in persons.csv pairs.csv summary.json; do
        cmp -s "$T/res/$f" "$T/ref/$f" || same=1
    done
    check "the next run completed the interrupted set" 0 $same
    check "no journal or temp file left" "" "$(ls -A "$T/res" | grep '~')"
    link --out "$T/res" --audit-log "$LOG" $all 2> "$T/err"
    check "a run after the crash succeeds" 0 $?
    unchanged "a run after the crash gives the same results"
else
    echo "ok - # SKIP strace is not installed: no mid-commit kill"
fi

# Long runs to interrupt: every pair compared, one thread (about 220 million
# pairs: seconds on any machine, never a fraction of one).
# `exec`: the background job is wyelink itself, which the signal must reach.
long() {
    exec "$W" link --key "$LU" --trust "$TR" --quiet --exhaustive --threads 1 --out "$T/res" \
        --audit-log "$LOG" $all 2> "$T/err"
}

# 5. SIGINT and SIGTERM mid-run: exit 130, a cancelled entry, nothing replaced.
for sig in INT TERM; do
    n0=$(entries)
    long &
    pid=$!
    sleep 1
    kill -$sig $pid
    wait $pid
    check "SIG$sig mid-run: exit 130" 130 $?
    has "SIG$sig mid-run: says so" "$T/err" "cancelled"
    check "SIG$sig mid-run: one entry more" $((n0 + 1)) "$(entries)"
    tail -n 1 "$LOG" > "$T/last"
    has "SIG$sig mid-run: the entry is a cancelled link" "$T/last" '"code":-26'
    unchanged "SIG$sig mid-run: previous results kept, no temp file"
done
"$W" audit verify "$LOG" --signer "$K/linkage-unit/linkage-unit.pub" > "$T/v" 2>&1
check "after the signals: the log verifies" 0 $?

# 1. the audit append fails after the work: the outputs are ready, the entry
# cannot be written; exit 1 and the previous results stay. With strace: the
# disk fills as the entry is written (the 4th fsync, the log's, returns
# ENOSPC; the 1st to 3rd make the outputs durable). Without: the log is
# replaced by another party's during a long run.
if command -v strace > /dev/null 2>&1; then
    cp "$LOG" "$T/lu.log.mine"
    traced -e trace=fsync -e inject=fsync:error=ENOSPC:when=4 \
        "$W" link --key "$LU" --trust "$TR" --quiet --out "$T/res" --audit-log "$LOG" $few \
        2> "$T/err"
    check "append fails after the work: exit 1" 1 $?
    has "append fails after the work: says why" "$T/err" \
        "cannot append to the audit log '$LOG': no space left on the device"
    cmp -s "$LOG" "$T/lu.log.mine"
    check "append fails after the work: the log is as it was" 0 $?
else
    long &
    pid=$!
    sleep 1
    cp "$K/police/police.audit.log" "$LOG.new"
    mv "$LOG.new" "$LOG"
    wait $pid
    check "append fails after the work: exit 1" 1 $?
    has "append fails after the work: says why" "$T/err" "belongs to another party"
    cmp -s "$LOG" "$K/police/police.audit.log"
    check "append fails after the work: the other party's log untouched" 0 $?
fi
has "append fails after the work: says the results are kept" "$T/err" "no output was replaced"
unchanged "append fails after the work: previous results kept"

if [ $fails -ne 0 ]; then
    echo "$fails failed"
    exit 1
fi
echo "all passed"
