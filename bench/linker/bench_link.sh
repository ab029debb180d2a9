#!/bin/sh
# End-to-end linkage benchmark: synthetic extracts of five agencies, hashed
# as each agency would, linked by the linkage unit; wall time and peak memory
# of `wyelink link`, then the evaluation against the ground truth, and the
# blocking figures (pair completeness, reduction ratio).
#
#   bench/linker/bench_link.sh BUILD_DIR WORK_DIR [SCALE [THREADS]]
#
# SCALE 200 gives about 1,000,000 records (police, GP, WMWA, ASC, MARAC);
# SCALE 20 about 100,000. WORK_DIR is created; keys come from a small
# `wyelink demo` run inside it. Needs /usr/bin/time (GNU time).
set -eu
build=$1
work=$2
scale=${3:-200}
threads=${4:-2}
exe=$build/wyelink
agencies=police,gp,wmwa,asc,marac
mkdir -p "$work"
if [ ! -d "$work/demo/keys" ]; then
    "$exe" demo --out "$work/demo" --scale 0.05 > /dev/null
fi
keys=$work/demo/keys
data=$work/scale$scale
if [ ! -f "$data/done" ]; then
    rm -rf "$data"
    mkdir -p "$data"
    "$exe" synth --out "$data/data" --seed 1 --scale "$scale" --agencies "$agencies" --quiet
    for a in $(echo $agencies | tr , ' '); do
        "$exe" hash --input "$data/data/$a.csv" --map "$data/data/$a.map.json" \
            --secret "$keys/$a/linkage.secret" --key "$keys/$a/$a.key" \
            --to "$keys/linkage-unit/linkage-unit.pub" --out "$data/$a.wye" \
            --local-map "$data/$a.local-map.csv" --summary-json "$data/$a.quality.json" \
            --extract-date 2023-03-31 --audit-log "$data/$a.audit.log" --quiet
    done
    touch "$data/done"
fi
out=$data/result
rm -rf "$out"
echo "== wyelink link, $threads threads, scale $scale"
/usr/bin/time -f "wall %e s, peak resident %M KB" "$exe" link \
    --key "$keys/linkage-unit/linkage-unit.key" --trust "$work/demo/linkage-unit/trust" \
    --out "$out" --audit-log "$data/link.audit.log" --threads "$threads" "$data"/*.wye
maps=""
emaps=""
for m in "$data"/*.local-map.csv; do
    a=$(basename "$m" .local-map.csv)
    maps="$maps --local-map $a=$m"
    emaps="$emaps --map $a=$m"
done
echo "== evaluation against the truth"
# shellcheck disable=SC2086
"$exe" eval --persons "$out/persons.csv" --truth "$data/data/truth.csv" $maps
echo "== blocking"
# shellcheck disable=SC2086
"$build/bench/linker/bench_blocking" --key "$keys/linkage-unit/linkage-unit.key" \
    --trust "$work/demo/linkage-unit/trust" --truth "$data/data/truth.csv" $emaps \
    --threads "$threads" "$data"/*.wye | grep -E "reduction|completeness|candidate"
