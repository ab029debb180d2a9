#!/bin/sh
# The audit log's guards at the command line (issue 14): key material given
# as a path is never echoed nor recorded; the log is checked before the work
# (another party's log, a damaged log, the log as an input); a failed append
# leaves no partial line and says why; verify names keys by key id; a
# cancelled run is shown as such.
set -u
W=${1:?usage: test_guard_cli.sh path/to/wyelink}
W=$(cd "$(dirname "$W")" && pwd)/$(basename "$W")
T=$(mktemp -d /tmp/wye_test_guard_cli_XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
unset WYELINK_AUDIT_LOG
fail=0; pass=0
check() { # description expected actual
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
        echo "FAIL: $1: expected '$2', got '$3'"; fail=$((fail + 1)); fi
}
has() { # description needle file
    if grep -qF -- "$2" "$3"; then pass=$((pass + 1)); else
        echo "FAIL: $1: '$2' not in:"; cat "$3"; fail=$((fail + 1)); fi
}
lacks() { # description needle file...
    d=$1; n=$2; shift 2
    if grep -qF -- "$n" "$@"; then echo "FAIL: $d: '$n' found in $*"; fail=$((fail + 1))
    else pass=$((pass + 1)); fi
}
run() { # expected-status args... ; output in out (stdout and stderr)
    want=$1; shift
    "$W" "$@" >out 2>&1; got=$?
    check "wyelink $*" "$want" "$got"
}
verifies() { # description log pub
    "$W" audit verify "$2" --signer "$3" >vout 2>&1; check "$1: log verifies" 0 $?
}

run 0 keys create --name custodian --role custodian --out keys --audit-log cust.log
run 0 keys create --name police --role agency --out keys --audit-log police.log
run 0 keys create --name housing --role agency --out keys --audit-log housing.log
run 0 keys secret --key keys/custodian.key --out linkage.secret --audit-log cust.log

# ---- item 3: a secret given as a path, its base64 holding '/' --------------
# (the parts between the '/' are short: a check per component misses it)
KEY='n4bQgYhMfWWa/+qgxVrQ/FaO0TxsrC4Is0/V1sFbDwCgg='
run 1 keys seal --secret "$KEY" --custodian-key keys/custodian.key --to keys/police.pub \
    --out police.sealed --audit-log cust.log
has "the failure is reported" "cannot load the secret '(a path that looks like key material)'" out
for part in "$KEY" n4bQgYhMfWWa +qgxVrQ FaO0TxsrC4Is0 V1sFbDwCgg; do
    lacks "key part not echoed" "$part" out
    lacks "key part not recorded" "$part" cust.log
done
has "the failed run is audited all the same" '"secret":"(a path that looks like key material)"' cust.log
verifies "after the refused secret path" cust.log keys/custodian.pub

run 0 keys seal --secret linkage.secret --custodian-key keys/custodian.key --to keys/police.pub \
    --out police.sealed --audit-log cust.log
# keys open --out a path that is key material: never printed, never recorded
run 1 keys open --sealed police.sealed --key keys/police.key --custodian keys/custodian.pub \
    --out "dir/$KEY" --audit-log police.log
lacks "open --out not echoed" "$KEY" out
lacks "open --out not echoed (part)" "FaO0TxsrC4Is0" out
lacks "open --out not recorded" "FaO0TxsrC4Is0" police.log
run 2 keys seal "$KEY"; lacks "an extra argument is not echoed" "FaO0TxsrC4Is0" out
run 2 keys seal "--secrt=$KEY"; lacks "a misspelt option is not echoed" "FaO0TxsrC4Is0" out
run 1 keys show "$KEY"; lacks "show does not echo it" "FaO0TxsrC4Is0" out

# ---- the audit log checked before the work ----------------------------------
# another party's log: named as such, nothing written
run 1 keys open --sealed police.sealed --key keys/police.key --custodian keys/custodian.pub \
    --out police.secret --audit-log housing.log
has "another party's log" "the audit log 'housing.log' belongs to another party" out
lacks "not called damaged" "not intact" out
check "no secret written for another party's log" no "$([ -e police.secret ] && echo yes || echo no)"
# a damaged log: says which line and why, nothing written
cp police.log damaged.log
sed -i '1s/"name":"police"/"name":"polise"/' damaged.log
run 1 keys open --sealed police.sealed --key keys/police.key --custodian keys/custodian.pub \
    --out police.secret --audit-log damaged.log
has "damaged log named" "the audit log 'damaged.log' is not intact: line 1:" out
check "no secret written for a damaged log" no "$([ -e police.secret ] && echo yes || echo no)"
# the log is one of the inputs: refused as misuse, the input untouched
cp keys/police.pub police-copy.pub
run 2 keys seal --secret linkage.secret --custodian-key keys/custodian.key \
    --to police-copy.pub --out again.sealed --audit-log police-copy.pub
has "log as an input refused" "option '--audit-log' names 'police-copy.pub', which is also an input" out
check "the input is untouched" "$(cat keys/police.pub)" "$(cat police-copy.pub)"
ln -s keys/police.pub link.pub
run 2 keys seal --secret linkage.secret --custodian-key keys/custodian.key \
    --to keys/police.pub --out again.sealed --audit-log link.pub
has "the same file by another name" "which is also an input" out

# ---- item 6: a failed append leaves no partial line and says why ------------
# A file-size limit below the log's next entry (SIGXFSZ ignored, so write()
# fails with EFBIG part-way, as on a full disk).
size=$(wc -c <police.log)
blocks=$(( (size + 600) / 512 ))
(trap '' XFSZ; ulimit -f "$blocks" 2>/dev/null || exit 99
 "$W" keys open --sealed police.sealed --key keys/police.key --custodian keys/custodian.pub \
     --out limited.secret --audit-log police.log) >out 2>&1
st=$?
if [ $st -ne 99 ]; then
    check "append past the size limit fails" 1 $st
    has "the error says why" "cannot append to the audit log 'police.log': File too large" out
    lacks "not an input/output error" "input/output error" out
    check "log cut back to its length" "$size" "$(wc -c <police.log)"
    check "no unaudited secret kept" no "$([ -e limited.secret ] && echo yes || echo no)"
    verifies "after the failed append" police.log keys/police.pub
    has "and it is intact" "intact" vout
fi

# ---- item 7a: verify names another signer by its key id ---------------------
"$W" keys show keys/housing.pub >show.out
hid=$(sed -n 's/^public key id *//p' show.out)
run 1 audit verify housing.log --signer keys/police.pub
has "key id, not a key prefix" "signed by another key (key id $hid)" out

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
