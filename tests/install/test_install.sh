#!/bin/sh
# The installed program needs nothing of the tree it was built from (issue
# 13): `meson install` into a DESTDIR, then the installed `wyelink demo` runs
# in an empty folder with a clean environment and, where unprivileged user
# namespaces allow it, with the source and build trees hidden under empty
# mounts. The binary must also carry no path of those trees.
set -u
MESON=${1:?usage: test_install.sh MESON BUILD_ROOT SOURCE_ROOT}
BUILD=${2:?usage: test_install.sh MESON BUILD_ROOT SOURCE_ROOT}
SRC=${3:?usage: test_install.sh MESON BUILD_ROOT SOURCE_ROOT}
SRC=$(cd "$SRC" && pwd -P) && BUILD=$(cd "$BUILD" && pwd -P) || exit 1
fail=0; pass=0
check() { # description expected-status actual-status
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
        echo "FAIL: $1: expected exit $2, got $3"; fail=$((fail + 1)); fi
}

# The scratch folder must lie outside both trees, since they are hidden.
tmp=${TMPDIR:-/tmp}
case "$(cd "$tmp" && pwd -P)/" in "$SRC"/*|"$BUILD"/*) tmp=/tmp ;; esac
T=$(mktemp -d "$tmp/wye_install.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
mkdir "$T/run" "$T/home"

"$MESON" install -C "$BUILD" --no-rebuild --quiet --destdir "$T/dest" >"$T/install.log" 2>&1
check "meson install --destdir" 0 $?
BIN=$(find "$T/dest" -type f -name wyelink | head -n 1)
[ -n "$BIN" ] && [ -x "$BIN" ]; check "the program is installed" 0 $?
if [ -z "$BIN" ]; then cat "$T/install.log"; echo "$pass passed, $fail failed"; exit 1; fi

# No path of the trees in the program. Debug information (not loaded at run
# time; a packager strips it) names the build folder, so look at a copy
# without it.
if command -v objcopy >/dev/null && command -v strings >/dev/null; then
    objcopy --strip-debug "$BIN" "$T/stripped"; check "objcopy --strip-debug" 0 $?
    for root in "$SRC" "$BUILD"; do
        strings -a "$T/stripped" | grep -F "$root" >"$T/hits"
        [ ! -s "$T/hits" ]; check "no path under $root in the program" 0 $?
        head -3 "$T/hits"
    done
else
    echo "note: no objcopy or strings; the path check is skipped"
fi

# Run the installed demo with the trees hidden: tmpfs over each, inside a
# user and mount namespace (no root needed). Without namespaces, the clean
# environment and an unrelated working folder still keep the trees unnamed.
cat >"$T/demo.sh" <<'SCRIPT'
set -u
BIN=$1 SRC=$2 BUILD=$3 RUN=$4 HIDE=$5
if [ "$HIDE" = yes ]; then
    mount -t tmpfs none "$SRC" || exit 90
    case "$BUILD/" in "$SRC"/*) ;; *) mount -t tmpfs none "$BUILD" || exit 90 ;; esac
    [ ! -e "$SRC/protocols/default.json" ] || exit 91
fi
cd "$RUN" || exit 92
exec "$BIN" demo --out X --scale 0.2
SCRIPT
hide=no
if unshare -r -m sh -c "mount -t tmpfs none '$T/home'" 2>/dev/null; then hide=yes
else echo "note: no unprivileged mount namespace; the trees stay visible but unnamed"; fi
run_clean() {
    env -i PATH=/usr/bin:/bin HOME="$T/home" LANG=C \
        ${ASAN_OPTIONS+ASAN_OPTIONS="$ASAN_OPTIONS"} \
        ${UBSAN_OPTIONS+UBSAN_OPTIONS="$UBSAN_OPTIONS"} \
        ${LSAN_OPTIONS+LSAN_OPTIONS="$LSAN_OPTIONS"} "$@"
}
if [ $hide = yes ]; then
    run_clean unshare -r -m sh "$T/demo.sh" "$BIN" "$SRC" "$BUILD" "$T/run" yes \
        >"$T/demo.out" 2>"$T/demo.err"
else
    run_clean sh "$T/demo.sh" "$BIN" "$SRC" "$BUILD" "$T/run" no >"$T/demo.out" 2>"$T/demo.err"
fi
rc=$?
check "installed wyelink demo, trees hidden: $hide" 0 $rc
[ $rc -eq 0 ] || tail -5 "$T/demo.err"
R="$T/run/X/linkage-unit/result"
for f in persons.csv pairs.csv summary.json; do
    [ -s "$R/$f" ]; check "the demo wrote $f" 0 $?
done
[ "$(wc -l <"$R/persons.csv")" -gt 100 ]; check "persons.csv holds the records" 0 $?
grep -q '^== done' "$T/demo.out"; check "the demo ran to the end (evaluation included)" 0 $?
fp=$("$BIN" protocol fingerprint "$SRC/protocols/default.json")
grep -q "\"fingerprint\": \"$fp\"" "$R/summary.json"
check "the results carry the fingerprint of protocols/default.json" 0 $?
[ "$(ls -A "$T/run")" = X ]; check "the demo wrote nothing but its --out folder" 0 $?

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
