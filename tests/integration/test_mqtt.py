"""tests/integration/test_mqtt.py: the MQTT gateway against a real Mosquitto broker
(scripts/mosquitto.sh, on loopback): ChirpStack v4 and The Things Stack v3 uplinks, generic
JSON, NGSI-LD and line protocol over MQTT; a malformed payload quarantined with its reason and
replayed after the gateway file is fixed; messages published while Vigie is down arrive after
its restart; a broker restart; kill -9 in the middle of a QoS 1 stream loses nothing that the
broker had handed over; the source registry (counters, stale, /metrics)."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

from vigielib import Server, case, check, cli, done, free_port

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCRIPT = os.path.join(ROOT, "scripts", "mosquitto.sh")


class Broker:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vigie-mq-")
        os.chmod(self.dir, 0o755)  # the broker runs as user mosquitto when started as root
        self.port = free_port()

    def start(self):
        subprocess.run([SCRIPT, "start", str(self.port), self.dir], check=True,
                       capture_output=True, timeout=30)

    def stop(self):
        subprocess.run([SCRIPT, "stop", self.dir], check=True, capture_output=True, timeout=30)

    def pub(self, topic, payload, qos=1):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-q", str(qos),
                        "-t", topic, "-m", payload], check=True, timeout=30)

    def pub_lines(self, topic, lines, qos=1):
        """One message per line (mosquitto_pub -l)."""
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-q", str(qos),
                        "-t", topic, "-l"], input="\n".join(lines) + "\n", text=True, check=True,
                       timeout=120)

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


CHIRPSTACK_UP = {
    "deduplicationId": "3c1ae0a9-0fb6-4e2e-a4d5-60d2c1b2f1a7",
    "time": "2026-11-20T09:34:15.775023242+00:00",
    "deviceInfo": {
        "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242", "tenantName": "Ville de Paris",
        "applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97", "applicationName": "bruit",
        "deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad",
        "deviceProfileName": "Sonomètre classe 1", "deviceName": "nation-01",
        "devEui": "0101010101010101", "tags": {"district": "11"}},
    "devAddr": "00189440", "adr": True, "dr": 5, "fCnt": 10, "fPort": 1, "confirmed": False,
    "data": "AZgCWA==",
    "object": {"LAeq": 64.3, "LAmax": 78.1},
    "rxInfo": [{"gatewayId": "0016c001f153a14c", "uplinkId": 4217106255, "rssi": -57, "snr": 9.5,
                "location": {"latitude": 48.8483, "longitude": 2.3959},
                "context": "EFwMtA==", "metadata": {"region_config_id": "eu868"}}],
    "txInfo": {"frequency": 868100000,
               "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 7,
                                       "codeRate": "CR_4_5"}}},
}

TTS_UP = {
    "end_device_ids": {"device_id": "air-bastille", "application_ids": {"application_id": "air"},
                       "dev_eui": "70B3D57ED0051234", "join_eui": "0000000000000000",
                       "dev_addr": "260B1234"},
    "correlation_ids": ["as:up:01H0F3Z0K2ZC9R1Q0N6T2T8Y6C"],
    "received_at": "2026-11-20T09:40:02.123456789Z",
    "uplink_message": {
        "session_key_id": "AYa8x4Z2b2s=", "f_port": 2, "f_cnt": 431, "frm_payload": "AQIDBA==",
        "decoded_payload": {"pm25": 12.5, "pm10": 21.0, "temperature": 8.4},
        "rx_metadata": [{"gateway_ids": {"gateway_id": "gw-bastille", "eui": "B827EBFFFE123456"},
                         "time": "2026-11-20T09:40:02.100Z", "timestamp": 2961520916,
                         "rssi": -71, "channel_rssi": -71, "snr": 7.25,
                         "uplink_token": "ChsKGQoNZ3ctYmFzdGlsbGUSCLgn6//+EjRWEJTI"}],
        "settings": {"data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 7,
                                            "coding_rate": "4/5"}},
                     "frequency": "868300000", "timestamp": 2961520916},
        "received_at": "2026-11-20T09:40:02.110Z", "consumed_airtime": "0.061696s",
        "network_ids": {"net_id": "000013", "tenant_id": "ttn", "cluster_id": "eu1"}},
}


def gateway_file(path, port, cadence="1h", noise_decoder=None):
    noise = noise_decoder or {
        "decoder": "chirpstack", "type": "NoiseLevelObserved",
        "id_template": "urn:ngsi-ld:NoiseLevelObserved:{}",
        "attributes": [{"pointer": "/LAeq", "name": "LAeq", "type": "number", "unit": "2N"},
                       {"pointer": "/LAmax", "name": "LAmax", "type": "number", "unit": "2N"}],
        "gateway": True}
    doc = {
        "brokers": [{"name": "city", "host": "127.0.0.1", "port": port,
                     "client_id": "vigie-test", "keepalive": 10, "reconnect_min_s": 1,
                     "reconnect_max_s": 2}],
        "sources": [
            {"name": "noise-chirpstack", "owner": "Environment", "cadence": cadence,
             "mqtt": {"broker": "city", "topic": "application/+/device/+/event/up", "qos": 1},
             "decoder": noise},
            {"name": "air-tts", "owner": "Environment", "cadence": "1h",
             "mqtt": {"broker": "city", "topic": "v3/+/devices/+/up", "qos": 1},
             "decoder": {"decoder": "tts", "type": "AirQualityObserved",
                         "id_template": "urn:ngsi-ld:AirQualityObserved:{}"}},
            {"name": "counters-json", "owner": "Mobility", "cadence": "2s",
             "mqtt": {"broker": "city", "topic": "city/counters/+", "qos": 1},
             "decoder": {"decoder": "json", "type": "TrafficFlowObserved",
                         "id": {"topic_segment": -1},
                         "id_template": "urn:ngsi-ld:TrafficFlowObserved:{}",
                         "time": {"pointer": "/ts", "format": "epoch_ms"},
                         "attributes": [{"pointer": "/count", "name": "intensity",
                                         "type": "integer"}]}},
            {"name": "lp-feed", "owner": "Energy",
             "mqtt": {"broker": "city", "topic": "lp/#", "qos": 1},
             "decoder": "lp", "precision": "ms"},
            {"name": "ngsild-feed", "owner": "Water",
             "mqtt": {"broker": "city", "topic": "ngsild/#", "qos": 1},
             "decoder": "ngsi-ld"},
            {"name": "partner-velo", "owner": "Mobility", "cadence": "1d", "api_key": "velo"},
        ],
        "rules": [{"name": "noise range", "type": "NoiseLevelObserved", "attribute": "LAeq",
                   "min": 20, "max": 140, "units": ["2N"]}],
    }
    with open(path, "w") as f:
        json.dump(doc, f)


def latest_points(s, entity, attr):
    q = urllib.parse.urlencode({"id": entity, "attr": attr, "from": "1900-01-01T00:00:00Z"})
    st, _, doc = s.json("GET", "/api/v1/query?" + q)
    check(st == 200, "query %s/%s: %d %r" % (entity, attr, st, doc))
    if not doc["series"]:
        return []
    return doc["series"][0]["points"]


def wait_for(fn, timeout=15, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s (last %r)" % (what, last))


def source(s, name):
    st, _, doc = s.json("GET", "/api/v1/sources")
    check(st == 200, "sources: %d" % st)
    for x in doc["sources"]:
        if x["name"] == name:
            return x
    raise AssertionError("no source %s in %r" % (name, doc))


def setup():
    b = Broker()
    b.start()
    tmp = tempfile.mkdtemp(prefix="vigie-gw-")
    gw = os.path.join(tmp, "gateway.json")
    gateway_file(gw, b.port)
    s = Server(extra=["--gateway", gw])
    s.start()
    wait_for(lambda: source(s, "noise-chirpstack").get("connected"), what="connected")
    return b, s, tmp, gw


def t_decoders():
    b, s, tmp, _ = setup()
    try:
        b.pub("application/17c82e96/device/0101010101010101/event/up", json.dumps(CHIRPSTACK_UP))
        b.pub("v3/air@ttn/devices/air-bastille/up", json.dumps(TTS_UP))
        b.pub("city/counters/bd-voltaire", json.dumps({"ts": 1795000000000, "count": 42}))
        b.pub("lp/energy", "ConsumptionPoint,id=urn:ngsi-ld:ConsumptionPoint:ecole-1 kwh=12.5 "
                           "1795000000000")
        ent = {"id": "urn:ngsi-ld:WaterConsumptionObserved:m1", "type": "WaterConsumptionObserved",
               "flow": {"type": "Property", "value": 3.25, "unitCode": "G51",
                        "observedAt": "2026-11-20T10:00:00Z"},
               "location": {"type": "GeoProperty",
                            "value": {"type": "Point", "coordinates": [2.39, 48.85]}}}
        b.pub("ngsild/water", json.dumps(ent))
        ne = "urn:ngsi-ld:NoiseLevelObserved:0101010101010101"
        pts = wait_for(lambda: latest_points(s, ne, "LAeq"), what="chirpstack LAeq")
        check(pts[0][1] == 64.3, "LAeq %r" % pts)
        t = pts[0][0]
        check(str(t).startswith("2026-11-20T09:34:15.775") or t == 1795167255775,
              "time from the uplink: %r" % t)
        check(latest_points(s, ne, "LAmax")[0][1] == 78.1, "LAmax")
        check(latest_points(s, ne, "rssi")[0][1] == -57, "gateway rssi")
        ae = "urn:ngsi-ld:AirQualityObserved:70B3D57ED0051234"
        pts = wait_for(lambda: latest_points(s, ae, "pm25"), what="tts pm25")
        check(pts[0][1] == 12.5, "pm25 %r" % pts)
        check(latest_points(s, ae, "temperature")[0][1] == 8.4, "temperature")
        te = "urn:ngsi-ld:TrafficFlowObserved:bd-voltaire"
        pts = wait_for(lambda: latest_points(s, te, "intensity"), what="json counter")
        check(pts[0][1] == 42, "intensity %r" % pts)
        pts = wait_for(lambda: latest_points(s, "urn:ngsi-ld:ConsumptionPoint:ecole-1", "kwh"),
                       what="lp")
        check(pts[0][1] == 12.5, "kwh %r" % pts)
        we = "urn:ngsi-ld:WaterConsumptionObserved:m1"
        pts = wait_for(lambda: latest_points(s, we, "flow"), what="ngsi-ld flow")
        check(pts[0][1] == 3.25, "flow %r" % pts)
        # NGSI-LD view of the decoded entity: unit and location kept
        st, _, doc = s.json("GET", "/ngsi-ld/v1/entities/" + urllib.parse.quote(ne, safe=""))
        check(st == 200, "NGSI-LD entity: %d %r" % (st, doc))
        check(doc["LAeq"]["value"] == 64.3 and doc["LAeq"].get("unitCode") == "2N",
              "LAeq unit in NGSI-LD: %r" % doc["LAeq"])
        # registry counters
        src = source(s, "noise-chirpstack")
        check(src["received"] == 1 and src["stored"] == 1 and src["quarantined"] == 0,
              "counters %r" % src)
        check(src["owner"] == "Environment" and src["cadence_s"] == 3600 and not src["stale"],
              "declared %r" % src)
        check(src["kind"] == "mqtt" and src["connected"] is True and src["last_seen"], "%r" % src)
    finally:
        s.stop()
        s.cleanup()
        b.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def t_malformed_quarantined_and_replayed():
    b, s, tmp, gw = setup()
    data = s.data
    try:
        bad = json.loads(json.dumps(CHIRPSTACK_UP))
        bad["deviceInfo"]["devEui"] = "0202020202020202"
        bad["object"] = {"LAeq": "loud", "LAmax": 80.0}  # a string where a number is declared
        b.pub("application/1/device/0202020202020202/event/up", json.dumps(bad))
        b.pub("application/1/device/0303030303030303/event/up", "{not json")
        undecoded = dict(CHIRPSTACK_UP)
        del undecoded["object"]
        b.pub("application/1/device/0404040404040404/event/up", json.dumps(undecoded))
        loud = json.loads(json.dumps(CHIRPSTACK_UP))
        loud["deviceInfo"]["devEui"] = "0505050505050505"
        loud["object"] = {"LAeq": 190.0, "LAmax": 120.0}  # breaks the operator's rule
        b.pub("application/1/device/0505050505050505/event/up", json.dumps(loud))

        def q():
            st, _, doc = s.json("GET", "/api/v1/quarantine?source=noise-chirpstack")
            return doc["items"] if st == 200 and len(doc["items"]) >= 4 else None
        items = wait_for(q, what="4 quarantined messages")
        ruled = [i for i in items if "rule 'noise range'" in i["reason"]]
        check(len(ruled) == 1 and "LAeq = 190" in ruled[0]["reason"]
              and "0505050505050505" in ruled[0]["raw"], "rule rejection: %r" % ruled)
        items = [i for i in items if i not in ruled]
        reasons = " | ".join(i["reason"] for i in items)
        check("LAeq" in reasons and "string" in reasons, "type reason: %s" % reasons)
        check("JSON" in reasons or "json" in reasons, "json reason: %s" % reasons)
        check("object" in reasons, "no decoded object reason: %s" % reasons)
        check(all(i["reason"].startswith("topic application/1/device/") for i in items),
              "topic in reasons: %s" % reasons)
        check(any(i["raw"] == "{not json" for i in items), "raw payload kept")
        src = source(s, "noise-chirpstack")
        check(src["quarantined"] == 4 and src["stored"] == 0, "counters %r" % src)
        # fix the decoder (this device sends no usable LAeq: take LAmax only), then replay:
        # the typed-wrong message is stored, the two others fail again and stay
        s.stop()
        gateway_file(gw, b.port, noise_decoder={
            "decoder": "chirpstack", "type": "NoiseLevelObserved",
            "attributes": [{"pointer": "/LAmax", "name": "LAmax", "type": "number"}]})
        r = cli("quarantine", "replay", "--data", data, "--gateway", gw, "--source",
                "noise-chirpstack", check=False)
        check(r.returncode == 0, "replay exit %d: %s %s" % (r.returncode, r.stdout, r.stderr))
        last = r.stdout.strip().splitlines()[-1]
        check(last == "replayed 4, stored 1, quarantined 3", "replay summary %r" % last)
        r = cli("quarantine", "list", "--data", data, "--source", "noise-chirpstack")
        lines = [l for l in r.stdout.splitlines() if l.strip()]
        check(len(lines) == 3 + 1, "list after replay (header + 3): %r" % r.stdout)
        s.start()
        pts = latest_points(s, "urn:ngsi-ld:NoiseLevelObserved:0202020202020202", "LAmax")
        check(len(pts) == 1 and pts[0][1] == 80.0, "replayed message stored: %r" % pts)
    finally:
        s.stop()
        s.cleanup()
        b.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def count(s, entity, attr):
    return len(latest_points(s, entity, attr))


def t_vigie_down_then_restart():
    b, s, tmp, _ = setup()
    try:
        s.stop()  # persistent session: the broker queues QoS 1 messages for vigie-test
        n = 2000  # queued: delivered in batches large enough to be decoded by two threads
        lines = [json.dumps({"ts": 1795000000000 + i * 1000, "count": i}) for i in range(n)]
        b.pub_lines("city/counters/c-down", lines)
        s.start()
        ent = "urn:ngsi-ld:TrafficFlowObserved:c-down"
        wait_for(lambda: count(s, ent, "intensity") == n, timeout=30,
                 what="%d messages published while vigie was down" % n)
        pts = latest_points(s, ent, "intensity")
        check([p[1] for p in pts] == list(range(n)), "each value once, at its time")
        st, _, body = s.request("GET", "/metrics")
        check(st == 200, "metrics")
    finally:
        s.stop()
        s.cleanup()
        b.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def t_broker_restart():
    b, s, tmp, _ = setup()
    try:
        b.pub("city/counters/c-br", json.dumps({"ts": 1795000000000, "count": 1}))
        ent = "urn:ngsi-ld:TrafficFlowObserved:c-br"
        wait_for(lambda: count(s, ent, "intensity") == 1, what="first message")
        b.stop()
        wait_for(lambda: source(s, "counters-json").get("connected") is False,
                 what="disconnected state")
        b.start()
        wait_for(lambda: source(s, "counters-json").get("connected") is True, timeout=20,
                 what="reconnected")
        b.pub("city/counters/c-br", json.dumps({"ts": 1795000001000, "count": 2}))
        wait_for(lambda: count(s, ent, "intensity") == 2, what="message after the restart")
    finally:
        s.stop()
        s.cleanup()
        b.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def t_kill9_mid_stream():
    """QoS 1 messages acknowledged by Vigie are durable: after kill -9 in the middle of a
    stream and a restart, every message is stored (the broker redelivers what was not
    acknowledged; same timestamps, so redelivery writes no duplicate)."""
    b, s, tmp, _ = setup()
    try:
        n = 3000
        lines = [json.dumps({"ts": 1795000000000 + i * 1000, "count": i}) for i in range(n)]
        pub = subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(b.port), "-q", "1",
                                "-t", "city/counters/c-kill", "-l"], stdin=subprocess.PIPE,
                               text=True)
        pub.stdin.write("\n".join(lines) + "\n")
        pub.stdin.close()
        ent = "urn:ngsi-ld:TrafficFlowObserved:c-kill"
        wait_for(lambda: count(s, ent, "intensity") > 0, what="stream started")
        s.kill9()
        pub.wait(60)
        s.start()
        wait_for(lambda: count(s, ent, "intensity") == n, timeout=40,
                 what="all %d messages after kill -9" % n)
        vals = sorted(p[1] for p in latest_points(s, ent, "intensity"))
        check(vals == list(range(n)), "every value once")
    finally:
        s.stop()
        s.cleanup()
        b.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def t_registry_stale_and_metrics():
    b, s, tmp, _ = setup()
    try:
        src = source(s, "counters-json")
        check(src["cadence_s"] == 2 and src["owner"] == "Mobility", "%r" % src)
        wait_for(lambda: source(s, "counters-json")["stale"], timeout=6, what="stale")
        b.pub("city/counters/c-st", json.dumps({"ts": 1795000000000, "count": 1}))
        wait_for(lambda: not source(s, "counters-json")["stale"], what="fresh after data")
        # an API key bound to a declared source counts there
        st, _, _ = s.write("TrafficFlowObserved,id=velo-1 intensity=3i 1795000000000")
        check(st == 204, "write %d" % st)
        check(source(s, "http")["stored"] == 1, "unbound write counted under 'http'")
        st, _, body = s.request("GET", "/metrics")
        text = body.decode()
        check('vigie_source_received_total{source="counters-json",kind="mqtt"} 1' in text,
              "metrics: %s" % [l for l in text.splitlines() if "vigie_source" in l][:8])
        check('vigie_source_stale{source="partner-velo",kind="http"}' in text, "declared key")
    finally:
        s.stop()
        s.cleanup()
        b.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def t_bad_gateway_file():
    tmp = tempfile.mkdtemp(prefix="vigie-gw-")
    try:
        gw = os.path.join(tmp, "gw.json")
        with open(gw, "w") as f:
            json.dump({"brokers": [{"name": "a", "port": 1883}],
                       "sources": [{"name": "x", "mqtt": {"broker": "nope", "topic": "t/#"},
                                    "decoder": "lp"}]}, f)
        s = Server(extra=["--gateway", gw])
        try:
            s.start(timeout=10)
            raise AssertionError("vigie started with a bad gateway file")
        except RuntimeError as e:
            check("no broker named 'nope'" in str(e), "error names the problem: %s" % e)
        finally:
            s.cleanup()
        with open(gw, "w") as f:
            json.dump({"brokers": [{"name": "a", "password": "secret123"}]}, f)
        s = Server(extra=["--gateway", gw])
        try:
            s.start(timeout=10)
            raise AssertionError("vigie started with a password in the gateway file")
        except RuntimeError as e:
            check("password_file" in str(e) and "secret123" not in str(e), "%s" % e)
        finally:
            s.cleanup()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def t_tls_and_password():
    """A broker that requires TLS (a CA made here with openssl) and a username/password; the
    password comes from a file and never appears in the log; a wrong one is reported in the
    registry as the broker's refusal."""
    d = tempfile.mkdtemp(prefix="vigie-tls-")
    os.chmod(d, 0o755)
    mq = None
    s = None
    try:
        def run(*a):
            subprocess.run(list(a), check=True, capture_output=True, timeout=60, cwd=d)
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=Vigie test CA")
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=127.0.0.1")
        with open(os.path.join(d, "san.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
        run("mosquitto_passwd", "-c", "-b", "passwd", "vigie", "s3cret-pw")
        port = free_port()
        conf = os.path.join(d, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s/passwd\n"
                    "cafile %s/ca.crt\ncertfile %s/server.crt\nkeyfile %s/server.key\n"
                    "persistence false\nuser root\n" % (port, d, d, d, d))
        mq = subprocess.Popen(["/usr/sbin/mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        pub = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "--cafile",
               os.path.join(d, "ca.crt"), "-u", "vigie", "-P", "s3cret-pw", "-q", "1"]
        wait_for(lambda: subprocess.run(pub + ["-t", "x", "-m", "ping"],
                                        capture_output=True).returncode == 0, what="TLS broker")
        with open(os.path.join(d, "pw"), "w") as f:
            f.write("s3cret-pw\n")
        with open(os.path.join(d, "bad"), "w") as f:
            f.write("bad-pw-7391\n")
        gw = os.path.join(d, "gw.json")

        def brokers(pwfile):
            return {"brokers": [{"name": "tls", "host": "127.0.0.1", "port": port,
                                 "username": "vigie", "password_file": pwfile,
                                 "tls": {"ca_file": os.path.join(d, "ca.crt")},
                                 "reconnect_min_s": 1, "reconnect_max_s": 1}],
                    "sources": [{"name": "secure", "mqtt": {"broker": "tls", "topic": "lp/#"},
                                 "decoder": "lp", "precision": "ms"}]}
        with open(gw, "w") as f:
            json.dump(brokers(os.path.join(d, "bad")), f)
        s = Server(extra=["--gateway", gw]).start()
        src = wait_for(lambda: (lambda x: x if x["last_error"] else None)(source(s, "secure")),
                       what="refusal reported")
        check(src["connected"] is False and "refused" in src["last_error"], "%r" % src)
        s.stop()
        with open(gw, "w") as f:
            json.dump(brokers(os.path.join(d, "pw")), f)
        s.start()
        wait_for(lambda: source(s, "secure").get("connected"), what="TLS connection")
        subprocess.run(pub + ["-t", "lp/a", "-m", "Streetlight,id=sl-1 powerState=\"on\" "
                                                  "1795000000000"], check=True)
        pts = wait_for(lambda: latest_points(s, "sl-1", "powerState"), what="message over TLS")
        check(pts[0][1] == "on", "%r" % pts)
        check("s3cret-pw" not in s.tail(100000) and "bad-pw-7391" not in s.tail(100000),
              "no password in the log")
    finally:
        if s:
            s.stop()
            s.cleanup()
        if mq:
            mq.terminate()
            mq.wait(10)
        shutil.rmtree(d, ignore_errors=True)


case("decoders", t_decoders)
case("malformed_quarantined_and_replayed", t_malformed_quarantined_and_replayed)
case("vigie_down_then_restart", t_vigie_down_then_restart)
case("broker_restart", t_broker_restart)
case("kill9_mid_stream", t_kill9_mid_stream)
case("registry_stale_and_metrics", t_registry_stale_and_metrics)
case("bad_gateway_file", t_bad_gateway_file)
case("tls_and_password", t_tls_and_password)
done()
