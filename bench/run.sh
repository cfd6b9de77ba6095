#!/bin/bash
# bench/run.sh: `make bench`. Ingests the same generated data set into Vigie, InfluxDB 1.6 and
# VictoriaMetrics 1.79 (one system at a time, each on a fresh data dir), times the same queries
# on each, measures bytes on disk and peak RSS, and prints a comparison table. Two phases, one
# table each: "day" (a city for one day, queries (a), (b), (c)) and "month" (300 sensors for
# 30 days, query (a30): hourly average of one sensor over the 30 days).
# See bench/README.md. Environment:
#   BENCH_DIR      work dir (data file, data dirs, logs, results); default /work/vigie-bench
#   BENCH_SYSTEMS  systems to run, in order; default "vigie influxdb victoriametrics"
#   BENCH_PHASES   phases to run, in order; default "day month"
#   BENCH_QUICK=1  tiny workloads (day: 500 sensors, 10 trucks, 2 h; month: 50 sensors, 3 days)
#   BENCH_MONTH_SENSORS / BENCH_MONTH_DAYS  month phase size (default 300 / 30)
#   BENCH_SEED     generator seed (default 42); BENCH_RUNS / BENCH_WARMUP (default 20 / 3)
#   BENCH_BATCH / BENCH_CONNS  lines per POST / sender connections (default 10000 / 2)
#   VIGIE          the vigie binary (default ./vigie at the repository root)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
if [ -z "${BENCH_DIR:-}" ]; then
    if [ -d /work ] && [ -w /work ]; then BENCH_DIR=/work/vigie-bench; else BENCH_DIR=${TMPDIR:-/tmp}/vigie-bench; fi
fi
case "$BENCH_DIR/" in "$ROOT"/*) echo "bench: BENCH_DIR must be outside the repository" >&2; exit 2 ;; esac
W=$BENCH_DIR
SYSTEMS=${BENCH_SYSTEMS:-"vigie influxdb victoriametrics"}
SEED=${BENCH_SEED:-42}
RUNS=${BENCH_RUNS:-20}
WARMUP=${BENCH_WARMUP:-3}
BATCH=${BENCH_BATCH:-10000}
CONNS=${BENCH_CONNS:-2}
VIGIE=${VIGIE:-$ROOT/vigie}
SETTLE_QUIET=${BENCH_SETTLE_QUIET:-15}   # seconds without a change of the data dir's size
SETTLE_MAX=${BENCH_SETTLE_MAX:-180}
PHASES=${BENCH_PHASES:-"day month"}
for p in $PHASES; do
    case $p in day|month) ;; *) echo "bench: unknown phase '$p' (day, month)" >&2; exit 2 ;; esac
done
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    QUICK=quick SETTLE_QUIET=3 MONTH_SENSORS=${BENCH_MONTH_SENSORS:-50} MONTH_DAYS=${BENCH_MONTH_DAYS:-3}
else
    QUICK=full MONTH_SENSORS=${BENCH_MONTH_SENSORS:-300} MONTH_DAYS=${BENCH_MONTH_DAYS:-30}
fi
INFLUXD=${INFLUXD:-/usr/bin/influxd}
VMBIN=${VMBIN:-/usr/bin/victoria-metrics}

mkdir -p "$W/results" "$W/run"
log() { echo "bench: $*" >&2; }

# ---- cleanup: stop whatever this script started --------------------------------------------
SPID=""      # the system under test
SAMPLER=""   # its RSS sampler
cleanup() {
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
    if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
        kill -TERM "$SPID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SPID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {   # free_port PREFERRED: prints PREFERRED if free, else a free one from the kernel
    python3 - "$1" <<'EOF'
import socket, sys
for p in (int(sys.argv[1]), 0):
    s = socket.socket()
    try:
        s.bind(('127.0.0.1', p)); print(s.getsockname()[1]); break
    except OSError:
        pass
    finally:
        s.close()
EOF
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }

# ---- workload -------------------------------------------------------------------------------
gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -o "$W/gen" "$BENCH/gen.c" -lm
# Generated files are cached under a name made of the parameters and gen.c's data version
# (GEN_DATA_VERSION, bumped whenever gen.c's output changes).
GENVER=$("$W/gen" --data-version)

# Sets PHASE, SENSORS, TRUCKS, HOURS, QUERIES, DATA, EXPECT, VALUES, LINES for phase $1,
# generating the data file if it is not cached.
workload() {   # PHASE
    local tag
    PHASE=$1
    case $PHASE in
        day) QUERIES=abc
            if [ "$QUICK" = quick ]; then SENSORS=500 TRUCKS=10 HOURS=2; else SENSORS=10000 TRUCKS=200 HOURS=24; fi ;;
        month) QUERIES=a SENSORS=$MONTH_SENSORS TRUCKS=0 HOURS=$((MONTH_DAYS * 24)) ;;
    esac
    tag="s$SENSORS-t$TRUCKS-h$HOURS-seed$SEED-v$GENVER"
    DATA=$W/data-$tag.lp
    EXPECT=$W/data-$tag.json
    if [ ! -s "$DATA" ] || [ ! -s "$EXPECT" ]; then
        # keep the files of other sizes, drop stale versions of the same size
        rm -f "$W"/data-s$SENSORS-t$TRUCKS-h$HOURS-*.lp "$W"/data-s$SENSORS-t$TRUCKS-h$HOURS-*.json
        log "generating $DATA"
        "$W/gen" --seed "$SEED" --sensors "$SENSORS" --trucks "$TRUCKS" --hours "$HOURS" \
            --out "$DATA.tmp" --expect "$EXPECT.tmp" >&2
        mv "$EXPECT.tmp" "$EXPECT"
        mv "$DATA.tmp" "$DATA"
    fi
    VALUES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["values"])' "$EXPECT")
    LINES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lines"])' "$EXPECT")
    log "phase $PHASE: $SENSORS sensors (1/min), $TRUCKS trucks (1/10 s), $HOURS h: $LINES lines, $VALUES values, $(stat -c %s "$DATA") bytes"
}

# ---- one system -----------------------------------------------------------------------------
start_influxdb() {   # DIR PORT
    local d=$1 port=$2 rpc
    rpc=$(free_port 18088)
    cat >"$d/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$d/data/meta"
[data]
  dir = "$d/data/data"
  wal-dir = "$d/data/wal"
  wal-fsync-delay = "0s"
  index-version = "inmem"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "5s"
  compact-full-write-cold-duration = "10s"
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$port"
  log-enabled = false
  max-body-size = 0
[logging]
  level = "warn"
EOF
    "$INFLUXD" -config "$d/influxdb.conf" >"$d/server.log" 2>&1 &
    SPID=$!
}
health_influxdb() { [ "$(http_code "http://127.0.0.1:$1/ping")" = 204 ]; }
setup_influxdb() {
    curl -sf --max-time 30 -XPOST "http://127.0.0.1:$1/query" --data-urlencode 'q=CREATE DATABASE bench' >/dev/null
}

start_victoriametrics() {
    local d=$1 port=$2
    "$VMBIN" -storageDataPath="$d/data" -httpListenAddr="127.0.0.1:$port" -retentionPeriod=100y \
        -search.latencyOffset=0 -search.disableCache -search.maxUniqueTimeseries=1000000 \
        >"$d/server.log" 2>&1 &
    SPID=$!
}
health_victoriametrics() { [ "$(http_code "http://127.0.0.1:$1/health")" = 200 ]; }
setup_victoriametrics() { :; }

start_vigie() {
    local d=$1 port=$2
    "$VIGIE" serve --data "$d/data" --listen "127.0.0.1:$port" --auth off >"$d/server.log" 2>&1 &
    SPID=$!
}
health_vigie() { [ "$(http_code "http://127.0.0.1:$1/health")" = 200 ]; }
setup_vigie() { :; }

# Waits until the data dir's size has not changed for SETTLE_QUIET seconds (background
# flushes and compactions done), at most SETTLE_MAX seconds.
settle() {   # DIR PORT SYSTEM
    local d=$1 port=$2 sys=$3 last=-1 cur same=0 t=0
    [ "$sys" = victoriametrics ] && curl -s --max-time 60 "http://127.0.0.1:$port/internal/force_flush" >/dev/null || true
    while [ "$t" -lt "$SETTLE_MAX" ]; do
        cur=$(du -s -B1 "$d/data" 2>/dev/null | cut -f1)
        if [ "$cur" = "$last" ]; then same=$((same + 1)); else same=0; last=$cur; fi
        [ "$same" -ge "$SETTLE_QUIET" ] && break
        sleep 1; t=$((t + 1))
    done
    echo "$t"
}

run_system() {   # SYSTEM -> writes $W/run/$PHASE/SYSTEM/row.json
    local sys=$1 d=$W/run/$PHASE/$1 pref port ok=1 note="" t0 st rc=0
    rm -rf "$d"; mkdir -p "$d/data"
    case $sys in
        vigie) pref=18080
            if [ ! -x "$VIGIE" ]; then
                log "vigie: $VIGIE not found, skipped"
                echo '{"system":"vigie","ok":false,"note":"binary not found"}' >"$d/row.json"; return 0
            fi ;;
        influxdb) pref=18086 ;;
        victoriametrics) pref=18428 ;;
        *) log "unknown system $sys"; return 1 ;;
    esac
    port=$(free_port "$pref")
    log "$PHASE: $sys: starting on 127.0.0.1:$port, data in $d/data"
    "start_$sys" "$d" "$port"
    # peak RSS: VmHWM sampled until the process is gone
    ( while [ -r "/proc/$SPID/status" ]; do
          v=$(awk '/^VmHWM:/{print $2}' "/proc/$SPID/status" 2>/dev/null) || true
          [ -n "$v" ] && echo "$v" >"$d/vmhwm.kb"
          sleep 0.2
      done ) &
    SAMPLER=$!
    for _ in $(seq 1 300); do
        "health_$sys" "$port" && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.2
    done
    if ! "health_$sys" "$port"; then
        log "$PHASE: $sys: not healthy, see $d/server.log"; tail -5 "$d/server.log" >&2 || true
        ok=0; note="did not start"
    fi
    [ $ok = 1 ] && { "setup_$sys" "$port" || { ok=0; note="setup failed"; }; }
    if [ $ok = 1 ]; then
        log "$PHASE: $sys: ingesting $VALUES values in batches of $BATCH lines over $CONNS connections"
        if ! python3 "$BENCH/send.py" --port "$port" --file "$DATA" --values "$VALUES" \
                --batch "$BATCH" --conns "$CONNS" --server-pid "$SPID" >"$d/send.json"; then
            ok=0; note="ingest failed"
        else
            log "$PHASE: $sys: $(cat "$d/send.json")"
        fi
    fi
    if [ $ok = 1 ]; then
        st=$(settle "$d" "$port" "$sys")
        log "$PHASE: $sys: settled after ${st}s; queries: $WARMUP warm-ups + $RUNS runs each"
        python3 "$BENCH/query.py" --system "$sys" --port "$port" --expect "$EXPECT" \
            --out "$d/query.json" --runs "$RUNS" --warmup "$WARMUP" --queries "$QUERIES" >&2 \
            || { ok=0; note="query failed"; }
    fi
    # clean stop
    t0=$(date +%s.%N)
    kill -TERM "$SPID" 2>/dev/null || true
    for _ in $(seq 1 1200); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SPID" 2>/dev/null; then
        log "$PHASE: $sys: still running 120 s after SIGTERM, killing"; kill -KILL "$SPID" 2>/dev/null || true
        note="${note:+$note; }killed after SIGTERM timeout"
    fi
    wait "$SPID" 2>/dev/null || rc=$?
    [ "$rc" != 0 ] && [ "$rc" != 143 ] && note="${note:+$note; }exit status $rc"
    SPID=""
    wait "$SAMPLER" 2>/dev/null || true; SAMPLER=""
    python3 - "$d" "$sys" "$ok" "$note" "$(du -s -B1 "$d/data" | cut -f1)" "$VALUES" "$PHASE" \
        "$(cat "$d/vmhwm.kb" 2>/dev/null || echo 0)" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" <<'EOF'
import json, os, sys
d, sysname, ok, note, du, values, phase, hwm, stop_s = sys.argv[1:10]
row = {'system': sysname, 'phase': phase, 'ok': ok == '1', 'note': note, 'disk_bytes': int(du),
       'bytes_per_value': int(du) / int(values), 'peak_rss_mb': int(hwm) / 1024.0,
       'stop_seconds': round(float(stop_s), 2)}
for name in ('send.json', 'query.json'):
    p = os.path.join(d, name)
    if os.path.exists(p):
        with open(p) as f:
            row[name[:-5]] = json.load(f)
json.dump(row, open(os.path.join(d, 'row.json'), 'w'), indent=1)
EOF
    log "$PHASE: $sys: done, exit status $rc, $(du -sh "$d/data" | cut -f1) on disk, stopped in $(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["stop_seconds"])' "$d/row.json") s"
}

OUT=$W/results/latest.md
rc=0
append=""
for p in $PHASES; do
    workload "$p"
    rows=()
    for s in $SYSTEMS; do
        run_system "$s"
        rows+=("$W/run/$PHASE/$s/row.json")
    done
    python3 "$BENCH/report.py" --phase "$PHASE" --expect "$EXPECT" --out "$OUT" $append \
        "${rows[@]}" || rc=1
    append=--append
done
cp "$OUT" "$W/results/$(date -u +%Y%m%dT%H%M%SZ)-$QUICK-${PHASES// /-}-seed$SEED.md"
echo "bench: tables written to $OUT"
exit $rc
