#!/usr/bin/env bash
# Run every libFuzzer harness of a -Dfuzzing=true build for a given time.
#
#   bench/fuzz/run_fuzz.sh BUILD_DIR SECONDS_PER_HARNESS [JOBS]
#
# Each harness fuzzes a copy of its seed corpus (tests/<area>/corpus/<name>)
# in BUILD_DIR/fuzz-work/<name>/corpus, so new inputs never land in the
# repository; crash, leak, timeout and out-of-memory reproducers go to
# BUILD_DIR/fuzz-work/<name>/crashes and libFuzzer's output to
# BUILD_DIR/fuzz-work/<name>/fuzz.log. JOBS harnesses run at once (default 1:
# one fuzzer per core you can spare). After a crash the harness is restarted
# on its grown corpus until its time is up (at most 10 runs), so one bug does
# not end the run. The script stops by itself: libFuzzer gets
# -max_total_time, and timeout(1) kills a fuzzer that overstays by 2 minutes.
#
# Prints one line per harness as it ends, then the table: seconds, runs,
# executions and executions per second (from -print_final_stats=1), seed and
# final corpus sizes (files), edges covered (libFuzzer's last "cov:"), and
# reproducers saved. Exit status: 0 when no harness saved a reproducer, 1 when
# one did, 2 on misuse. See bench/fuzz/FUZZING.md.
set -u

usage() {
    echo "usage: run_fuzz.sh BUILD_DIR SECONDS_PER_HARNESS [JOBS]" >&2
    exit 2
}
[ $# -ge 2 ] && [ $# -le 3 ] || usage
case "$2" in '' | *[!0-9]*) usage ;; esac
case "${3:-1}" in '' | *[!0-9]* | 0) usage ;; esac
[ -d "$1/tests" ] || { echo "run_fuzz.sh: '$1' is not a meson build folder" >&2; exit 2; }
build=$(cd "$1" && pwd)
secs=$2
jobs=${3:-1}
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$build/fuzz-work
per_input_timeout=30

# UBSan findings must end the run like ASan's, so libFuzzer saves them.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

harnesses=()
for bin in "$build"/tests/*/fuzz_*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    if ! "$bin" -help=1 2>&1 | grep -q 'To run fuzzing'; then
        echo "run_fuzz.sh: '$bin' is not a libFuzzer program; set the build up with" \
             "-Dfuzzing=true (bench/fuzz/FUZZING.md)" >&2
        exit 2
    fi
    harnesses+=("$bin")
done
[ ${#harnesses[@]} -gt 0 ] || { echo "run_fuzz.sh: no fuzz_* harness under '$build/tests'" >&2; exit 2; }

# The harness tests/<area>/fuzz_<name> fuzzes tests/<area>/corpus/<name>.
seeds_of() {
    local bin=$1 area name
    area=$(basename "$(dirname "$bin")")
    name=$(basename "$bin")
    echo "$src/tests/$area/corpus/${name#fuzz_}"
}

count_files() { find "$1" -maxdepth 1 -type f ! -name '.*' | wc -l; }

# Runs one harness; writes its result line to fuzz-work/<name>/result.
run_one() {
    local bin=$1 name seeds w start now left runs=0 execs=0 rc cov=0 n tpid=
    name=$(basename "$bin")
    seeds=$(seeds_of "$bin")
    w=$work/$name
    rm -rf "$w"
    mkdir -p "$w/corpus" "$w/crashes"
    if [ ! -d "$seeds" ]; then
        echo "run_fuzz.sh: no seed corpus '$seeds' for $name" >&2
        return 1
    fi
    find "$seeds" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$w/corpus/" \;
    trap '[ -n "$tpid" ] && kill -TERM "$tpid" 2>/dev/null; exit 130' INT TERM
    start=$(date +%s)
    while :; do
        now=$(date +%s)
        left=$((start + secs - now))
        [ "$left" -gt 0 ] && [ "$runs" -lt 10 ] || break
        runs=$((runs + 1))
        echo "=== run $runs: $left s" >>"$w/fuzz.log"
        timeout -k 10 $((left + 120)) "$bin" -max_total_time="$left" -print_final_stats=1 \
            -timeout="$per_input_timeout" -rss_limit_mb=2048 \
            -artifact_prefix="$w/crashes/" "$w/corpus" >"$w/run.log" 2>&1 &
        tpid=$!
        wait "$tpid"
        rc=$?
        tpid=
        cat "$w/run.log" >>"$w/fuzz.log"
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/run.log" | tail -n 1)
        if [ -z "$n" ]; then # killed without final stats: the last status line
            n=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$w/run.log" | tail -n 1)
        fi
        execs=$((execs + ${n:-0}))
        n=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$w/run.log" | tail -n 1)
        [ -n "$n" ] && cov=$n
        [ "$rc" -eq 0 ] && break
        # a crash while loading the corpus would only repeat itself
        grep -q 'INITED' "$w/run.log" || break
        [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && break
    done
    rm -f "$w/run.log"
    now=$(date +%s)
    local elapsed=$((now - start))
    local crashes
    crashes=$(find "$w/crashes" -maxdepth 1 -type f \
        \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    printf '%-14s %8d %5d %12d %9d %6d %7d %6d %8d\n' "$name" "$elapsed" "$runs" "$execs" \
        $((execs / (elapsed > 0 ? elapsed : 1))) "$(count_files "$seeds")" \
        "$(count_files "$w/corpus")" "$cov" "$crashes" | tee "$w/result"
}

header=$(printf '%-14s %8s %5s %12s %9s %6s %7s %6s %8s' harness seconds runs executions \
    'exec/s' seeds corpus cov crashes)
echo "run_fuzz.sh: ${#harnesses[@]} harnesses, $secs s each, $jobs at a time;" \
     "work in $work ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
echo "$header"
mkdir -p "$work"

pids=()
stop() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    wait
    exit 130
}
trap stop INT TERM
for bin in "${harnesses[@]}"; do
    if [ "$jobs" -eq 1 ]; then
        run_one "$bin" &
        pids=($!)
        wait "${pids[0]}"
        continue
    fi
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
    run_one "$bin" &
    pids+=($!)
done
wait

echo
echo "$header"
status=0
for bin in "${harnesses[@]}"; do
    r=$work/$(basename "$bin")/result
    if [ -f "$r" ]; then
        cat "$r"
        [ "$(awk '{print $NF}' "$r")" -eq 0 ] || status=1
    else
        printf '%-14s (no result)\n' "$(basename "$bin")"
        status=1
    fi
done
echo "run_fuzz.sh: done ($(date -u +%Y-%m-%dT%H:%M:%SZ)); reproducers, if any, in $work/*/crashes"
exit $status
