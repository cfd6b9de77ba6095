#!/bin/sh
# tests/fuzz.sh SECONDS: long fuzzing of every target (make fuzz). Corpora grow in build-fuzz/.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-600}
for f in build-fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f" | sed 's/^fuzz_//')
    corpus=build-fuzz/corpus-$name
    mkdir -p "$corpus"
    [ -d "fuzz/corpus/$name" ] && cp -rn fuzz/corpus/"$name"/. "$corpus"/
    echo "== fuzz $name for ${secs}s"
    "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus"
done
