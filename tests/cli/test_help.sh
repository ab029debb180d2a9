#!/bin/sh
# `wyelink help CMD` is `wyelink CMD --help` for every command of the table:
# the same standard output and exit 0 (issue 14, item 9: it exited 2). An
# unknown command, or more than one, is misuse (exit 2).
set -u
W=${1:?usage: test_help.sh path/to/wyelink}
case $W in /*) ;; *) W=$PWD/$W ;; esac
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1 # a command that ignored --help must not write into the tree
fail=0; pass=0
check() { # description expected-status actual-status
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
        echo "FAIL: $1: expected exit $2, got $3"; fail=$((fail + 1)); fi
}
same() { # description file-a file-b
    if cmp -s "$2" "$3"; then pass=$((pass + 1)); else
        echo "FAIL: $1: outputs differ"; diff "$2" "$3" | head -5; fail=$((fail + 1)); fi
}

"$W" --help >"$T/top"; check "wyelink --help" 0 $?
cmds=$(awk '/^   [a-z]/ {print $1}' "$T/top")
n=$(echo "$cmds" | wc -w)
[ "$n" -ge 7 ]; check "the table lists the commands ($n)" 0 $?
for c in $cmds; do
    "$W" help "$c" >"$T/a" 2>"$T/a.err"; check "help $c" 0 $?
    "$W" "$c" --help >"$T/b" 2>"$T/b.err"; check "$c --help" 0 $?
    same "help $c is $c --help" "$T/a" "$T/b"
    [ -s "$T/a" ] && grep -q "^usage: wyelink $c" "$T/a"; check "help $c prints its usage" 0 $?
    [ ! -s "$T/a.err" ]; check "help $c writes nothing to stderr" 0 $?
done

"$W" help >"$T/a"; check "help alone" 0 $?
same "help alone is --help" "$T/a" "$T/top"
"$W" help help >"$T/a"; check "help help" 0 $?
same "help help is --help" "$T/a" "$T/top"
"$W" help nosuch >"$T/a" 2>"$T/e"; check "help nosuch" 2 $?
grep -q "'nosuch' is not a wyelink command" "$T/e"; check "help nosuch names it" 0 $?
[ ! -s "$T/a" ]; check "help nosuch prints no usage on stdout" 0 $?
"$W" help hash link >/dev/null 2>"$T/e"; check "help with two commands" 2 $?
"$W" help --bogus >/dev/null 2>&1; check "help --bogus" 2 $?

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
