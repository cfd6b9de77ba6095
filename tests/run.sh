#!/bin/sh
# tests/run.sh: the whole test suite (called by `make test`, hence by .ci/run).
#   1. build (-Wall -Wextra -Werror) and run every unit-test binary (src/*/*_test.c)
#   2. integration tests: the real ./vigie on loopback (tests/integration/test_*.py)
#   3. steps 1 and 2 again in an AddressSanitizer + UndefinedBehaviorSanitizer build
#   4. a short run of every libFuzzer target (fuzz/fuzz_*.c) on its seed corpus
#   (after step 2 of the gcc build: the web application in Debian's chromium, tests/e2e/e2e.mjs)
# Every test case prints "ok <suite> <case>" or "FAIL <suite> <case>"; the last line is
# "N passed, N failed". --quick runs steps 1-2 on the current build only.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${TEST_OUT:-$ROOT/build/test-output}
mkdir -p "$OUT"
LOG="$OUT/results.txt"
: >"$LOG"
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
JOBS=$(nproc 2>/dev/null || echo 2)
FUZZ_SECONDS=${FUZZ_SECONDS:-20}

note() { echo "== $*"; }

# Run one unit binary; its ok/FAIL lines go to the log. A crash without output counts as FAIL.
run_unit() {
    bin=$1
    label=$2
    name=$(basename "$bin")
    tmp="$OUT/$label-$name.out"
    if timeout 300 "$bin" >"$tmp" 2>&1; then rc=0; else rc=$?; fi
    sed -n "s/^\(ok\|FAIL\) /\1 $label:/p" "$tmp" | tee -a "$LOG"
    if [ $rc -ne 0 ] && ! grep -q '^FAIL' "$tmp"; then
        echo "FAIL $label:$name exited with status $rc" | tee -a "$LOG"
        tail -20 "$tmp"
    fi
    grep -q '^FAIL' "$tmp" && sed -n '/check failed\|required failed\|ERROR\|runtime error/p' "$tmp" | head -20
    return 0
}

run_suite() {
    build=$1
    label=$2
    note "unit tests ($label)"
    for t in $(find "$build/test" -type f -perm -u+x 2>/dev/null | sort); do
        run_unit "$t" "$label"
    done
    note "integration tests ($label)"
    for t in tests/integration/test_*.py; do
        tmp="$OUT/$label-$(basename "$t" .py).out"
        if VIGIE="$ROOT/$build/vigie" TEST_LABEL="$label" TEST_OUT="$OUT" timeout 900 python3 "$t" >"$tmp" 2>&1; then rc=0; else rc=$?; fi
        sed -n "s/^\(ok\|FAIL\) /\1 $label:/p" "$tmp" | tee -a "$LOG"
        if [ $rc -ne 0 ] && ! grep -q '^FAIL' "$tmp"; then
            echo "FAIL $label:$(basename "$t") exited with status $rc" | tee -a "$LOG"
        fi
        [ $rc -ne 0 ] && tail -30 "$tmp"
    done
}

note "build"
if ! make -s -j"$JOBS" unit >"$OUT/build.log" 2>&1; then
    cat "$OUT/build.log"
    echo "FAIL build" | tee -a "$LOG"
else
    echo "ok build:gcc -Wall -Wextra -Werror" | tee -a "$LOG"
    run_suite build gcc
    note "browser tests (chromium)"
    tmp="$OUT/e2e.out"
    if VIGIE="$ROOT/build/vigie" TEST_OUT="$OUT" timeout 900 node tests/e2e/e2e.mjs >"$tmp" 2>&1; then rc=0; else rc=$?; fi
    sed -n "s/^\(ok\|FAIL\) /\1 gcc:/p" "$tmp" | tee -a "$LOG"
    if [ $rc -ne 0 ] && ! grep -q '^FAIL' "$tmp"; then
        echo "FAIL gcc:e2e exited with status $rc" | tee -a "$LOG"
    fi
    [ $rc -ne 0 ] && tail -30 "$tmp"
    echo "   screenshots: $OUT/screenshots/"
fi

if [ $QUICK -eq 0 ]; then
    note "build (asan+ubsan)"
    if ! make -s -j"$JOBS" asan >"$OUT/build-asan.log" 2>&1; then
        cat "$OUT/build-asan.log"
        echo "FAIL build:asan" | tee -a "$LOG"
    else
        echo "ok build:asan+ubsan" | tee -a "$LOG"
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            run_suite build-asan asan
    fi

    note "fuzz (${FUZZ_SECONDS}s per target)"
    if ! make -s -j"$JOBS" fuzz-build >"$OUT/build-fuzz.log" 2>&1; then
        cat "$OUT/build-fuzz.log"
        echo "FAIL build:fuzz" | tee -a "$LOG"
    else
        for f in build-fuzz/fuzz_*; do
            [ -x "$f" ] || continue
            name=$(basename "$f" | sed 's/^fuzz_//')
            corpus="$OUT/corpus-$name"
            rm -rf "$corpus"
            mkdir -p "$corpus"
            [ -d "fuzz/corpus/$name" ] && cp -r fuzz/corpus/"$name"/. "$corpus"/
            if "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 "$corpus" \
                >"$OUT/fuzz-$name.out" 2>&1; then
                echo "ok fuzz:$name ($(grep -o 'Done [0-9]* runs' "$OUT/fuzz-$name.out" | awk '{print $2}') runs)" | tee -a "$LOG"
            else
                echo "FAIL fuzz:$name" | tee -a "$LOG"
                tail -40 "$OUT/fuzz-$name.out"
            fi
        done
    fi
fi

passed=$(grep -c '^ok ' "$LOG")
failed=$(grep -c '^FAIL' "$LOG")
echo
[ "$failed" -gt 0 ] && { echo "failures:"; grep '^FAIL' "$LOG"; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
