#!/bin/sh
# Stands in for wyelink in tests/e2e/test_no_leak.py: runs `wyelink demo`
# with the arguments given, then adds to the demo's folder the report of its
# linkage (linked again with exact counts, with the agencies' quality
# summaries), so that the e2e test searches the report and its CSV tables
# for every input identifier too. $WYELINK_REAL is the real wyelink.
set -e
w=${WYELINK_REAL:?}
# Any other command (the e2e test also runs `map check`) passes straight through.
[ "${1:-}" = demo ] || exec "$w" "$@"
"$w" "$@"
out=demo
while [ $# -gt 0 ]; do
    [ "$1" = --out ] && out=$2
    shift
done
k=$out/keys
set --
for a in police gp asc wmwa marac idva housing; do
    set -- "$@" "$k/$a/$a.wye"
done
"$w" link --key "$k/linkage-unit/linkage-unit.key" --trust "$out/linkage-unit/trust" \
    --out "$out/linkage-unit/exact-result" --exact-small-counts --quiet \
    --audit-log "$out/linkage-unit/linkage-unit.audit.log" "$@"
set --
for a in police gp asc wmwa marac idva housing; do
    set -- "$@" --quality "$k/$a/$a.quality.json"
done
mkdir -p "$out/report"
"$w" report --result "$out/linkage-unit/exact-result" --out "$out/report/report.html" \
    --key "$k/linkage-unit/linkage-unit.key" \
    --audit-log "$out/linkage-unit/linkage-unit.audit.log" "$@"
