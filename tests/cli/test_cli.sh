#!/bin/sh
# CLI conventions for every command in `wyelink --help`: -h/--help exits 0 with
# usage on stdout; an unknown option exits 2 with one line naming it.
set -u
W=${1:?usage: test_cli.sh path/to/wyelink}
fail=0; pass=0
check() { # description expected-status actual-status
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
        echo "FAIL: $1: expected exit $2, got $3"; fail=$((fail + 1)); fi
}
out=$("$W" --help); check "wyelink --help" 0 $?
echo "$out" | grep -q '^agency:' ; check "help groups agency" 0 $?
echo "$out" | grep -q '^governance:' ; check "help groups governance" 0 $?
"$W" --version | grep -q 'encoded file format version'; check "--version lists formats" 0 $?
"$W" >/dev/null 2>&1; check "no command" 2 $?
"$W" nosuchcommand >/dev/null 2>&1; check "unknown command" 2 $?
"$W" --bogus >/dev/null 2>&1; check "unknown top option" 2 $?
cmds=$(echo "$out" | awk '/^   [a-z]/ {print $1}')
[ -n "$cmds" ]; check "commands listed" 0 $?
for c in $cmds; do
    o=$("$W" "$c" --help); check "$c --help" 0 $?
    echo "$o" | grep -q '^usage: wyelink '"$c"; check "$c --help usage line" 0 $?
    echo "$o" | grep -q 'Exit status'; check "$c --help documents exit codes" 0 $?
    "$W" "$c" -h >/dev/null; check "$c -h" 0 $?
    e=$("$W" "$c" --no-such-option 2>&1 >/dev/null); check "$c bad option" 2 $?
    echo "$e" | grep -q "no-such-option"; check "$c bad option named" 0 $?
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
