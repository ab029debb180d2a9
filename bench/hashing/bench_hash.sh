#!/bin/sh
# Benchmark of `wyelink hash` (issue 4): the default protocol on ROWS rows of
# synthetic police data, with 1 and 2 threads (and 2 with --compress); wall
# time, records per second, peak RSS (/usr/bin/time -v), ratio to the
# 400,000 records/s target, file size; then the stages apart
# (bench_hash_stages), ending with a yardstick of this machine's speed at the
# time (libsodium's BLAKE2b and XChaCha20-Poly1305 over 64 MiB): the VM's
# speed drifts, and runs of different hours compare only through it.
# Results go into bench/RESULTS.md by hand.
#
# usage: bench/hashing/bench_hash.sh [BUILD_DIR] [ROWS]
#        (default BUILD_DIR build, ROWS 1000000; needs /usr/bin/time)
# Everything is written under a fresh temporary folder, removed at the end.
set -eu
BUILD=${1:-build}
ROWS=${2:-1000000}
W=$(cd "$BUILD" && pwd)/wyelink
STAGES=$(cd "$BUILD" && pwd)/bench/hashing/bench_hash_stages
[ -x "$W" ] || { echo "no $W: build first (ninja -C $BUILD)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
T=$(mktemp -d "${TMPDIR:-/tmp}/wyelink-bench-hash-XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM

# Keys: an agency, the linkage unit, a custodian who makes and seals the secret.
for p in police:agency lu:linkage-unit cust:custodian; do
    "$W" keys create --name "${p%%:*}" --role "${p#*:}" --out "$T/keys" \
        --audit-log "$T/${p%%:*}.log" >/dev/null
done
"$W" keys secret --out "$T/cust.secret" --key "$T/keys/cust.key" --audit-log "$T/cust.log" >/dev/null
"$W" keys seal --secret "$T/cust.secret" --custodian-key "$T/keys/cust.key" \
    --to "$T/keys/police.pub" --out "$T/police.sealed" --audit-log "$T/cust.log" >/dev/null
"$W" keys open --sealed "$T/police.sealed" --key "$T/keys/police.key" \
    --custodian "$T/keys/cust.pub" --out "$T/police.secret" --audit-log "$T/police.log" >/dev/null

# Data: synthetic police records (about 1,980 per unit of scale), cut to ROWS.
SCALE=$(( ROWS / 1970 + 1 ))
"$W" synth --out "$T/data" --agencies police --scale "$SCALE" --extract-date 2023-03-31 --quiet
head -n $(( ROWS + 1 )) "$T/data/police.csv" > "$T/in.csv"
BYTES=$(wc -c < "$T/in.csv")

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $ROWS rows, $BYTES bytes (wyelink synth --agencies police --scale $SCALE, first $ROWS rows)"
for N in 1 2 2z; do
    Z=""
    [ "$N" = 2z ] && Z=--compress
    /usr/bin/time -v "$W" hash --input "$T/in.csv" --map "$T/data/police.map.json" \
        --secret "$T/police.secret" --key "$T/keys/police.key" --to "$T/keys/lu.pub" \
        --out "$T/out$N.wye" --local-map "$T/map$N.csv" --summary-json "$T/sum$N.json" \
        --extract-date 2023-03-31 --threads "${N%z}" $Z --quiet --audit-log "$T/police.log" \
        2> "$T/time$N.txt"
    WALL=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$T/time$N.txt" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    USER=$(sed -n 's/.*User time (seconds): //p' "$T/time$N.txt")
    RSS=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/time$N.txt")
    ENC=$(sed -n 's/.*"rows_encoded": \([0-9]*\).*/\1/p' "$T/sum$N.json")
    SIZE=$(wc -c < "$T/out$N.wye")
    echo "$N" "$WALL" "$USER" "$RSS" "$ENC" "$SIZE" | awk -v rows="$ROWS" -v z="$Z" '{
        rate = rows / $2;
        printf "threads %d%s: %.2f s wall, %.2f s user, peak RSS %.0f MB, %d encoded, %.0f rows/s, %.2f x target, file %.1f MB\n",
               $1, (z != "" ? " " z : ""), $2, $3, $4 / 1024, $5, rate, rate / 400000, $6 / 1e6 }'
done
cmp -s "$T/map1.csv" "$T/map2.csv" && echo "local maps of 1 and 2 threads identical" ||
    { echo "local maps differ between 1 and 2 threads" >&2; exit 1; }
if [ -x "$STAGES" ]; then
    echo "stages:"
    "$STAGES" "$T/in.csv" "$T/data/police.map.json" "$T/police.secret" \
        "$T/keys/police.key" "$T/keys/lu.key" 2023-03-31
fi
