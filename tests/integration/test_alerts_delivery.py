"""Where alerts go and how the engine's policy behaves (docs/alerts.md, docs/notifications.md,
docs/forecast.md): `event: alert` on the live feed (tenants, public streams, type filter), the
NGSI-LD Alert entities (attributes, acknowledge, subscriptions, `alert-entities = off`),
GET /api/v1/forecast, rules from the configuration file across restarts, escalation of
unacknowledged alerts, flapping, signed webhooks and their /metrics lines, and the start-up
errors of bad alert settings."""
import hashlib
import hmac
import http.client
import http.server
import json
import math
import os
import queue
import random
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from vigielib import VIGIE, Server, case, check, cli, done, free_port

JSON = {"Content-Type": "application/json"}
E = "/ngsi-ld/v1/entities"
AQ = "AirQualityObserved"
PM25 = {"id": "pm25-high", "kind": "threshold", "severity": "medium",
        "target": {"type": AQ, "attr": "pm25"},
        "condition": {"op": ">", "raise": 50, "clear": 40}}
TMP = tempfile.mkdtemp(prefix="vigie-it-alertsdelivery-")


# (model, seasons) pairs that GET /api/v1/forecast may name (docs/forecast.md)
FORECAST_METHODS = {("holt-winters", "daily"), ("holt-winters", "daily+weekly"),
                    ("similar-days", "all-days"), ("similar-days", "weekdays+weekend"),
                    ("similar-days", "weekdays+saturday+sunday"), ("similar-days", "day-of-week")}

def tmpfile(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def post_rule(s, rule, headers=None):
    return s.json("POST", "/api/v1/rules", json.dumps(rule), dict(JSON, **(headers or {})))


def alerts(s, q="", headers=None):
    st, _, doc = s.json("GET", "/api/v1/alerts" + q, headers=headers)
    check(st == 200, (st, doc))
    return doc


def metric(body, name):
    """The value of a metric line `name value` (name may carry labels), or None."""
    m = re.search(r"^%s (\S+)$" % re.escape(name), body.decode(), re.M)
    return float(m.group(1)) if m else None


def stopped(s):
    """Stop the server: a clean exit (no sanitizer report, no crash) is part of every case."""
    rc = s.stop()
    check(rc == 0, "vigie exited with %s: %s" % (rc, s.tail(3000)))


def sink_port(offset):
    """A port of 19400-19499 for the sinks of this file (offset first, then any free one)."""
    for p in [19400 + offset] + list(range(19400, 19500)):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    raise AssertionError("no free port in 19400-19499")


class Sink:
    """An HTTP receiver on 127.0.0.1: records (path, headers, raw body) of every POST."""

    def __init__(self, offset):
        self.got = []
        self.cv = threading.Condition()
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with rec.cv:
                    rec.got.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    rec.cv.notify_all()
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.port = sink_port(offset)
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def wait(self, pred, n=1, timeout=5.0):
        deadline = time.time() + timeout
        with self.cv:
            while True:
                got = [g for g in self.got if pred(g)]
                if len(got) >= n or time.time() >= deadline:
                    return got
                self.cv.wait(max(0.01, deadline - time.time()))

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class Sse:
    """A raw SSE client (as in test_live.py): a thread parses events into (event, id, data)."""

    def __init__(self, port, path, headers=None):
        self.q = queue.Queue()
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.conn.request("GET", path, headers=headers or {})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        if self.status != 200:
            raise AssertionError("live %s: %d %r" % (path, self.status, self.resp.read()[:300]))
        self.seen = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        ev, eid, data = "message", None, []
        try:
            while True:
                line = self.resp.fp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line == "":
                    if data:
                        self.q.put((ev, eid, "\n".join(data)))
                    ev, eid, data = "message", None, []
                elif line.startswith("event: "):
                    ev = line[7:]
                elif line.startswith("id: "):
                    eid = line[4:]
                elif line.startswith("data: "):
                    data.append(line[6:])
        except (OSError, ValueError):
            pass
        self.q.put(("<closed>", None, None))

    def next(self, want, timeout=5):
        """The next event named want (other events are kept in self.seen)."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            check(left > 0, "no %s event within %ss (seen %r)" % (want, timeout, self.seen[-5:]))
            try:
                ev = self.q.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(ev)
            if ev[0] == want or ev[0] == "<closed>":
                return ev

    def alert(self, timeout=5):
        ev, eid, data = self.next("alert", timeout)
        check(ev == "alert", "stream closed")
        return eid, json.loads(data)

    def drain(self, wait=0.3):
        """Every event received until now (after wait seconds)."""
        time.sleep(wait)
        while True:
            try:
                self.seen.append(self.q.get_nowait())
            except queue.Empty:
                return [e[0] for e in self.seen]

    def close(self):
        try:
            self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()


def start_fails(conf_lines, *flags):
    """Start vigie with a configuration file that must be refused: (exit code, output)."""
    data = tempfile.mkdtemp(prefix="vigie-it-alertsdelivery-bad-")
    conf = tmpfile("bad.conf", "".join(l + "\n" for l in conf_lines))
    try:
        r = subprocess.run([VIGIE, "serve", "--config", conf, "--data", data, "--listen",
                            "127.0.0.1:%d" % free_port(), "--auth", "off"] + list(flags),
                           capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired:
        raise AssertionError("vigie started with %r" % conf_lines)
    finally:
        shutil.rmtree(data, ignore_errors=True)


# ---- 1. live feed -----------------------------------------------------------------------------

def t_live_alert_events():
    d = Server(auth="on", extra=["--public", AQ])
    rkey = cli("apikey", "create", "--tenant", "default", "--scope", "read", "--data", d.data).stdout.strip()
    wkey = cli("apikey", "create", "--tenant", "default", "--scope", "write", "--label", "ops",
               "--data", d.data).stdout.strip()
    okey = cli("apikey", "create", "--tenant", "other", "--scope", "admin", "--data", d.data).stdout.strip()
    s = d.start()
    R = {"Authorization": "Bearer " + rkey}
    W = {"Authorization": "Bearer " + wkey}
    try:
        check(post_rule(s, PM25, W)[0] == 201, "rule")
        check(post_rule(s, PM25, {"Authorization": "Bearer " + okey})[0] == 201, "other's rule")
        full = Sse(s.port, "/api/v1/live", R)
        aq = Sse(s.port, "/api/v1/live?type=" + AQ, R)
        noise = Sse(s.port, "/api/v1/live?type=NoiseLevelObserved", R)
        pub = Sse(s.port, "/api/v1/live?public=1", R)
        anon = Sse(s.port, "/api/v1/live")
        other = Sse(s.port, "/api/v1/live", {"Authorization": "Bearer " + okey})
        streams = (full, aq, noise, pub, anon, other)
        boot = json.loads(full.next("hello")[2])["boot"]
        for c in streams[1:]:
            c.next("hello")
        st, _, _ = s.write("%s,id=a1 pm25=61.5 1000" % AQ, key=wkey)
        check(st == 204, st)
        eid, doc = full.alert()
        check(doc["event"] == "raised", doc)
        a = doc["alert"]
        check(a["rule"] == "pm25-high" and a["entity"] == "a1" and a["type"] == AQ
              and a["state"] == "open" and a["value"] == 61.5 and a["severity"] == "medium", a)
        check(re.fullmatch(re.escape(boot) + r"-\d+", eid or ""), "alert event id %r" % eid)
        eid2, doc2 = aq.alert()
        check(doc2 == doc and eid2 == eid, (doc2, doc))
        # public data streams get the value (the type is public) but never the alert
        for c in (pub, anon):
            ev = c.next("m")
            check(ev[0] == "m" and json.loads(ev[2])[0][:3] == ["a1", AQ, "pm25"], ev)
        st, _, ack = s.json("POST", "/api/v1/alerts/%s/ack" % a["id"],
                            json.dumps({"comment": "on it"}), dict(JSON, **W))
        check(st == 200, (st, ack))
        eid3, doc3 = full.alert()
        check(doc3["event"] == "acknowledged" and doc3["alert"]["id"] == a["id"]
              and doc3["alert"]["comment"] == "on it" and doc3["alert"]["acknowledgedBy"], doc3)
        check(int(eid3.split("-")[1]) > int(eid.split("-")[1]), (eid, eid3))
        s.write("%s,id=a1 pm25=30 2000" % AQ, key=wkey)
        _, doc4 = full.alert()
        check(doc4["event"] == "resolved" and doc4["alert"]["resolvedBy"] == "auto", doc4)
        check([aq.alert()[1]["event"] for _ in range(2)] == ["acknowledged", "resolved"], "aq stream")
        # the other tenant's stream sees its own alerts only
        s.write("%s,id=o1 pm25=99 1000" % AQ, key=okey)
        _, od = other.alert()
        check(od["alert"]["entity"] == "o1", od)
        for c, name in ((noise, "type=Noise"), (pub, "public=1"), (anon, "anonymous"), (other, "other")):
            evs = c.drain(0.3 if c is noise else 0)
            n = evs.count("alert") - (1 if c is other else 0)
            check(n == 0, "%s stream got %d foreign alert events: %r" % (name, n, c.seen))
        for c in streams:
            c.close()
        stopped(s)
    finally:
        s.stop()
        s.cleanup()


def t_acknowledged_by_label():
    """docs/alerts.md: acknowledgedBy / resolvedBy is the API key's label."""
    d = Server(auth="on")
    wkey = cli("apikey", "create", "--tenant", "default", "--scope", "admin", "--label", "ops",
               "--data", d.data).stdout.strip()
    s = d.start()
    W = dict(JSON, Authorization="Bearer " + wkey)
    try:
        check(post_rule(s, PM25, W)[0] == 201, "rule")
        s.write("%s,id=a1 pm25=61.5 1000\n%s,id=a2 pm25=61.5 1000" % (AQ, AQ), key=wkey)
        ids = sorted(a["id"] for a in alerts(s, headers=W)["alerts"])
        st, _, doc = s.json("POST", "/api/v1/alerts/%s/ack" % ids[0], b"", W)
        check(st == 200 and doc["acknowledgedBy"] == "ops", (st, doc))
        st, _, doc = s.json("POST", "/api/v1/alerts/%s/resolve" % ids[1], b"", W)
        check(st == 200 and doc["resolvedBy"] == "ops", (st, doc))
        stopped(s)
    finally:
        s.stop()
        s.cleanup()


# ---- 2. NGSI-LD Alert entities ------------------------------------------------------------------

def ld_alerts(s, tenant=None, q=""):
    h = {"NGSILD-Tenant": tenant} if tenant else {}
    st, _, doc = s.json("GET", E + "?type=Alert" + q, headers=h)
    check(st == 200 and isinstance(doc, list), (st, doc))
    return doc


def val(ent, attr):
    check(attr in ent, "Alert entity lacks %s: %r" % (attr, ent))
    return ent[attr].get("value")


def t_ngsild_alert_entities():
    sink = Sink(1)
    s = Server().start()
    T = {"NGSILD-Tenant": "city"}
    try:
        check(post_rule(s, PM25, T)[0] == 201, "rule")
        sub = {"type": "Subscription", "entities": [{"type": "Alert"}],
               "notification": {"endpoint": {"uri": sink.url("/alerts")}}}
        st, _, body = s.request("POST", "/ngsi-ld/v1/subscriptions", json.dumps(sub), dict(JSON, **T))
        check(st == 201, (st, body))
        st, _, _ = s.write("%s,id=urn:ngsi-ld:%s:s1 pm25=72,lat=48.85,lon=2.35 1767225600000\n"
                           "%s,id=urn:ngsi-ld:%s:s2 pm25=10 1767225600000" % (AQ, AQ, AQ, AQ),
                           headers=T)
        check(st == 204, st)
        a = alerts(s, headers=T)["alerts"]
        check(len(a) == 1, a)
        a = a[0]
        ents = ld_alerts(s, "city")
        check(len(ents) == 1, ents)
        e = ents[0]
        eid = "urn:ngsi-ld:Alert:vigie-%s" % a["id"]
        check(e["id"] == eid and e["type"] == "Alert", e)
        check(val(e, "alertSource") == "urn:ngsi-ld:%s:s1" % AQ, e)
        check(val(e, "category") == "environment" and val(e, "subCategory") == "threshold", e)
        check(val(e, "severity") == "medium" and val(e, "alertState") == "open", e)
        check(val(e, "description") == a["message"] and "72" in a["message"], (e, a))
        check(val(e, "rule") == "pm25-high" and val(e, "attribute") == "pm25" and val(e, "value") == 72, e)
        issued = val(e, "dateIssued")
        issued = issued.get("@value") if isinstance(issued, dict) else issued
        check(issued.startswith("2026-01-01T00:00:00"), e["dateIssued"])
        check("validFrom" in e and "validTo" not in e, e)
        check(e.get("location") == {"type": "GeoProperty",
                                    "value": {"type": "Point", "coordinates": [2.35, 48.85]}}, e)
        check(ld_alerts(s) == [], "an Alert entity leaked into the default tenant")
        s.write("%s,id=urn:ngsi-ld:%s:s3 pm25=80 1767225600000" % (AQ, AQ), headers=T)  # no location
        e3 = [x for x in ld_alerts(s, "city") if val(x, "alertSource").endswith(":s3")]
        check(len(e3) == 1 and "location" not in e3[0], e3)
        # NGSI-LD queries see them like any entity
        check(len(ld_alerts(s, "city", "&q=alertState==%22open%22")) == 2, "q on alertState")
        st, _, one = s.json("GET", E + "/" + eid, headers=T)
        check(st == 200 and one["id"] == eid, (st, one))
        # the subscription on type Alert is notified of the new alert
        def notes():
            got = sink.wait(lambda g: g[0] == "/alerts" and eid.encode() + b'"' in g[2], 1, 5)
            return [d for g in got for d in json.loads(g[2])["data"] if d["id"] == eid]
        got = notes()
        check(got, "no NGSI-LD notification for the Alert entity")
        nd = got[0]
        check(nd["alertState"]["value"] == "open" and nd["severity"]["value"] == "medium", nd)
        # acknowledge: the entity follows
        st, _, doc = s.json("POST", "/api/v1/alerts/%s/ack" % a["id"], json.dumps({"comment": "x"}),
                            dict(JSON, **T))
        check(st == 200, (st, doc))
        e = [x for x in ld_alerts(s, "city") if x["id"] == eid][0]
        check(val(e, "alertState") == "acknowledged" and val(e, "comment") == "x", e)
        check("acknowledgedBy" in e, "acknowledgedBy missing: %r" % e)
        deadline = time.time() + 5
        while len(notes()) < 2 and time.time() < deadline:
            time.sleep(0.05)
        got = notes()
        check(len(got) >= 2 and got[1]["alertState"]["value"] == "acknowledged", got)
        # resolved by a value under clear: validTo appears
        s.write("%s,id=urn:ngsi-ld:%s:s1 pm25=20 1767225660000" % (AQ, AQ), headers=T)
        e = [x for x in ld_alerts(s, "city") if x["id"] == eid][0]
        check(val(e, "alertState") == "resolved" and "validTo" in e, e)
        # nothing else was raised (writing the Alert entities raises nothing)
        check(alerts(s, headers=T)["total"] == 2, alerts(s, headers=T))
        stopped(s)
    finally:
        s.stop()
        s.cleanup()
        sink.close()


def t_alert_entities_off():
    conf = tmpfile("off.conf", "alert-entities = off\n")
    s = Server(extra=["--config", conf]).start()
    try:
        check(post_rule(s, PM25)[0] == 201, "rule")
        s.write("%s,id=a1 pm25=90 1000" % AQ)
        check(alerts(s, "?state=open")["total"] == 1, "the alert is raised")
        check(ld_alerts(s) == [], "alert-entities = off still writes Alert entities")
        stopped(s)
    finally:
        s.stop()
        s.cleanup()
    rc, out = start_fails(["alert-entities = maybe"])
    check(rc != 0 and "alert-entities" in out, (rc, out))


# ---- 3. forecast -----------------------------------------------------------------------------

def pattern(ts_ms, noise=0.0):
    hour = (ts_ms // 3600000) % 24
    return 50 + 20 * math.sin(2 * math.pi * hour / 24) + noise


def t_forecast():
    d = Server(auth="on", extra=["--timezone", "UTC"])
    rkey = cli("apikey", "create", "--tenant", "default", "--scope", "read", "--data", d.data).stdout.strip()
    wkey = cli("apikey", "create", "--tenant", "default", "--scope", "write", "--data", d.data).stdout.strip()
    s = d.start()
    R = {"Authorization": "Bearer " + rkey}
    try:
        now = int(time.time() * 1000)
        hour0 = now - now % 3600000
        lines = []
        rnd = random.Random(7)
        for h in range(72, 0, -1):  # 3 days of hourly values, half past each hour, the last < now
            ts = hour0 - h * 3600000 + 1800000
            lines.append("Meter,id=m1 flow=%.3f,label=\"x\" %d" % (pattern(ts, rnd.gauss(0, 2)), ts))
        for h in range(3):  # a few hours only
            lines.append("Meter,id=m2 flow=%d %d" % (10 + h, hour0 - h * 3600000 - 600000))
        st, _, body = s.write("\n".join(lines), key=wkey)
        check(st == 204, (st, body))
        t_before = int(time.time() * 1000)
        st, _, doc = s.json("GET", "/api/v1/forecast?id=m1&attr=flow&horizon=6h&level=0.9", headers=R)
        t_after = int(time.time() * 1000)
        check(st == 200, (st, doc))
        check(doc["id"] == "m1" and doc["attr"] == "flow" and (doc["model"], doc["seasons"]) in FORECAST_METHODS
              and doc["step"] == "1h"
              and doc["level"] == 0.9 and "reason" not in doc, doc)
        pts = doc["points"]
        check(len(pts) == 6, doc)
        hours = [t - t % 3600000 for t in (t_before, t_after)]
        cur = [h for h in hours if pts[0]["at"].startswith(
            time.strftime("%Y-%m-%dT%H:00:00", time.gmtime(h / 1000)))]
        check(cur, "first point at %s, the current hour is %s" % (pts[0]["at"], hours))
        cur = cur[0]
        for i, p in enumerate(pts):
            want = time.strftime("%Y-%m-%dT%H:00:00", time.gmtime(cur / 1000 + 3600 * i))
            check(p["at"].startswith(want) and p["at"].endswith("Z"), (i, p["at"], want))
            check(p["lower"] <= p["value"] <= p["upper"] and p["upper"] - p["lower"] > 0, p)
            exp = pattern(cur + 3600000 * i)
            check(abs(p["value"] - exp) < 8, "point %d: %s, the daily pattern says %.1f" % (i, p, exp))
        # the daily pattern is followed, not its mean: much closer to it than a flat 50 (the mean)
        pat = [pattern(cur + 3600000 * i) for i in range(6)]
        err = sum(abs(p["value"] - w) for p, w in zip(pts, pat)) / 6
        flat = sum(abs(50 - w) for w in pat) / 6
        check(err < flat / 2, "forecast error %.2f vs %.2f for a flat line: %r" % (err, flat, pts))
        st, _, wide = s.json("GET", "/api/v1/forecast?id=m1&attr=flow&horizon=6h&level=0.99", headers=R)
        st2, _, narrow = s.json("GET", "/api/v1/forecast?id=m1&attr=flow&horizon=6h&level=0.5", headers=R)
        check(st == 200 and st2 == 200 and len(wide["points"]) == len(narrow["points"]) == 6, (wide, narrow))
        for w, n in zip(wide["points"], narrow["points"]):
            check(w["upper"] - w["lower"] > n["upper"] - n["lower"] > 0, (w, n))
        st, _, doc = s.json("GET", "/api/v1/forecast?id=m2&attr=flow&horizon=6h", headers=R)
        check(st == 200 and doc["points"] == [] and doc.get("reason"), (st, doc))
        for q, code in (("id=nope&attr=flow", 404), ("id=m1&attr=label", 400),
                        ("id=m1&attr=flow&horizon=30d", 400), ("id=m1&attr=flow&level=2", 400),
                        ("id=m1", 400)):
            st, h, doc = s.json("GET", "/api/v1/forecast?" + q, headers=R)
            check(st == code and h["content-type"] == "application/problem+json"
                  and doc.get("status") == code and doc.get("detail"), (q, st, doc))
        st, _, doc = s.json("GET", "/api/v1/forecast?id=m1&attr=flow")
        check(st == 401, (st, doc))
        okey = cli("apikey", "create", "--tenant", "other", "--scope", "read", "--data", d.data).stdout.strip()
        st, _, doc = s.json("GET", "/api/v1/forecast?id=m1&attr=flow",
                            headers={"Authorization": "Bearer " + okey})
        check(st == 404, "another tenant's series: %d %r" % (st, doc))
        st, _, doc = s.json("GET", "/api/v1/forecast?id=m1&attr=flow",
                            headers={"Authorization": "Bearer " + wkey})
        check(st == 403, "a write-only key: %d %r" % (st, doc))
        st, _, doc = s.json("GET", "/api/v1/forecast?id=m1&attr=flow", headers=R)
        check(st == 200 and len(doc["points"]) == 24, "default horizon: %r" % doc)
        st, _, doc = s.json("GET", "/api/v1/ui/config", headers=R)
        check("alerts" in doc["features"] and "forecast" in doc["features"], doc)
        stopped(s)
    finally:
        s.stop()
        s.cleanup()


# ---- 4. configuration: rules file, escalation, flapping, bad values -------------------------

def t_rules_file_restart():
    rules = tmpfile("rules.json", json.dumps({"rules": [PM25, dict(PM25, id="pm25-low", severity="low",
                                                                    condition={"op": "<", "raise": 1}),
                                                        dict(PM25, id="pm25-other", tenant="other")]}))
    conf = tmpfile("rules.conf", "rules = %s\n" % rules)
    s = Server(extra=["--config", conf]).start()
    try:
        st, _, doc = s.json("GET", "/api/v1/rules")
        check(st == 200 and sorted(r["id"] for r in doc["rules"]) == ["pm25-high", "pm25-low"], doc)
        st, _, doc = s.json("GET", "/api/v1/rules/pm25-high", headers={"NGSILD-Tenant": "other"})
        check(st == 404, "the file's rules are for the default tenant unless they name one: %r" % doc)
        st, _, doc = s.json("GET", "/api/v1/rules/pm25-other", headers={"NGSILD-Tenant": "other"})
        check(st == 200 and "tenant" not in doc, "a rule of the file in its own tenant: %r" % doc)
        st, _, doc = s.json("GET", "/api/v1/rules/pm25-other")
        check(st == 404, "not in the default tenant: %r" % doc)
        s.write("%s,id=a1 pm25=70 1000" % AQ)
        check(alerts(s, "?state=open")["total"] == 1, "raised")
        check(s.stop() == 0, "stop")
        s.start()  # same file: rules kept, the open alert stays open and is not raised twice
        st, _, doc = s.json("GET", "/api/v1/rules/pm25-high")
        check(st == 200 and doc["severity"] == "medium", doc)
        check(len(s.json("GET", "/api/v1/rules")[2]["rules"]) == 2, "rules duplicated")
        s.write("%s,id=a1 pm25=80 2000" % AQ)
        doc = alerts(s)
        check(doc["total"] == 1 and doc["alerts"][0]["state"] == "open", doc)
        check(s.stop() == 0, "stop")
        tmpfile("rules.json", json.dumps({"rules": [dict(PM25, severity="critical"),
                                                    dict(PM25, id="pm25-low", severity="low",
                                                         condition={"op": "<", "raise": 1})]}))
        s.start()  # a changed rule replaces the stored one
        st, _, doc = s.json("GET", "/api/v1/rules/pm25-high")
        check(st == 200 and doc["severity"] == "critical", doc)
        a = alerts(s)["alerts"]
        check(len(a) == 1 and a[0]["state"] == "resolved" and a[0]["resolvedBy"] == "rule changed", a)
        e = ld_alerts(s)
        check(len(e) == 1 and val(e[0], "alertState") == "resolved" and "validTo" in e[0],
              "the Alert entity of an alert resolved at start: %r" % e)
        s.write("%s,id=a1 pm25=90 3000" % AQ)
        a = alerts(s, "?state=open")["alerts"]
        check(len(a) == 1 and a[0]["severity"] == "critical", a)
        st, _, m = s.request("GET", "/metrics")
        check(metric(m, "vigie_rules") == 3, m[-1500:])  # pm25-other stays, though not in the file
        settled = metric(m, "vigie_rule_values_settled_total")
        # still above the clear level, raised: the quiet band settles them, same outcome
        s.write("%s,id=a1 pm25=85 4000\n%s,id=a1 pm25=88 5000" % (AQ, AQ))
        a = alerts(s, "?state=open")["alerts"]
        check(len(a) == 1 and a[0]["severity"] == "critical", a)
        st, _, m = s.request("GET", "/metrics")
        check(metric(m, "vigie_rule_values_settled_total") == settled + 2, m[-1500:])
        stopped(s)
    finally:
        s.stop()
        s.cleanup()
    bad = tmpfile("bad-rules.json", json.dumps({"rules": [PM25, dict(PM25, id="b", kind="magic")]}))
    rc, out = start_fails(["rules = " + bad])
    check(rc != 0 and bad in out and "rule 2" in out and "kind" in out, (rc, out[-800:]))
    badt = tmpfile("bad-tenant.json", json.dumps({"rules": [dict(PM25, tenant="no spaces")]}))
    rc, out = start_fails(["rules = " + badt])
    check(rc != 0 and "rule 1" in out and "tenant" in out, (rc, out[-800:]))
    nojson = tmpfile("nojson.json", "{not json")
    rc, out = start_fails(["rules = " + nojson])
    check(rc != 0 and nojson in out, (rc, out[-800:]))


def t_escalation():
    conf = tmpfile("esc.conf", "alert-escalate-after = 2s\n")
    s = Server(extra=["--config", conf]).start()
    try:
        check(post_rule(s, PM25)[0] == 201, "rule")
        c = Sse(s.port, "/api/v1/live")
        c.next("hello")
        s.write("%s,id=a1 pm25=70 1000\n%s,id=a2 pm25=70 1000" % (AQ, AQ))
        t0 = time.time()
        raised = {}
        for _ in range(2):
            _, doc = c.alert()
            check(doc["event"] == "raised", doc)
            raised[doc["alert"]["entity"]] = doc["alert"]
        st, _, doc = s.json("POST", "/api/v1/alerts/%s/ack" % raised["a2"]["id"])
        check(st == 200, (st, doc))
        check(c.alert()[1]["event"] == "acknowledged", "ack event")
        _, doc = c.alert(timeout=5)
        took = time.time() - t0
        check(doc["event"] == "escalated", doc)
        a = doc["alert"]
        check(a["entity"] == "a1" and a["severity"] == "high" and a["escalations"] == 1
              and a.get("escalatedAt") and a["state"] == "open", a)
        check(1.5 <= took <= 5, "escalated after %.1fs" % took)
        st, _, a1 = s.json("GET", "/api/v1/alerts?state=open&severity=high")
        check(a1["total"] == 1 and a1["alerts"][0]["escalations"] == 1, a1)
        ents = ld_alerts(s)
        check(any(val(e, "severity") == "high" and val(e, "escalations") == 1 for e in ents), ents)
        time.sleep(1.2)  # the acknowledged one never escalates; a1 goes on one level per period
        a2 = [x for x in alerts(s)["alerts"] if x["entity"] == "a2"][0]
        check(a2["severity"] == "medium" and not a2.get("escalations") and "escalatedAt" not in a2, a2)
        st, _, m = s.request("GET", "/metrics")
        check(metric(m, "vigie_alerts_escalated_total") >= 1, m[-1500:])
        c.close()
        stopped(s)
    finally:
        s.stop()
        s.cleanup()


def t_flapping():
    conf = tmpfile("flap.conf", "alert-flap-count = 4\nalert-flap-window = 1h\n")
    s = Server(extra=["--config", conf]).start()
    try:
        check(post_rule(s, PM25)[0] == 201, "rule")
        c = Sse(s.port, "/api/v1/live?id=f1")
        c.next("hello")
        t = 1767225600000
        m = 60000
        # f1 crosses back and forth every minute: raise, clear, raise, clear within an hour
        for i, v in enumerate((60, 30, 60, 30)):
            check(s.write("%s,id=f1 pm25=%d %d" % (AQ, v, t + i * m))[0] == 204, "write")
        op = alerts(s, "?state=open")["alerts"]
        check(len(op) == 1 and op[0]["entity"] == "f1" and op[0].get("flapping") is True, op)
        evs = []
        while "flapping" not in evs:
            evs.append(c.alert(timeout=3)[1]["event"])
        check(evs == ["raised", "resolved", "raised", "flapping"], evs)
        c.close()
        total = alerts(s)["total"]
        for i, v in enumerate((60, 30, 60, 30, 60, 30)):  # it keeps flapping: nothing new
            s.write("%s,id=f1 pm25=%d %d" % (AQ, v, t + (10 + i) * m))
        doc = alerts(s)
        check(doc["total"] == total and total <= 2, doc)
        op = alerts(s, "?state=open")["alerts"]
        check(len(op) == 1 and op[0].get("flapping") is True, op)
        e = [x for x in ld_alerts(s) if x["id"] == "urn:ngsi-ld:Alert:vigie-%s" % op[0]["id"]]
        check(e and val(e[0], "flapping") is True and val(e[0], "alertState") == "open", e)
        # s1 crosses as often but 2 h apart in data time: ordinary alerts, resolved each time
        for i, v in enumerate((60, 30, 60, 30)):
            s.write("%s,id=s1 pm25=%d %d" % (AQ, v, t + i * 7200000))
        a = [x for x in alerts(s)["alerts"] if x["entity"] == "s1"]
        check(len(a) == 2 and all(x["state"] == "resolved" and not x.get("flapping") for x in a), a)
        st, _, mt = s.request("GET", "/metrics")
        check(metric(mt, "vigie_alerts_flapping_total") == 1, mt[-1500:])
        stopped(s)
    finally:
        s.stop()
        s.cleanup()


def t_bad_alert_settings():
    for line, word in (("alert-flap-count = 1", "alert-flap-count"),
                       ("alert-flap-count = 17", "alert-flap-count"),
                       ("alert-escalate-after = soon", "alert-escalate-after"),
                       ("alert-flap-window = -1h", "alert-flap-window")):
        rc, out = start_fails([line])
        check(rc != 0 and word in out, (line, rc, out[-500:]))
    # the same keys as flags
    rc, out = start_fails([], "--alert-escalate-after", "soon")
    check(rc != 0 and "alert-escalate-after" in out, (rc, out[-500:]))


def t_anomaly_setting():
    """`anomaly = TYPE:attr,attr [score=S] [weeks=W]` makes one anomaly rule per attribute, kept
    across restarts; a bad line refuses to start."""
    conf = tmpfile("anomaly.conf", "anomaly = Meter:flow,pressure score=5 weeks=3\n"
                                   "anomaly = Building:waterConsumption\n")
    s = Server(extra=["--config", conf]).start()
    try:
        st, _, doc = s.json("GET", "/api/v1/rules")
        check(st == 200, (st, doc))
        got = {r["id"]: r for r in doc["rules"]}
        check(sorted(got) == ["anomaly.Building.waterConsumption", "anomaly.Meter.flow",
                              "anomaly.Meter.pressure"], sorted(got))
        r = got["anomaly.Meter.flow"]
        check(r["kind"] == "anomaly" and r["target"] == {"type": "Meter", "attr": "flow"}, r)
        check(r["condition"]["score"] == 5 and r["condition"]["weeks"] == 3, r)
        check(got["anomaly.Building.waterConsumption"]["condition"]["score"] == 6, got)
        check(s.stop() == 0, "stop")
        s.start()
        st, _, doc = s.json("GET", "/api/v1/rules")
        check(len(doc["rules"]) == 3, doc)
        check(s.stop() == 0, "exit code")
    finally:
        s.cleanup()
    for line in ("anomaly = Meter", "anomaly = Meter:flow speed=3", "anomaly = :flow"):
        rc, out = start_fails([line])
        check(rc != 0 and "anomaly takes" in out, (line, rc, out[-500:]))


# ---- 5. notifications ------------------------------------------------------------------------

def signed(secret, hook):
    """Check one webhook call's signature (docs/notifications.md) and return its JSON body."""
    _, h, body = hook
    check(h.get("content-type") == "application/json", h)
    ts = h.get("x-vigie-timestamp", "")
    check(ts.isdigit() and abs(int(ts) - time.time()) < 60, ts)
    want = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    check(hmac.compare_digest(want, h.get("x-vigie-signature", "")), (want, h.get("x-vigie-signature")))
    doc = json.loads(body)
    check(doc["event"] == h.get("x-vigie-event"), (doc, h))
    return doc


def t_webhook():
    sink = Sink(2)
    secret = "s3cr3t-%d-hook" % os.getpid()
    key = tmpfile("hook.key", secret + "\n")
    conf = tmpfile("hook.conf", "log-level = debug\nnotify-webhook = %s secret-file=%s\n"
                   "alert-escalate-after = 2s\n" % (sink.url("/hook"), key))
    s = Server(extra=["--config", conf]).start()
    hooks = lambda n, t=5: sink.wait(lambda g: g[0] == "/hook", n, t)  # noqa: E731
    try:
        check(post_rule(s, PM25)[0] == 201, "rule")
        s.write("%s,id=a1 pm25=66 1000" % AQ)
        got = hooks(1)
        check(got, "no webhook call within 5 s")
        doc = signed(secret, got[0])
        check(doc["event"] == "raised" and doc["tenant"] == "default", doc)
        a = doc["alert"]
        check(a["rule"] == "pm25-high" and a["entity"] == "a1" and a["value"] == 66
              and a["state"] == "open", a)
        _, h, body = got[0]
        wrong = "sha256=" + hmac.new(secret.encode() + b"\n", h["x-vigie-timestamp"].encode() + b"." + body,
                                     hashlib.sha256).hexdigest()
        check(wrong != h["x-vigie-signature"], "the secret file's newline is part of the key")
        st, _, _ = s.json("POST", "/api/v1/alerts/%s/ack" % a["id"], json.dumps({"comment": "k"}))
        check(st == 200, st)
        got = hooks(2)
        check(len(got) == 2, [g[1] for g in got])
        doc = signed(secret, got[1])
        check(doc["event"] == "acknowledged" and doc["alert"]["comment"] == "k", doc)
        s.write("%s,id=a2 pm25=70 1000" % AQ)  # nobody acknowledges a2: escalated after 2 s
        got = hooks(4, 6)
        check(len(got) == 4, [g[1].get("x-vigie-event") for g in got])
        docs = [signed(secret, g) for g in got[2:]]
        check([d["event"] for d in docs] == ["raised", "escalated"], docs)
        check(docs[1]["alert"]["entity"] == "a2" and docs[1]["alert"]["severity"] == "high"
              and docs[1]["alert"]["escalations"] == 1, docs[1])
        st, _, m = s.request("GET", "/metrics")
        lab = '{kind="webhook",index="0"}'
        check(metric(m, "vigie_notify_delivered_total" + lab) == 4, m.decode()[-2500:])
        check(metric(m, "vigie_notify_queued_total" + lab) == 4, m.decode()[-2500:])
        check(metric(m, "vigie_notify_up" + lab) == 1 and metric(m, "vigie_notify_queue_length" + lab) == 0
              and metric(m, "vigie_notify_rejected_total" + lab) == 0, m.decode()[-2500:])
        check(metric(m, "vigie_alerts_escalated_total") == 1, "escalated total line")
        check(secret.encode() not in m, "the webhook secret is in /metrics")
        stopped(s)
        log = s.tail(10 ** 7)
        check("notify" in log or "webhook" in log or "/metrics" in log, log[-500:])
        check(secret not in log, "the webhook secret is in the log")
    finally:
        s.stop()
        s.cleanup()
        sink.close()
    rc, out = start_fails(["notify-webhook = http://127.0.0.1:1/h secret-file=%s/missing.key" % TMP])
    check(rc != 0 and "secret-file" in out, (rc, out[-500:]))


try:
    case("live_alert_events", t_live_alert_events)
    case("acknowledged_by_label", t_acknowledged_by_label)
    case("ngsild_alert_entities", t_ngsild_alert_entities)
    case("alert_entities_off", t_alert_entities_off)
    case("forecast", t_forecast)
    case("rules_file_restart", t_rules_file_restart)
    case("escalation", t_escalation)
    case("flapping", t_flapping)
    case("bad_alert_settings", t_bad_alert_settings)
    case("anomaly_setting", t_anomaly_setting)
    case("webhook", t_webhook)
finally:
    shutil.rmtree(TMP, ignore_errors=True)
done()
