#!/bin/sh
# bench/rules.sh: `make bench-rules`. What rule evaluation costs the ingest (bench/rules_bench.c),
# on two workloads: synthetic (10,000 sensors x 200 points, values uniform around the rules'
# level: 42 % of the values must be evaluated) and the core benchmark's day (bench/gen.c, the
# same file bench/run.sh generates and caches, with one threshold rule per sensor), in process
# (bench/rules_bench.c) and through two servers (bench/rules_http.py).
# BENCH_DIR: the work dir (as bench/run.sh: default /work/vigie-bench, else $TMPDIR/vigie-bench);
# the data file is cached there and the two data directories of each run are made and removed
# there. RULES_BENCH: the bench binary (default build/bench/rules_bench); VIGIE: the server
# (default ./vigie).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${BENCH_DIR:-}" ]; then
    if [ -d /work ] && [ -w /work ]; then BENCH_DIR=/work/vigie-bench; else BENCH_DIR=${TMPDIR:-/tmp}/vigie-bench; fi
fi
case "$BENCH_DIR/" in "$ROOT"/*) echo "bench: BENCH_DIR must be outside the repository" >&2; exit 2 ;; esac
W=$BENCH_DIR
BIN=${RULES_BENCH:-$ROOT/build/bench/rules_bench}
mkdir -p "$W"
"$BIN" 10000 10000 200 "$W"
gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -o "$W/gen" "$ROOT/bench/gen.c" -lm
DATA=$W/data-s10000-t200-h24-seed42-v$("$W/gen" --data-version)
if [ ! -s "$DATA.lp" ] || [ ! -s "$DATA.json" ]; then
    "$W/gen" --seed 42 --sensors 10000 --trucks 200 --hours 24 --out "$DATA.lp.tmp" \
        --expect "$DATA.json.tmp" >&2
    mv "$DATA.json.tmp" "$DATA.json"
    mv "$DATA.lp.tmp" "$DATA.lp"
fi
"$BIN" --city "$DATA.lp" "$W"
# the same day through two servers (POST /write, one with the rules): with the day's alerts, and
# with levels no value reaches (evaluation alone)
python3 "$ROOT/bench/rules_http.py" --vigie "${VIGIE:-$ROOT/vigie}" --file "$DATA.lp" --work "$W"
python3 "$ROOT/bench/rules_http.py" --vigie "${VIGIE:-$ROOT/vigie}" --file "$DATA.lp" --work "$W" \
    --unreachable
