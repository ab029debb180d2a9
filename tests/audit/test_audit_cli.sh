#!/bin/sh
# `wyelink audit`: CLI conventions at every level (help, misuse naming the
# option, exit codes) and golden outputs on the fixture logs in fixtures/
# (made once by the library: a police and a housing agency and the linkage
# unit; housing.log has a run under another protocol, lu.log links a file
# that no agency wrote).
set -u
W=${1:?usage: test_audit_cli.sh path/to/wyelink}
F=${WYELINK_SOURCE_ROOT:?}/tests/audit/fixtures
T=$(mktemp -d /tmp/wye_test_audit_cli_XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0; pass=0
check() { # description expected actual
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
        echo "FAIL: $1: expected '$2', got '$3'"; fail=$((fail + 1)); fi
}
has() { # description needle file
    if grep -qF -- "$2" "$3"; then pass=$((pass + 1)); else
        echo "FAIL: $1: '$2' not in output:"; cat "$3"; fail=$((fail + 1)); fi
}
run() { # expected-status args... ; output in $T/out
    want=$1; shift
    "$W" "$@" >"$T/out" 2>&1; got=$?
    check "wyelink $*" "$want" "$got"
}

# help at every level
for sub in "" verify show trace; do
    # shellcheck disable=SC2086
    run 0 audit $sub --help; has "audit $sub --help usage" "usage: wyelink audit" "$T/out"
    has "audit $sub --help exit codes" "Exit status" "$T/out"
    # shellcheck disable=SC2086
    run 0 audit $sub -h
    # shellcheck disable=SC2086
    run 2 audit $sub --no-such-option; has "audit $sub bad option named" "no-such-option" "$T/out"
done
run 2 audit; has "no subcommand" "a subcommand is needed" "$T/out"
run 2 audit frobnicate; has "unknown subcommand" "'frobnicate' is not a subcommand" "$T/out"

# misuse names what is wrong
run 2 audit verify "$F/police.log"; has "verify needs --signer" "'--signer'" "$T/out"
run 2 audit verify --signer "$F/police.pub"; has "verify needs a log" "log to verify is missing" "$T/out"
run 2 audit verify "$F/police.log" "$F/lu.log" --signer "$F/police.pub"
has "verify one log" "is extra" "$T/out"
run 2 audit verify "$F/police.log" --signer; has "--signer needs a value" "'--signer'" "$T/out"
run 2 audit show "$F/police.log" --until 2024-02-30T25:00:00Z; has "bad --until" "'--until'" "$T/out"
run 2 audit show; has "show needs a log" "log to show is missing" "$T/out"
run 2 audit trace --linkage "$F/lu.log"; has "trace needs --agency" "'--agency'" "$T/out"
run 2 audit trace --agency "$F/police.log"; has "trace needs --linkage" "'--linkage'" "$T/out"
run 2 audit trace --linkage "$F/lu.log" --linkage "$F/lu.log" --agency "$F/police.log"
has "one --linkage" "given twice" "$T/out"

# runtime failures: exit 1, "wyelink audit <sub>: <what>: <why>"
run 1 audit verify "$T/none.log" --signer "$F/police.pub"
has "missing log" "wyelink audit verify: cannot verify '$T/none.log': No such file or directory" "$T/out"
run 1 audit verify "$F/police.log" --signer "$T/none.pub"
has "missing key" "wyelink audit verify: cannot read public key" "$T/out"
run 1 audit show "$T/none.log"; has "show missing log" "wyelink audit show: cannot read" "$T/out"

# golden outputs on the fixtures
for p in police housing lu; do
    key=$p; [ $p = lu ] && key=linkage-unit
    "$W" audit verify "$F/$p.log" --signer "$F/$key.pub" >"$T/out" 2>&1
    check "verify $p.log status" 0 $?
    sed "s#$F/##" "$T/out" >"$T/got"
    if cmp -s "$T/got" "$F/verify-$p.out"; then pass=$((pass + 1)); else
        echo "FAIL: verify $p.log output differs:"; diff "$F/verify-$p.out" "$T/got"; fail=$((fail + 1)); fi
done
run 1 audit verify "$F/police.log" --signer "$F/housing.pub"
has "wrong signer" "NOT INTACT: line 1: signed by another key" "$T/out"

"$W" audit show "$F/housing.log" >"$T/got" 2>&1; check "show status" 0 $?
if cmp -s "$T/got" "$F/show-housing.out"; then pass=$((pass + 1)); else
    echo "FAIL: show housing.log differs:"; diff "$F/show-housing.out" "$T/got"; fail=$((fail + 1)); fi
"$W" audit show "$F/housing.log" --json --command hash >"$T/got" 2>&1
check "show --json status" 0 $?
sed -n 2,3p "$F/housing.log" >"$T/want"
if cmp -s "$T/got" "$T/want"; then pass=$((pass + 1)); else
    echo "FAIL: show --json is not the log's lines unchanged"; fail=$((fail + 1)); fi

"$W" audit trace --linkage "$F/lu.log" --agency "$F/police.log" --agency "$F/housing.log" \
    >"$T/out" 2>&1
check "trace status (flags)" 1 $?
sed "s#$F/##" "$T/out" >"$T/got"
if cmp -s "$T/got" "$F/trace.out"; then pass=$((pass + 1)); else
    echo "FAIL: trace output differs:"; diff "$F/trace.out" "$T/got"; fail=$((fail + 1)); fi

# a tampered copy: entries 2 and 3 swapped
sed -n 1p "$F/police.log" >"$T/t.log"; sed -n 3p "$F/police.log" >>"$T/t.log"
sed -n 2p "$F/police.log" >>"$T/t.log"
run 1 audit verify "$T/t.log" --signer "$F/police.pub"
has "swap named" "first bad line: 2; 1 entries before it verified" "$T/out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
