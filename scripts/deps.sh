#!/bin/sh
# scripts/deps.sh: the one place where Vigie's dependencies are pinned and installed.
# Used by the README's two commands (make demo, make test), by .ci/run and by make bench.
# Debian 12 (bookworm) package versions are pinned; a newer point release of the same
# version is accepted if the exact one has left the mirror (apt prints which was installed).
#
#   scripts/deps.sh            build + test dependencies (test: Chromium for the browser tests)
#   scripts/deps.sh bench      also the peers for make bench (InfluxDB, VictoriaMetrics, PostgreSQL)
set -eu

BUILD="gcc=4:12.2.0-3 make=4.3-4.1 pkg-config libmicrohttpd-dev=0.9.75-6 libjansson-dev=2.14-2
libsqlite3-dev=3.40.1-2+deb12u2 libsodium-dev=1.0.18-1+deb12u1 libzstd-dev=1.5.4+dfsg2-5
zlib1g-dev=1:1.2.13.dfsg-1 libmosquitto-dev=2.0.11-1.2+deb12u2 libcurl4-openssl-dev=7.88.1-10+deb12u15
libjemalloc-dev=5.3.0-1 tzdata"
TEST="clang=1:14.0-55.7~deb12u1 libclang-rt-14-dev=1:14.0.6-12 python3 curl procps
mosquitto=2.0.11-1.2+deb12u2 mosquitto-clients=2.0.11-1.2+deb12u2 openssl
chromium=156.0.8078.114-1~deb12u1"
BENCH="influxdb=1.6.7~rc0-1+b13 victoria-metrics=1.79.5+ds1-2+b5 postgresql sqlite3 wrk"

pkgs="$BUILD $TEST"
# The web application is bundled with Node.js and npm (web/package-lock.json pins its packages);
# a machine that has them already (e.g. from NodeSource) keeps its own, else Debian's.
command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
[ "${1:-}" = "bench" ] && pkgs="$pkgs $BENCH"

missing=""
for p in $pkgs; do
    name=${p%%=*}
    dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "deps: installing$missing"
$SUDO apt-get update -q >/dev/null 2>&1 || true
export DEBIAN_FRONTEND=noninteractive
# Try the pinned versions first; fall back to the names alone if a pin is gone from the mirror.
if ! $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null; then
    names=""
    for p in $missing; do names="$names ${p%%=*}"; done
    $SUDO apt-get install -y -q --no-install-recommends $names >/dev/null
fi
