#!/usr/bin/env bash
# Crash injection (issue 14): kill `wyelink hash` and `wyelink link` with
# SIGKILL at each write, fsync, rename and unlink they make (strace's syscall
# fault injection), and check after every kill that
#   1. no output stands under its final name unless its whole set does: the
#      final names hold the previous set or the new one, never a mix, except
#      while a set's journal (.NAME.~set) says a commit is under way, which
#      the next run completes;
#   2. the party's audit log verifies;
#   3. the next run succeeds, leaves the new set in place and no temp file.
# Usage: test_crash.sh WYELINK. Exit 77 (skipped) where strace cannot trace.
set -u
W=$1
command -v strace >/dev/null || { echo "skip: strace is not installed"; exit 77; }
strace -f -qq -o /dev/null true 2>/dev/null || { echo "skip: strace cannot trace here"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/wyelink-crash-XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0 kills=0 bad=0
fail() { echo "FAIL: $*"; bad=1; }

"$W" demo --out "$T/d" --scale 0.2 >"$T/demo.log" 2>&1 || { cat "$T/demo.log"; exit 1; }
D=$T/d K=$T/d/keys

# --- the two commands under test, each writing one set of outputs --------
hash_outs=("$T/h/out.wye" "$T/h/out.local-map.csv" "$T/h/out.quality.json")
hash_cmd() { # input-agency: the command line into CMD
    CMD=("$W" hash --input "$D/data/$1.csv" --map "$D/data/$1.map.json" \
        --secret "$K/police/linkage.secret" --key "$K/police/police.key" \
        --to "$K/linkage-unit/linkage-unit.pub" --extract-date 2023-03-31 \
        --out "${hash_outs[0]}" --local-map "${hash_outs[1]}" --summary-json "${hash_outs[2]}" \
        --audit-log "$T/h/police.audit.log" --quiet)
}
link_outs=("$T/l/result/persons.csv" "$T/l/result/pairs.csv" "$T/l/result/summary.json")
link_cmd() { # agencies...: the command line into CMD
    local files=()
    for a in "$@"; do files+=("$K/$a/$a.wye"); done
    CMD=("$W" link --key "$K/linkage-unit/linkage-unit.key" --trust "$D/linkage-unit/trust" \
        --out "$T/l/result" --audit-log "$T/l/lu.audit.log" --quiet "${files[@]}")
}
all=(police gp asc wmwa marac idva housing)

# Which generation the final names hold: "old", "new", "mixed" or "none".
classify() { # outs-array-name ref-old-dir ref-new-dir
    local -n outs=$1
    local old=0 new=0 other=0
    for f in "${outs[@]}"; do
        local b; b=$(basename "$f")
        if [ ! -e "$f" ]; then other=$((other + 1))
        elif cmp -s "$f" "$2/$b"; then old=$((old + 1))
        elif [ "${b##*.}" = wye ] && [ "$(stat -c %s "$f")" = "$(stat -c %s "$3/$b")" ]; then
            new=$((new + 1)) # sealed: random bytes, a size fixed by the rows
        elif cmp -s "$f" "$3/$b"; then new=$((new + 1))
        else other=$((other + 1)); fi
    done
    local n=${#outs[@]}
    if [ "$old" = "$n" ]; then echo old
    elif [ "$new" = "$n" ]; then echo new
    elif [ "$other" = "$n" ]; then echo none
    else echo mixed; fi
}

# Run one command under fault injection for every syscall and occurrence.
crash_loop() { # name outs-array-name dir log signer-pub old-cmd... -- new-cmd...
    local name=$1 outsname=$2 dir=$3 log=$4 pub=$5; shift 5
    local -n outs=$outsname
    local old=() new=()
    while [ "$1" != -- ]; do old+=("$1"); shift; done
    shift; new=("$@")
    # reference sets: the old one in place, the new one copied aside
    mkdir -p "$dir" "$T/ref-new-$name" "$T/ref-old-$name"
    "${new[@]}" || { echo "FAIL: $name reference run failed"; exit 1; }
    for f in "${outs[@]}"; do cp -p "$f" "$T/ref-new-$name/"; done
    "${old[@]}" || { echo "FAIL: $name old run failed"; exit 1; }
    for f in "${outs[@]}"; do cp -p "$f" "$T/ref-old-$name/"; done

    for sc in write fsync fdatasync rename renameat renameat2 unlink unlinkat ftruncate; do
        for ((n = 1; n < 400; n++)); do
            (strace -f -qq -o /dev/null -e trace="$sc" -e inject="$sc:signal=KILL:when=$n" \
                "${new[@]}" >/dev/null 2>&1) 2>/dev/null
            local rc=$?
            [ "$rc" = 137 ] || break # ran to the end: no $n-th $sc
            kills=$((kills + 1))
            bad=0
            local state; state=$(classify "$outsname" "$T/ref-old-$name" "$T/ref-new-$name")
            local journal; journal=$(find "$(dirname "${outs[0]}")" "$(dirname "${outs[-1]}")" \
                -maxdepth 1 -name '.*.~set' | head -1)
            if [ "$state" = mixed ] || [ "$state" = none ]; then
                [ -n "$journal" ] || fail "$name killed at $sc #$n: outputs $state with no journal"
            fi
            "$W" audit verify "$log" --signer "$pub" >/dev/null 2>&1 ||
                fail "$name killed at $sc #$n: the audit log does not verify"
            if ! "${new[@]}" >/dev/null 2>"$T/next.err"; then
                fail "$name killed at $sc #$n: the next run failed: $(head -2 "$T/next.err")"
            fi
            state=$(classify "$outsname" "$T/ref-old-$name" "$T/ref-new-$name")
            [ "$state" = new ] || fail "$name killed at $sc #$n: after the next run outputs are $state"
            local left; left=$(find "$(dirname "${outs[0]}")" "$(dirname "${outs[-1]}")" \
                -maxdepth 1 \( -name '.*.~tmp.*' -o -name '.*.~set' \) | wc -l)
            [ "$left" = 0 ] || fail "$name killed at $sc #$n: $left temp or journal files left"
            fails=$((fails + bad))
            # the old set back for the next kill
            for f in "${outs[@]}"; do cp -p "$T/ref-old-$name/$(basename "$f")" "$f"; done
        done
    done
}

hash_cmd police; old=("${CMD[@]}"); hash_cmd gp
crash_loop hash hash_outs "$T/h" "$T/h/police.audit.log" "$K/police/police.pub" \
    "${old[@]}" -- "${CMD[@]}"
link_cmd "${all[@]}"; old=("${CMD[@]}"); link_cmd "${all[@]:0:6}"
crash_loop link link_outs "$T/l/result" "$T/l/lu.audit.log" "$K/linkage-unit/linkage-unit.pub" \
    "${old[@]}" -- "${CMD[@]}"

echo "crash injection: $kills kills of hash and link"
if [ "$kills" -le 20 ]; then
    echo "FAIL: only $kills kills: the injection did not reach the commands"
    fails=$((fails + 1))
fi
if [ "$fails" = 0 ]; then echo "$kills passed, 0 failed"; exit 0; fi
echo "$((kills - fails)) passed, $fails failed"
exit 1
