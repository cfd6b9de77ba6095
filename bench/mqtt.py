#!/usr/bin/env python3
"""bench/mqtt.py: `make bench-mqtt`. MQTT QoS 1 intake of Vigie against `mosquitto_sub` alone
on the same stream (issue target: Vigie >= 90 % of mosquitto_sub's rate).

Method (the same for both subscribers, one after the other, on one Mosquitto broker started by
scripts/mosquitto.sh on loopback):
  1. the subscriber opens a persistent session (clean_session false) on the topic and leaves;
  2. N ChirpStack v4 uplink events (1,000 devices, realistic ~700-byte JSON) are published at
     QoS 1 and queued by the broker for the absent subscriber;
  3. the subscriber reconnects and the time to drain the N messages is measured:
     mosquitto_sub -C N (prints nothing: -F ''), Vigie until /api/v1/sources says N stored
     (decoded, validated, durable with fsync before each PUBACK).
Prints `mqtt_qos1 vigie=R msg/s mosquitto_sub=R msg/s ratio=X target>=0.90 ok|MISS`.
BENCH_MQTT_MESSAGES (default 200000), BENCH_DIR as the other benchmarks."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
VIGIE = os.environ.get("VIGIE", os.path.join(ROOT, "vigie"))
N = int(os.environ.get("BENCH_MQTT_MESSAGES", "200000"))
BENCH_DIR = os.environ.get("BENCH_DIR") or (
    "/work/vigie-bench" if os.access("/work", os.W_OK) else "/tmp/vigie-bench")
W = os.path.join(BENCH_DIR, "mqtt")
TOPIC = "application/bench/device/+/event/up"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def uplink(i):
    dev = "%016X" % (0x70B3D57ED0000000 + i % 1000)
    t = 1795000000 + i // 1000
    return dev, json.dumps({
        "deduplicationId": "00000000-0000-0000-0000-%012d" % i,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%09d+00:00" % (i % 1000),
        "deviceInfo": {"tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
                       "tenantName": "Ville", "applicationId": "17c82e96-be03-4f38",
                       "applicationName": "bruit", "deviceProfileId": "14855bf7-d10d-4aee",
                       "deviceProfileName": "sonometre", "deviceName": "n-%d" % (i % 1000),
                       "devEui": dev, "tags": {}},
        "devAddr": "00189440", "adr": True, "dr": 5, "fCnt": i // 1000, "fPort": 1,
        "confirmed": False, "data": "AZgCWA==",
        "object": {"LAeq": 40 + (i * 7919 % 400) / 10.0, "LAmax": 60 + (i % 200) / 10.0},
        "rxInfo": [{"gatewayId": "0016c001f153a14c", "uplinkId": i, "rssi": -57, "snr": 9.5,
                    "context": "EFwMtA=="}],
        "txInfo": {"frequency": 868100000,
                   "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7,
                                           "codeRate": "CR_4_5"}}}})


def publish(port):
    """Publish the N messages at QoS 1 with mosquitto_pub -l, 20,000 per process (one process
    sending more is cut off by the broker: "disconnected due to out of memory"), one topic: the
    decoder takes the device from the payload's deviceInfo.devEui, as ChirpStack sends it."""
    msgs = [uplink(i)[1] for i in range(N)]
    t0 = time.time()
    for k in range(0, N, 20000):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                        "-t", "application/bench/device/all/event/up", "-l"],
                       input="\n".join(msgs[k:k + 20000]) + "\n", text=True, check=True)
    return time.time() - t0


def http_json(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return json.loads(r.read())


def stored(port):
    for s in http_json(port, "/api/v1/sources")["sources"]:
        if s["name"] == "bench":
            return s["stored"] + s["quarantined"], s.get("connected")
    return 0, False


def main():
    shutil.rmtree(W, ignore_errors=True)
    os.makedirs(W)
    os.chmod(W, 0o755)
    mq = os.path.join(W, "broker")
    os.makedirs(mq)
    port = free_port()
    subprocess.run([os.path.join(ROOT, "scripts", "mosquitto.sh"), "start", str(port), mq],
                   check=True)
    try:
        # --- mosquitto_sub alone
        # MQTT v5 like Vigie: no receive-maximum property = 65,535 messages in flight
        sub = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-c", "-i",
               "bench-sub", "-V", "5", "-x", "3600", "-t", TOPIC]
        subprocess.run(sub + ["-W", "1"], capture_output=True)  # session created, then leaves
        pt = publish(port)
        print("bench-mqtt: published %d messages in %.1f s" % (N, pt), file=sys.stderr)
        t0 = time.time()
        subprocess.run(sub + ["-C", str(N), "-F", ""], stdout=subprocess.DEVNULL, check=True)
        sub_rate = N / (time.time() - t0)
        print("bench-mqtt: mosquitto_sub drained %d in %.2f s" % (N, N / sub_rate),
              file=sys.stderr)

        # --- Vigie
        gw = os.path.join(W, "gateway.json")
        with open(gw, "w") as f:
            json.dump({"brokers": [{"name": "b", "port": port, "client_id": "bench-vigie"}],
                       "sources": [{"name": "bench", "mqtt": {"broker": "b", "topic": TOPIC,
                                                              "qos": 1},
                                    "decoder": {"decoder": "chirpstack",
                                                "type": "NoiseLevelObserved",
                                                "attributes": [
                                                    {"pointer": "/LAeq", "name": "LAeq",
                                                     "type": "number", "unit": "2N"},
                                                    {"pointer": "/LAmax", "name": "LAmax",
                                                     "type": "number", "unit": "2N"}]}}]}, f)
        hport = free_port()
        data = os.path.join(W, "data")
        args = [VIGIE, "serve", "--data", data, "--listen", "127.0.0.1:%d" % hport,
                "--auth", "off", "--gateway", gw, "--access-log", "/dev/null"]
        log = open(os.path.join(W, "vigie.log"), "ab")
        v = subprocess.Popen(args, stdout=log, stderr=log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if stored(hport)[1]:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        v.send_signal(signal.SIGTERM)  # session registered: leave
        v.wait(60)
        publish(port)
        v = subprocess.Popen(args, stdout=log, stderr=log)
        t0 = None
        deadline = time.time() + 600
        done = 0
        while time.time() < deadline:
            try:
                done, up = stored(hport)
                if up and t0 is None:
                    t0 = time.time()
                if done >= N:
                    break
            except OSError:
                pass
            time.sleep(0.02)
        t1 = time.time()
        v.send_signal(signal.SIGTERM)
        v.wait(120)
        if done < N or t0 is None:
            print("mqtt_qos1 vigie: only %d of %d stored" % (done, N))
            return 1
        vigie_rate = N / (t1 - t0)
        ratio = vigie_rate / sub_rate
        line = ("mqtt_qos1 vigie=%.0f msg/s mosquitto_sub=%.0f msg/s ratio=%.2f target>=0.90 %s"
                % (vigie_rate, sub_rate, ratio, "ok" if ratio >= 0.9 else "MISS"))
        print(line)
        os.makedirs(os.path.join(BENCH_DIR, "results"), exist_ok=True)
        with open(os.path.join(BENCH_DIR, "results", "mqtt.txt"), "w") as f:
            f.write(line + "\n")
    finally:
        subprocess.run([os.path.join(ROOT, "scripts", "mosquitto.sh"), "stop", mq])
    return 0


if __name__ == "__main__":
    sys.exit(main())
