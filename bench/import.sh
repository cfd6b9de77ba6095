#!/bin/bash
# bench/import.sh: `make bench-import`. CSV import throughput of `vigie import` from a local file
# (issue target: 1 million measurement rows/s). Generates BENCH_IMPORT_ROWS rows (default
# 1,000,000; 1,000 meters, one row a minute each, a decimal-comma value and an integer, ';'),
# imports it into a fresh data dir twice (the second run re-imports: same points, no
# duplicates) and prints `import rows/s value target ok/MISS`. BENCH_DIR as bench/ngsild.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VIGIE=${VIGIE:-$ROOT/vigie}
ROWS=${BENCH_IMPORT_ROWS:-1000000}
if [ -z "${BENCH_DIR:-}" ]; then
    if [ -d /work ] && [ -w /work ]; then BENCH_DIR=/work/vigie-bench; else BENCH_DIR=${TMPDIR:-/tmp}/vigie-bench; fi
fi
W=$BENCH_DIR/import
rm -rf "$W"; mkdir -p "$W" "$BENCH_DIR/results"
python3 - "$W/meters.csv" "$ROWS" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    f.write("compteur;horodatage;index;impulsions\n")
    t = 1704067200
    for i in range(int(sys.argv[2])):
        f.write("m%04d;%d;%s;%d\n" % (i % 1000, t + (i // 1000) * 60,
                                      ("%.2f" % (random.random() * 1000)).replace(".", ","), i % 97))
PY
cat >"$W/meters.json" <<'JSON'
{"files": [{"match": "*.csv", "delimiter": ";", "decimal": ",", "type": "WaterMeter",
            "id": "urn:ngsi-ld:WaterMeter:{compteur}", "time": {"column": "horodatage", "format": "epoch_s"},
            "attributes": [{"column": "index", "name": "volume", "type": "number", "unit": "MTQ"},
                           {"column": "impulsions", "name": "pulses", "type": "integer"}]}]}
JSON
out=""
for run in first reimport; do
    line=$("$VIGIE" import "$W/meters.csv" --mapping "$W/meters.json" --data "$W/data" --progress off | head -1)
    echo "bench-import: $run: $line" >&2
    out="$out$run: $line"$'\n'
done
rate=$(printf '%s' "$out" | sed -n 's/^first: .* \([0-9]*\) rows\/s$/\1/p')
ok=MISS; [ "${rate:-0}" -ge 1000000 ] && ok=ok
{
    echo "## CSV import ($ROWS rows, 2 values a row, decimal comma)"
    echo
    printf '%-40s %14s %18s  %s\n' metric value target ok/MISS
    printf '%-40s %10s rows/s %11s rows/s  %s\n' "import, local file" "$rate" ">= 1000000" "$ok"
    echo
    printf '%s' "$out" | sed 's/^/- /'
} | tee "$BENCH_DIR/results/import-latest.md"
