#!/bin/sh
# scripts/mosquitto.sh: a Mosquitto broker on 127.0.0.1 for the demo, the tests and the MQTT
# benchmark (Debian's mosquitto; scripts/deps.sh installs it).
#
#   scripts/mosquitto.sh start [PORT] [DIR]   start in the background (default 1883, ./mqtt-data)
#   scripts/mosquitto.sh stop [DIR]           stop it (it saves its persistence file first)
#
# The broker keeps sessions and queued QoS 1 messages on disk (DIR/mosquitto.db), so messages
# published while Vigie is down, or across a broker restart (it saves them when it stops, and
# every minute), are delivered later. Anonymous access is allowed: it listens on loopback only.
set -eu
cmd=${1:-}
case "$cmd" in
start)
    port=${2:-1883}
    dir=${3:-./mqtt-data}
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    cat >"$dir/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence true
persistence_location $dir/
autosave_interval 60
pid_file $dir/mosquitto.pid
log_dest file $dir/mosquitto.log
max_queued_messages 10000000
set_tcp_nodelay true
CONF
    # Started as root, mosquitto drops to the user "mosquitto": let it write its directory.
    if [ "$(id -u)" -eq 0 ]; then
        if id mosquitto >/dev/null 2>&1; then
            chown -R mosquitto "$dir"
        else
            echo "user root" >>"$dir/mosquitto.conf"
        fi
    fi
    /usr/sbin/mosquitto -c "$dir/mosquitto.conf" -d
    # wait until it accepts connections
    i=0
    while [ $i -lt 50 ]; do
        if mosquitto_pub -h 127.0.0.1 -p "$port" -t vigie/ping -m x -q 0 2>/dev/null; then
            echo "mosquitto listening on 127.0.0.1:$port (data $dir)"
            exit 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "mosquitto did not start; see $dir/mosquitto.log" >&2
    exit 1
    ;;
stop)
    dir=${2:-./mqtt-data}
    if [ -f "$dir/mosquitto.pid" ]; then
        pid=$(cat "$dir/mosquitto.pid")
        kill "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        rm -f "$dir/mosquitto.pid"
    fi
    ;;
*)
    echo "usage: scripts/mosquitto.sh start [PORT] [DIR] | stop [DIR]" >&2
    exit 2
    ;;
esac
