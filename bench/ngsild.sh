#!/bin/bash
# bench/ngsild.sh: `make bench-ngsild`. The NGSI-LD API of Vigie on this machine: batch upsert,
# single-entity PATCH and GET (wrk), type+q and geo-near queries over the loaded entities, then
# 30 days of history for 1,000 of them (line protocol) and the aggregated temporal queries.
# Prints one line per target (`metric value target ok/MISS`). See bench/README.md, "NGSI-LD".
# Environment:
#   BENCH_DIR        work dir (results, logs, data dir under $BENCH_DIR/ngsild); default
#                    /work/vigie-bench (else $TMPDIR/vigie-bench); never inside the repository
#   BENCH_QUICK=1    10,000 entities, 100 temporal entities, 3 days, 3 s wrk runs (< 2 min)
#   BENCH_NGSILD_ENTITIES / BENCH_NGSILD_TEMPORAL / BENCH_NGSILD_DAYS  sizes
#                    (default 100000 / 1000 / 30)
#   BENCH_NGSILD_PROCS    upsert and line-protocol client processes (default 2)
#   BENCH_NGSILD_SECONDS  duration of each wrk run (default 10, quick 3)
#   BENCH_NGSILD_RUNS     timed runs per query (default 50; the all-entities temporal query
#                         runs BENCH_NGSILD_RUNS/2.5 times, at least 5); BENCH_WARMUP (5)
#   BENCH_WRK_THREADS     wrk threads (default 1: client and server share the machine)
#   VIGIE            the vigie binary (default ./vigie at the repository root)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
if [ -z "${BENCH_DIR:-}" ]; then
    if [ -d /work ] && [ -w /work ]; then BENCH_DIR=/work/vigie-bench; else BENCH_DIR=${TMPDIR:-/tmp}/vigie-bench; fi
fi
case "$BENCH_DIR/" in "$ROOT"/*) echo "bench-ngsild: BENCH_DIR must be outside the repository" >&2; exit 2 ;; esac
W=$BENCH_DIR/ngsild
VIGIE=${VIGIE:-$ROOT/vigie}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    QUICK=quick ENTITIES=${BENCH_NGSILD_ENTITIES:-10000} TEMPORAL=${BENCH_NGSILD_TEMPORAL:-100}
    DAYS=${BENCH_NGSILD_DAYS:-3} SECONDS_WRK=${BENCH_NGSILD_SECONDS:-3}
else
    QUICK=full ENTITIES=${BENCH_NGSILD_ENTITIES:-100000} TEMPORAL=${BENCH_NGSILD_TEMPORAL:-1000}
    DAYS=${BENCH_NGSILD_DAYS:-30} SECONDS_WRK=${BENCH_NGSILD_SECONDS:-10}
fi
PROCS=${BENCH_NGSILD_PROCS:-2}
RUNS=${BENCH_NGSILD_RUNS:-50}
WARMUP=${BENCH_WARMUP:-5}
WRK_THREADS=${BENCH_WRK_THREADS:-1}
RUNS_ALL=$(( RUNS * 2 / 5 )); [ "$RUNS_ALL" -lt 5 ] && RUNS_ALL=5

log() { echo "bench-ngsild: $*" >&2; }
[ -x "$VIGIE" ] || { log "$VIGIE not found (make vigie)"; exit 2; }
command -v wrk >/dev/null || { log "wrk not found (scripts/deps.sh bench, or apt-get install wrk)"; exit 2; }
[ "$TEMPORAL" -le "$ENTITIES" ] || { log "BENCH_NGSILD_TEMPORAL must be <= BENCH_NGSILD_ENTITIES"; exit 2; }

rm -rf "$W"; mkdir -p "$W/data" "$BENCH_DIR/results"
SPID=""
cleanup() {
    if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
        kill -TERM "$SPID" 2>/dev/null || true
        for _ in $(seq 1 300); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SPID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 - <<'EOF'
import socket
for p in (18190, 0):
    s = socket.socket()
    try:
        s.bind(('127.0.0.1', p)); print(s.getsockname()[1]); break
    except OSError:
        pass
    finally:
        s.close()
EOF
)
URL=http://127.0.0.1:$PORT
LD=/ngsi-ld/v1
FAILED=()   # correctness problems: "step: detail"

proc_kb() { awk -v k="$1:" '$1==k{print $2}' "/proc/$SPID/status" 2>/dev/null || echo 0; }
du_b() { du -s -B1 "$W/data" | cut -f1; }

log "$QUICK: $ENTITIES entities, $TEMPORAL temporal entities x $DAYS days, server on $URL, work dir $W"
"$VIGIE" serve --data "$W/data" --listen "127.0.0.1:$PORT" --auth off >"$W/server.log" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/health" || true)" = 200 ] && break
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$SPID" 2>/dev/null || { log "vigie did not start:"; tail -5 "$W/server.log" >&2; exit 1; }

# ---- 1. batch upsert --------------------------------------------------------------------------
log "1. upsert: $ENTITIES entities, batches of 1,000, $PROCS processes (create pass, then replace pass)"
python3 "$BENCH/ngsild_load.py" upsert --port "$PORT" --entities "$ENTITIES" --noise "$TEMPORAL" \
    --procs "$PROCS" --server-pid "$SPID" --ids-out "$W/ids-aq.txt" >"$W/upsert.json" \
    || FAILED+=("upsert: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("; ".join(d["create"]["errors"]+d["replace"]["errors"]))' "$W/upsert.json" 2>/dev/null || echo 'see log')")
log "   $(cat "$W/upsert.json")"
RSS_LOADED=$(proc_kb VmRSS) HWM_LOADED=$(proc_kb VmHWM) DU_LOADED=$(du_b)
log "   after load: VmRSS $RSS_LOADED kB, VmHWM $HWM_LOADED kB, data dir $DU_LOADED bytes"

# ---- 2, 3. wrk: PATCH and GET -----------------------------------------------------------------
wrk_run() {   # NAME MODE CONNS
    local name=$1 mode=$2 c=$3 t=$WRK_THREADS
    [ "$t" -gt "$c" ] && t=$c
    wrk -t"$t" -c"$c" -d"${SECONDS_WRK}s" --latency -s "$BENCH/ngsild_wrk.lua" "$URL" \
        -- "$mode" "$W/ids-aq.txt" >"$W/wrk-$name.txt" 2>&1 || true
    if grep -q '^NGSILD_WRK ' "$W/wrk-$name.txt"; then
        sed -n 's/^NGSILD_WRK //p' "$W/wrk-$name.txt" >"$W/wrk-$name.json"
        log "   $name: $(cat "$W/wrk-$name.json")"
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(1 if d["unexpected_status"] or d["socket_errors"] else 0)' "$W/wrk-$name.json" \
            || FAILED+=("$name: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%d of %d requests had another status than expected, %d socket errors; first: %s" % (d["unexpected_status"], d["requests"], d["socket_errors"], d["first_unexpected"]))' "$W/wrk-$name.json")")
    else
        echo '{}' >"$W/wrk-$name.json"; FAILED+=("$name: wrk failed, see $W/wrk-$name.txt")
    fi
}
log "2. PATCH .../attrs, 32 connections, ${SECONDS_WRK} s"
wrk_run patch32 patch 32
log "3. GET /entities/{id}, 1 and 8 connections, ${SECONDS_WRK} s each"
wrk_run get1 get 1
wrk_run get8 get 8

# ---- 4, 5. queries ----------------------------------------------------------------------------
query() {   # NAME RUNS CHECK PATH [--expect FILE]
    local name=$1 runs=$2 check=$3 path=$4; shift 4
    python3 "$BENCH/ngsild_load.py" query --port "$PORT" --name "$name" --runs "$runs" \
        --warmup "$WARMUP" --check "$check" --path "$path" "$@" >"$W/q-$name.json" \
        || FAILED+=("$name: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("error"), "on", d["path"])' "$W/q-$name.json" 2>/dev/null || echo "see $W")")
    log "   $name: $(cat "$W/q-$name.json")"
}
log "4, 5. type+q and geo-near queries, $WARMUP warm-ups + $RUNS runs each"
query typeq "$RUNS" entities=100 "$LD/entities?type=AirQualityObserved&q=NO2%3E40&limit=100"
query geonear "$RUNS" entities-max=100 \
    "$LD/entities?type=AirQualityObserved&georel=near%3BmaxDistance%3D%3D500&geometry=Point&coordinates=%5B2.35%2C48.85%5D&limit=100"

# ---- 6. temporal ------------------------------------------------------------------------------
log "6. history: $TEMPORAL entities x $DAYS days, one LAeq value / 5 min, line protocol, $PROCS processes"
python3 "$BENCH/ngsild_load.py" temporal --port "$PORT" --noise "$TEMPORAL" --days "$DAYS" \
    --procs "$PROCS" --server-pid "$SPID" --expect-out "$W/temporal-expect.json" >"$W/temporal.json" \
    || FAILED+=("temporal load: $(python3 -c 'import json,sys; print("; ".join(json.load(open(sys.argv[1]))["errors"]))' "$W/temporal.json" 2>/dev/null || echo 'see log')")
log "   $(cat "$W/temporal.json")"
END=$(python3 -c 'import sys,datetime; print((datetime.datetime(2024,1,1)+datetime.timedelta(days=int(sys.argv[1]))).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$DAYS")
TQ="attrs=LAeq&options=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=PT1H&timerel=between&timeAt=2024-01-01T00:00:00Z&endTimeAt=$END"
query temporal1 "$RUNS" temporal-one "$LD/temporal/entities/urn:ngsi-ld:NoiseLevelObserved:n0000?$TQ" \
    --expect "$W/temporal-expect.json"
query temporalall "$RUNS_ALL" temporal-all "$LD/temporal/entities?type=NoiseLevelObserved&$TQ&limit=1000" \
    --expect "$W/temporal-expect.json"

# ---- stop, sizes, table -----------------------------------------------------------------------
HWM_END=$(proc_kb VmHWM)
kill -TERM "$SPID" 2>/dev/null || true
for _ in $(seq 1 1200); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SPID" 2>/dev/null; then
    FAILED+=("shutdown: still running 120 s after SIGTERM"); kill -KILL "$SPID" 2>/dev/null || true
fi
wait "$SPID" 2>/dev/null || true
SPID=""
DU_END=$(du_b)

OUT=$BENCH_DIR/results/ngsild-latest.md
printf '%s\n' "${FAILED[@]+"${FAILED[@]}"}" >"$W/failed.txt"
python3 - "$W" "$QUICK" "$ENTITIES" "$TEMPORAL" "$DAYS" "$PROCS" "$RSS_LOADED" "$HWM_LOADED" \
    "$DU_LOADED" "$HWM_END" "$DU_END" >"$OUT" <<'EOF'
import json, os, sys
w, quick, ents, tents, days, procs = sys.argv[1:7]
rss_l, hwm_l, du_l, hwm_e, du_e = (int(x or 0) for x in sys.argv[7:12])

def load(name):
    try:
        with open(os.path.join(w, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
up, tl = load('upsert.json'), load('temporal.json')
rows = []   # (metric, value, unit, target text, ok or None)
def row(metric, v, unit, op, target):
    if v is None:
        rows.append((metric, 'n/a', '', '%s %s %s' % (op, target, unit), False)); return
    ok = v >= target if op == '>=' else v < target
    fmt = '{:,.0f}' if v >= 100 else '{:.3f}'
    rows.append((metric, fmt.format(v) + ' ' + unit, '', '%s %s %s' % (op, '{:,}'.format(target), unit), ok))
def g(d, *ks):
    for k in ks:
        if not isinstance(d, dict) or k not in d: return None
        d = d[k]
    return d
p32, g1, g8 = load('wrk-patch32.json'), load('wrk-get1.json'), load('wrk-get8.json')
row('1 upsert 1,000/batch (create)', g(up, 'create', 'entities_per_s'), 'entities/s', '>=', 50000)
row('2 PATCH attrs, 32 conns', g(p32, 'rps'), 'req/s', '>=', 20000)
row('3 GET entity p50, 1 conn', g(g1, 'p50_ms'), 'ms', '<', 0.5)
row('3 GET entity p50, 8 conns', g(g8, 'p50_ms'), 'ms', '<', 0.5)
row('4 type+q query p50', g(load('q-typeq.json'), 'p50_ms'), 'ms', '<', 10)
row('5 geo near query p50', g(load('q-geonear.json'), 'p50_ms'), 'ms', '<', 10)
row('6 temporal 1 entity p50', g(load('q-temporal1.json'), 'p50_ms'), 'ms', '<', 5)
row('6 temporal %s entities p50' % tents, g(load('q-temporalall.json'), 'p50_ms'), 'ms', '<', 500)
print('## NGSI-LD benchmark (%s: %s entities, %s temporal entities x %s days)\n' % (quick, ents, tents, days))
print('```')
print('%-34s %22s %20s  %s' % ('metric', 'value', 'target', 'ok/MISS'))
for m, v, _, t, ok in rows:
    print('%-34s %22s %20s  %s' % (m, v, t, 'ok' if ok else 'MISS'))
print('```\n')
info = []
if up:
    for k in ('create', 'replace'):
        if k in up:
            info.append('upsert %s pass: %s s, %s entities/s, server CPU %s s, statuses %s' % (
                k, up[k]['seconds'], '{:,}'.format(up[k]['entities_per_s']), up[k].get('server_cpu_s'),
                up[k]['statuses']))
for name, d in (('PATCH c32', p32), ('GET c1', g1), ('GET c8', g8)):
    if d:
        info.append('%s: %s req/s, p50 %.3f ms, p99 %.3f ms, max %.1f ms, %d requests, %d unexpected status' % (
            name, '{:,.0f}'.format(d['rps']), d['p50_ms'], d['p99_ms'], d['max_ms'], d['requests'],
            d['unexpected_status']))
for name in ('typeq', 'geonear', 'temporal1', 'temporalall'):
    d = load('q-%s.json' % name)
    if d.get('p50_ms') is not None:
        info.append('%s: p50 %.3f ms, p90 %.3f ms, min %.3f ms, %s results, %s bytes (%d runs)' % (
            name, d['p50_ms'], d['p90_ms'], d['min_ms'], d['results'], '{:,}'.format(d['bytes']), d['runs']))
if tl:
    info.append('history load: %s points in %s s = %s points/s (line protocol, %s procs), server CPU %s s' % (
        '{:,}'.format(tl['points']), tl['seconds'], '{:,}'.format(tl['points_per_s']), procs, tl.get('server_cpu_s')))
info.append('server after loading %s entities: VmRSS %.0f MB, VmHWM %.0f MB, data dir %.1f MB' % (
    ents, rss_l / 1024, hwm_l / 1024, du_l / 1e6))
info.append('server at the end: VmHWM %.0f MB; data dir after stop %.1f MB' % (hwm_e / 1024, du_e / 1e6))
for line in info:
    print('- ' + line)
with open(os.path.join(w, 'failed.txt')) as f:
    failed = [l.strip() for l in f if l.strip()]
if failed:
    print('\nCorrectness problems:')
    for l in failed:
        print('- ' + l)
EOF
cat "$OUT"
cp "$OUT" "$BENCH_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)-ngsild-$QUICK.md"
log "table written to $OUT; logs and JSON in $W"
[ ${#FAILED[@]} -eq 0 ] || exit 1
