#!/bin/sh
# The protocol profiles built into wyelink (protocols/PROTOCOL.md, "Built-in
# profiles"): --version and `protocol list` name each with its fingerprint,
# which is the fingerprint of the shipped file; --protocol NAME picks one; a
# path, and ./NAME, always reads a file; hash, link and demo use the built-in
# default without --protocol and give exactly what the file gives.
set -u
W=${1:?usage: test_profiles.sh path/to/wyelink}
case $W in /*) ;; *) W=$PWD/$W ;; esac
SRC=${WYELINK_SOURCE_ROOT:?WYELINK_SOURCE_ROOT is not set}
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fail=0; pass=0
check() { # description expected-status actual-status
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
        echo "FAIL: $1: expected exit $2, got $3"; fail=$((fail + 1)); fi
}
# summary.json's "inputs" carry each encoded file's creation time, which a new
# demo run changes: compare everything else.
strip_inputs() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("inputs",None); print(json.dumps(d,sort_keys=True))' "$1"
}
same() { # description file-a file-b
    if [ "${2##*.}" = json ]; then
        if [ "$(strip_inputs "$2")" = "$(strip_inputs "$3")" ]; then pass=$((pass + 1)); else
            echo "FAIL: $1: outputs differ"; fail=$((fail + 1)); fi
        return
    fi
    if cmp -s "$2" "$3"; then pass=$((pass + 1)); else
        echo "FAIL: $1: outputs differ"; diff "$2" "$3" | head -5; fail=$((fail + 1)); fi
}
fp() { "$W" protocol fingerprint "$1"; }

DEFAULT_FP=$(fp "$SRC/protocols/default.json")
V1_FP=$(fp "$SRC/protocols/archive/wyelink-da-default-1.json")
[ ${#DEFAULT_FP} -eq 64 ] && [ ${#V1_FP} -eq 64 ]; check "file fingerprints" 0 $?

# --version keeps its lines and names every built-in profile.
"$W" --version >v; check "--version" 0 $?
for l in '^wyelink [0-9]' '^protocol schema version [0-9]' '^encoded file format version [0-9]' \
         '^audit log format version [0-9]' '^key file format version [0-9]' '^built-in protocols'; do
    grep -q "$l" v; check "--version has $l" 0 $?
done
sed -n '/^built-in protocols/,$p' v | tail -n +2 | sed 's/^   //' >v.list
"$W" protocol list >list; check "protocol list" 0 $?
same "--version lists what protocol list does" v.list list
grep -qx "default  *wyelink-da-default-2  *$DEFAULT_FP" list; check "list: the default" 0 $?
n=1
for f in "$SRC"/protocols/archive/*.json; do
    name=$(basename "$f" .json)
    grep -qx "$name  *$name  *$(fp "$f")" list; check "list: archived $name" 0 $?
    n=$((n + 1))
done
[ "$(wc -l <list)" -eq $n ]; check "list: the default and the archive, nothing else" 0 $?

# A built-in profile is its file: fingerprint, canonical form, check.
[ "$(fp default)" = "$DEFAULT_FP" ]; check "fingerprint default" 0 $?
[ "$(fp wyelink-da-default-2)" = "$DEFAULT_FP" ]; check "fingerprint by profile name" 0 $?
[ "$(fp wyelink-da-default-1)" = "$V1_FP" ]; check "fingerprint archived" 0 $?
"$W" protocol canonical default >a; check "canonical default" 0 $?
"$W" protocol canonical "$SRC/protocols/default.json" >b
same "canonical default is the file's" a b
"$W" protocol check wyelink-da-default-1 >a; check "check archived" 0 $?
grep -q "^built-in: *wyelink-da-default-1$" a && grep -q "^fingerprint: $V1_FP$" a
check "check names the built-in profile" 0 $?

# A name is a built-in profile; a path (./NAME) is always a file.
cp "$SRC/protocols/archive/wyelink-da-default-1.json" default
[ "$(fp default)" = "$DEFAULT_FP" ]; check "a built-in name wins over a file in the folder" 0 $?
[ "$(fp ./default)" = "$V1_FP" ]; check "./NAME reads the file" 0 $?
"$W" protocol fingerprint nosuch >/dev/null 2>e; check "an unknown name" 1 $?
grep -q "'nosuch'" e; check "an unknown name is named" 0 $?
"$W" protocol list extra >/dev/null 2>&1; check "list takes no argument" 2 $?

if "$W" --help | grep -q '^   demo '; then
    # The demo without --protocol uses the built-in default, audited by name.
    "$W" demo --out d --scale 0.05 >/dev/null 2>e; check "demo, built-in default" 0 $?
    grep -q "\"fingerprint\": \"$DEFAULT_FP\"" d/linkage-unit/result/summary.json
    check "demo summary carries the default's fingerprint" 0 $?
    "$W" audit show d/keys/police/police.audit.log --command hash --json >log 2>&1
    grep -q '"protocol": *"default"' log && ! grep -q 'default.json' log
    check "hash audits the built-in profile by name, not as a file" 0 $?
    mkdir r1 && cp d/linkage-unit/result/persons.csv d/linkage-unit/result/pairs.csv \
        d/linkage-unit/result/summary.json r1/
    # The same keys with the file: byte for byte the same results.
    "$W" demo --out d --scale 0.05 --protocol "$SRC/protocols/default.json" >/dev/null 2>e
    check "demo, --protocol FILE" 0 $?
    for f in persons.csv pairs.csv summary.json; do
        same "demo $f: built-in default = file" r1/$f d/linkage-unit/result/$f
    done
    # (the same folder: its keys are reused)
    "$W" demo --out d --scale 0.05 --protocol wyelink-da-default-1 >/dev/null 2>e
    check "demo, --protocol archived NAME" 0 $?
    grep -q "\"fingerprint\": \"$V1_FP\"" d/linkage-unit/result/summary.json
    check "demo summary carries the archived fingerprint" 0 $?
    "$W" demo --out d2 --protocol nosuch >/dev/null 2>e; check "demo, unknown protocol" 1 $?
    grep -q "'nosuch'" e && [ ! -e d2 ]; check "demo refuses it before writing" 0 $?
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
