"""NGSI-LD subscriptions and notifications against the real server: CRUD and errors, HTTP
notifications (headers, formats, attributes, q, geoQ, watchedAttributes, triggers, throttling,
expiresAt, isActive, timeInterval, tenants), MQTT notifications through a real Mosquitto broker,
isolation of a dead or slow endpoint, restart persistence of subscriptions and of undelivered
notifications."""
import http.server
import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time

from vigielib import Server, case, check, done, free_port

LD = "/ngsi-ld/v1/"
JSON = {"Content-Type": "application/json"}
MOSQUITTO = "/usr/sbin/mosquitto"


class Receiver:
    """HTTP notification receiver on 127.0.0.1. Records (path, headers, json body, time).
    delay[path] seconds of sleep before answering; status[path] answer code."""

    def __init__(self, port=None):
        self.got = []
        self.cv = threading.Condition()
        self.delay = {}
        self.status = {}
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                time.sleep(rec.delay.get(self.path, 0))
                with rec.cv:
                    rec.got.append((self.path, dict((k.lower(), v) for k, v in self.headers.items()),
                                    json.loads(body), time.time()))
                    rec.cv.notify_all()
                self.send_response(rec.status.get(self.path, 204))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.port = port or free_port()
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.srv.daemon_threads = True
        self.th = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.th.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def on(self, path):
        with self.cv:
            return [g for g in self.got if g[0] == path]

    def wait(self, path, n=1, timeout=5.0):
        deadline = time.time() + timeout
        with self.cv:
            while True:
                got = [g for g in self.got if g[0] == path]
                if len(got) >= n or time.time() >= deadline:
                    return got
                self.cv.wait(max(0.01, deadline - time.time()))

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class MqttSub:
    """Minimal MQTT 3.1.1 subscriber over a raw socket (QoS 0/1)."""

    def __init__(self, port, topic):
        self.msgs = []
        self.cv = threading.Condition()
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        cid = b"vigie-test-%d" % os.getpid()
        var = b"\x00\x04MQTT\x04\x02\x00\x3c"
        self._send(0x10, var + struct.pack(">H", len(cid)) + cid)
        hdr, body = self._read()
        check(hdr >> 4 == 2 and body[1] == 0, "MQTT CONNACK %r" % body)
        t = topic.encode()
        self._send(0x82, struct.pack(">H", 1) + struct.pack(">H", len(t)) + t + b"\x01")
        hdr, body = self._read()
        check(hdr >> 4 == 9, "MQTT SUBACK")
        self.s.settimeout(None)
        threading.Thread(target=self._loop, daemon=True).start()

    def _send(self, h, body):
        n, rl = len(body), b""
        while True:
            d, n = n % 128, n // 128
            rl += bytes([d | (0x80 if n else 0)])
            if not n:
                break
        self.s.sendall(bytes([h]) + rl + body)

    def _recvn(self, n):
        b = b""
        while len(b) < n:
            x = self.s.recv(n - len(b))
            if not x:
                raise EOFError
            b += x
        return b

    def _read(self):
        h = self._recvn(1)[0]
        mult, n = 1, 0
        while True:
            d = self._recvn(1)[0]
            n += (d & 127) * mult
            mult *= 128
            if not d & 128:
                break
        return h, self._recvn(n)

    def _loop(self):
        try:
            while True:
                h, body = self._read()
                if h >> 4 != 3:
                    continue
                qos = (h >> 1) & 3
                tl = struct.unpack(">H", body[:2])[0]
                topic = body[2:2 + tl].decode()
                p = 2 + tl
                if qos:
                    pid = body[p:p + 2]
                    p += 2
                    self._send(0x40, pid)
                with self.cv:
                    self.msgs.append((topic, qos, json.loads(body[p:])))
                    self.cv.notify_all()
        except (OSError, EOFError, ValueError):
            pass

    def wait(self, n=1, timeout=5.0):
        deadline = time.time() + timeout
        with self.cv:
            while len(self.msgs) < n and time.time() < deadline:
                self.cv.wait(max(0.01, deadline - time.time()))
            return list(self.msgs)

    def close(self):
        self.s.close()


def post_sub(s, body, headers=None):
    st, h, data = s.request("POST", LD + "subscriptions", json.dumps(body),
                            dict(JSON, **(headers or {})))
    check(st == 201, "create subscription %d %r" % (st, data[:400]))
    loc = h["location"]
    check(loc.startswith(LD + "subscriptions/"), "Location %r" % loc)
    return loc[len(LD + "subscriptions/"):]


def upsert(s, ent, headers=None):
    st, _, data = s.request("POST", LD + "entityOperations/upsert?options=update",
                            json.dumps([ent]), dict(JSON, **(headers or {})))
    check(st in (201, 204), "upsert %d %r" % (st, data[:300]))


def patch_attrs(s, eid, frag, headers=None):
    st, _, data = s.request("PATCH", LD + "entities/%s/attrs" % eid, json.dumps(frag),
                            dict(JSON, **(headers or {})))
    check(st == 204, "patch attrs %d %r" % (st, data[:300]))


def sensor(eid, typ, temp, **extra):
    e = {"id": eid, "type": typ, "temperature": {"type": "Property", "value": temp}}
    for k, v in extra.items():
        e[k] = {"type": "Property", "value": v}
    return e


def sub_body(typ, uri, **kw):
    b = {"type": "Subscription", "entities": [{"type": typ}], "notification": {"endpoint": {"uri": uri}}}
    for k, v in kw.items():
        if k in ("format", "attributes", "sysAttrs"):
            b["notification"][k] = v
        elif k in ("receiverInfo", "notifierInfo", "accept"):
            b["notification"]["endpoint"][k] = v
        else:
            b[k] = v
    return b


S = None
R = None


def t_crud():
    sid = post_sub(S, {"id": "urn:ngsi-ld:Subscription:crud1", "type": "Subscription",
                       "subscriptionName": "crud", "description": "d",
                       "entities": [{"type": "Crud", "idPattern": "urn:ngsi-ld:Crud:.*"}],
                       "watchedAttributes": ["temperature"], "q": "temperature>10",
                       "notification": {"attributes": ["temperature"], "format": "keyValues",
                                        "endpoint": {"uri": R.url("/crud"),
                                                     "accept": "application/json"}},
                       "throttling": 1})
    check(sid == "urn:ngsi-ld:Subscription:crud1", sid)
    st, h, doc = S.json("GET", LD + "subscriptions/" + sid)
    check(st == 200, "get %d" % st)
    check(doc["id"] == sid and doc["type"] == "Subscription", doc)
    check(doc["entities"] == [{"type": "Crud", "idPattern": "urn:ngsi-ld:Crud:.*"}], doc["entities"])
    check(doc["watchedAttributes"] == ["temperature"], doc)
    check(doc["notification"]["attributes"] == ["temperature"], doc)
    check(doc["notification"]["format"] == "keyValues", doc)
    check(doc["status"] == "active" and doc["isActive"] is True, doc)
    check(doc["q"] == "temperature>10" and doc["throttling"] == 1, doc)
    check("createdAt" not in doc, "createdAt without sysAttrs")
    check("link" in h and "ngsi-ld-core-context" in h["link"], "Link header %r" % h)
    st, h, doc = S.json("GET", LD + "subscriptions/" + sid + "?options=sysAttrs")
    check("createdAt" in doc and "modifiedAt" in doc, doc)
    # auto id
    sid2 = post_sub(S, sub_body("Crud", R.url("/crud2")))
    check(sid2.startswith("urn:ngsi-ld:Subscription:") and len(sid2) > 30, sid2)
    # duplicate
    st, _, doc = S.json("POST", LD + "subscriptions",
                        json.dumps(dict(sub_body("Crud", R.url("/x")), id=sid)), JSON)
    check(st == 409 and doc["type"].endswith("/AlreadyExists"), "dup %d %r" % (st, doc))
    # list, paging, count
    st, h, doc = S.json("GET", LD + "subscriptions?count=true&limit=1")
    check(st == 200 and len(doc) == 1 and int(h["ngsild-results-count"]) >= 2, (st, h, doc))
    st, h, doc = S.json("GET", LD + "subscriptions?limit=1000")
    ids = [d["id"] for d in doc]
    check(sid in ids and sid2 in ids, ids)
    # PATCH merges
    st, _, data = S.request("PATCH", LD + "subscriptions/" + sid,
                            json.dumps({"notification": {"format": "normalized"},
                                        "description": "changed"}), JSON)
    check(st == 204, "patch %d %r" % (st, data))
    st, _, doc = S.json("GET", LD + "subscriptions/" + sid)
    check(doc["description"] == "changed" and doc["notification"]["format"] == "normalized", doc)
    check(doc["notification"]["endpoint"]["uri"] == R.url("/crud"), doc)
    check(doc["q"] == "temperature>10", doc)
    st, _, _ = S.request("PATCH", LD + "subscriptions/" + sid,
                         json.dumps({"description": None, "q": None}),
                         {"Content-Type": "application/merge-patch+json"})
    check(st == 204, "patch null %d" % st)
    st, _, doc = S.json("GET", LD + "subscriptions/" + sid)
    check("description" not in doc and "q" not in doc and doc["subscriptionName"] == "crud", doc)
    # tenant isolation
    st, _, doc = S.json("GET", LD + "subscriptions/" + sid, headers={"NGSILD-Tenant": "other"})
    check(st == 404 and doc["type"].endswith("/ResourceNotFound"), (st, doc))
    st, _, doc = S.json("GET", LD + "subscriptions", headers={"NGSILD-Tenant": "other"})
    check(st == 200 and doc == [], doc)
    # delete
    st, _, _ = S.request("DELETE", LD + "subscriptions/" + sid)
    check(st == 204, "delete %d" % st)
    st, _, doc = S.json("GET", LD + "subscriptions/" + sid)
    check(st == 404 and doc["type"].endswith("/ResourceNotFound"), (st, doc))
    st, _, _ = S.request("DELETE", LD + "subscriptions/" + sid)
    check(st == 404, "delete again %d" % st)
    st, _, _ = S.request("PATCH", LD + "subscriptions/" + sid, json.dumps({"description": "x"}), JSON)
    check(st == 404, "patch missing %d" % st)
    S.request("DELETE", LD + "subscriptions/" + sid2)


def t_errors():
    u = R.url("/err")
    good = sub_body("E", u)
    bad = [
        ({"type": "Subscription", "notification": {"endpoint": {"uri": u}}}, "entities"),
        (dict(good, type="Sub"), "type"),
        ({k: v for k, v in good.items() if k != "type"}, "type"),
        (dict(good, id="not a uri"), "id"),
        (dict(good, entities=[{"id": "urn:a:b"}]), "entities[0].type"),
        (dict(good, entities=[{"type": "T", "idPattern": "(["}]), "entities[0].idPattern"),
        (dict(good, entities=[]), "entities"),
        (dict(good, watchedAttributes=[]), "watchedAttributes"),
        (dict(good, watchedAttributes="temperature"), "watchedAttributes"),
        (dict(good, q="(temperature>1"), "q"),
        (dict(good, geoQ={"geometry": "Point", "coordinates": [2.3, 95], "georel": "near;maxDistance==10"}), "geoQ"),
        (dict(good, geoQ={"geometry": "Point", "coordinates": [2.3, 45], "georel": "nearby"}), "geoQ.georel"),
        (dict(good, geoQ={"coordinates": [2.3, 45], "georel": "within"}), "geoQ.geometry"),
        ({k: v for k, v in good.items() if k != "notification"}, "notification"),
        (dict(good, notification={"endpoint": {}}), "notification.endpoint.uri"),
        (dict(good, notification={"endpoint": {"uri": "ftp://x/y"}}), "notification.endpoint.uri"),
        (dict(good, notification={"endpoint": {"uri": "mqtt://h:1883"}}), "notification.endpoint.uri"),
        (dict(good, notification={"endpoint": {"uri": u, "accept": "text/plain"}}), "notification.endpoint.accept"),
        (dict(good, notification={"endpoint": {"uri": u, "receiverInfo": [{"key": "a b", "value": "v"}]}}), "receiverInfo[0].key"),
        (dict(good, notification={"endpoint": {"uri": u, "receiverInfo": [{"key": "a"}]}}), "receiverInfo[0]"),
        (dict(good, notification={"endpoint": {"uri": "mqtt://h/t", "notifierInfo": [{"key": "MQTT-QoS", "value": "3"}]}}), "MQTT-QoS"),
        (dict(good, notification={"endpoint": {"uri": u}, "format": "pretty"}), "notification.format"),
        (dict(good, notification={"endpoint": {"uri": u}, "attributes": [1]}), "notification.attributes[0]"),
        (dict(good, throttling=-1), "throttling"),
        (dict(good, throttling="5"), "throttling"),
        (dict(good, timeInterval=0), "timeInterval"),
        (dict(good, timeInterval=5, throttling=2), "timeInterval"),
        (dict(good, expiresAt="tomorrow"), "expiresAt"),
        (dict(good, expiresAt="2001-01-01T00:00:00Z"), "expiresAt"),
        (dict(good, isActive="yes"), "isActive"),
        (dict(good, notificationTrigger=["entityTouched"]), "notificationTrigger[0]"),
        (dict(good, notificationTrigger=[]), "notificationTrigger"),
    ]
    for body, member in bad:
        st, _, doc = S.json("POST", LD + "subscriptions", json.dumps(body), JSON)
        check(st == 400 and doc["type"].endswith("/BadRequestData"), "%r: %d %r" % (body, st, doc))
        check(member in doc["detail"], "detail %r should name %r" % (doc["detail"], member))
    st, _, doc = S.json("POST", LD + "subscriptions", "[1]", JSON)
    check(st == 400, "array body %d" % st)
    st, _, doc = S.json("GET", LD + "subscriptions/not-a-uri")
    check(st == 400, "bad id %d" % st)
    st, _, doc = S.json("GET", LD + "subscriptions?limit=5000")
    check(st == 403 and doc["type"].endswith("/TooManyResults"), (st, doc))
    st, _, doc = S.json("PUT", LD + "subscriptions", "{}", JSON)
    check(st == 405, "PUT %d" % st)
    # the PATCH of a valid subscription is validated too
    sid = post_sub(S, good)
    st, _, doc = S.json("PATCH", LD + "subscriptions/" + sid, json.dumps({"q": "(a>1"}), JSON)
    check(st == 400 and "q" in doc["detail"], (st, doc))
    st, _, doc = S.json("PATCH", LD + "subscriptions/" + sid,
                        json.dumps({"notification": {"endpoint": {"uri": "gopher://x"}}}), JSON)
    check(st == 400 and "uri" in doc["detail"], (st, doc))
    S.request("DELETE", LD + "subscriptions/" + sid)


def t_http_notification():
    ctx = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
    sid = post_sub(S, sub_body("Room", R.url("/room"), format="keyValues",
                               attributes=["temperature"],
                               receiverInfo=[{"key": "X-Api-Key", "value": "s3cret"},
                                             {"key": "Fiware-Correlator", "value": "c-1"}]))
    upsert(S, sensor("urn:ngsi-ld:Room:1", "Room", 21.5, humidity=40))
    got = R.wait("/room", 1)
    check(len(got) == 1, "one notification, got %d" % len(got))
    path, h, body, _ = got[0]
    check(h["content-type"] == "application/json", h)
    check(h["x-api-key"] == "s3cret" and h["fiware-correlator"] == "c-1", h)
    check("link" in h and ctx in h["link"], h)
    check("ngsild-tenant" not in h, h)
    check(body["type"] == "Notification" and body["subscriptionId"] == sid, body)
    check(body["id"].startswith("urn:ngsi-ld:Notification:"), body)
    check("notifiedAt" in body and body["notifiedAt"].endswith("Z"), body)
    check(body["data"] == [{"id": "urn:ngsi-ld:Room:1", "type": "Room", "temperature": 21.5}], body)
    # other types do not notify
    upsert(S, sensor("urn:ngsi-ld:Hall:1", "Hall", 1))
    time.sleep(0.3)
    check(len(R.on("/room")) == 1, "Hall notified a Room subscription")
    # the status members
    time.sleep(0.1)
    st, _, doc = S.json("GET", LD + "subscriptions/" + sid)
    n = doc["notification"]
    check(n["timesSent"] == 1 and n["status"] == "ok" and "lastSuccess" in n and
          "lastNotification" in n and "lastFailure" not in n, n)
    S.request("DELETE", LD + "subscriptions/" + sid)

    # normalized with sysAttrs, and application/ld+json
    sid = post_sub(S, sub_body("Flat", R.url("/flat"), accept="application/ld+json", sysAttrs=True))
    upsert(S, sensor("urn:ngsi-ld:Flat:1", "Flat", 18))
    got = R.wait("/flat", 1)
    check(len(got) == 1, "ld+json notification")
    _, h, body, _ = got[0]
    check(h["content-type"] == "application/ld+json" and "link" not in h, h)
    check(body["@context"] == ctx, body.get("@context"))
    e = body["data"][0]
    check(e["temperature"] == {"type": "Property", "value": 18, "createdAt": e["temperature"]["createdAt"],
                               "modifiedAt": e["temperature"]["modifiedAt"]}, e)
    check("createdAt" in e, e)
    S.request("DELETE", LD + "subscriptions/" + sid)

    # concise, user @context compaction, tenant header
    uctx = {"@context": {"temp": "https://example.org/temperature", "Kiosk": "https://example.org/Kiosk"}}
    st, h, data = S.request("POST", LD + "subscriptions", json.dumps(dict(
        sub_body("Kiosk", R.url("/kiosk"), format="concise", watchedAttributes=["temp"]), **uctx)),
        {"Content-Type": "application/ld+json", "NGSILD-Tenant": "t2"})
    check(st == 201, "ld+json create %d %r" % (st, data))
    sid = h["location"].rsplit("/", 1)[1]
    st, _, doc = S.json("GET", LD + "subscriptions/" + sid, headers={"NGSILD-Tenant": "t2"})
    check(doc["entities"][0]["type"] == "https://example.org/Kiosk", doc)  # core context: IRI
    check(doc["watchedAttributes"] == ["https://example.org/temperature"], doc)
    ent = {"id": "urn:ngsi-ld:Kiosk:1", "type": "Kiosk", "temp": {"type": "Property", "value": 5},
           "@context": uctx["@context"]}
    st, _, data = S.request("POST", LD + "entities", json.dumps(ent),
                            {"Content-Type": "application/ld+json", "NGSILD-Tenant": "t2"})
    check(st == 201, "kiosk %d %r" % (st, data))
    got = R.wait("/kiosk", 1)
    check(len(got) == 1, "tenant notification")
    _, h, body, _ = got[0]
    check(h.get("ngsild-tenant") == "t2", h)
    check(body["data"] == [{"id": "urn:ngsi-ld:Kiosk:1", "type": "Kiosk", "temp": 5}], body)
    # the default tenant does not see t2's subscription
    upsert(S, {"id": "urn:ngsi-ld:Kiosk:1", "type": "https://example.org/Kiosk",
               "https://example.org/temperature": {"type": "Property", "value": 6}})
    time.sleep(0.3)
    check(len(R.on("/kiosk")) == 1, "a default-tenant change reached a t2 subscription")


def t_q_geo_watched():
    sid = post_sub(S, sub_body("Hot", R.url("/hot"), q="temperature>30"))
    upsert(S, sensor("urn:ngsi-ld:Hot:1", "Hot", 20))
    time.sleep(0.3)
    check(R.on("/hot") == [], "q: 20 must not match temperature>30")
    patch_attrs(S, "urn:ngsi-ld:Hot:1", {"temperature": {"type": "Property", "value": 35}})
    got = R.wait("/hot", 1)
    check(len(got) == 1 and got[0][2]["data"][0]["temperature"]["value"] == 35, got)
    S.request("DELETE", LD + "subscriptions/" + sid)

    sid = post_sub(S, sub_body("Geo", R.url("/geo"), geoQ={
        "geometry": "Point", "coordinates": [2.35, 48.85], "georel": "near;maxDistance==1000"}))
    far = {"id": "urn:ngsi-ld:Geo:far", "type": "Geo",
           "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [5.0, 45.0]}}}
    near = {"id": "urn:ngsi-ld:Geo:near", "type": "Geo",
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2.351, 48.851]}}}
    upsert(S, far)
    upsert(S, near)
    got = R.wait("/geo", 1)
    time.sleep(0.3)
    got = R.on("/geo")
    check(len(got) == 1 and got[0][2]["data"][0]["id"] == "urn:ngsi-ld:Geo:near", got)
    S.request("DELETE", LD + "subscriptions/" + sid)

    b = sub_body("Wat", R.url("/wat"))
    b["watchedAttributes"] = ["humidity"]
    sid = post_sub(S, b)
    upsert(S, sensor("urn:ngsi-ld:Wat:1", "Wat", 20))  # created without humidity
    time.sleep(0.3)
    check(R.on("/wat") == [], "created without a watched attribute")
    patch_attrs(S, "urn:ngsi-ld:Wat:1", {"temperature": {"type": "Property", "value": 21}})
    time.sleep(0.3)
    check(R.on("/wat") == [], "an unwatched attribute changed")
    st, _, _ = S.request("POST", LD + "entities/urn:ngsi-ld:Wat:1/attrs",
                         json.dumps({"humidity": {"type": "Property", "value": 50}}), JSON)
    check(st == 204, "append %d" % st)
    got = R.wait("/wat", 1)
    check(len(got) == 1 and got[0][2]["data"][0]["humidity"]["value"] == 50, got)
    S.request("DELETE", LD + "subscriptions/" + sid)


def t_triggers():
    sd = post_sub(S, sub_body("Trg", R.url("/trg-del"), notificationTrigger=["entityDeleted"]))
    sdef = post_sub(S, sub_body("Trg", R.url("/trg-def")))
    sad = post_sub(S, sub_body("Trg", R.url("/trg-attrdel"), notificationTrigger=["attributeDeleted"]))
    sc = post_sub(S, sub_body("Trg", R.url("/trg-created"), notificationTrigger=["entityCreated"]))
    upsert(S, sensor("urn:ngsi-ld:Trg:1", "Trg", 1, humidity=2))
    check(len(R.wait("/trg-def", 1)) == 1, "default: created")
    check(len(R.wait("/trg-created", 1)) == 1, "entityCreated")
    patch_attrs(S, "urn:ngsi-ld:Trg:1", {"temperature": {"type": "Property", "value": 2}})
    check(len(R.wait("/trg-def", 2)) == 2, "default: updated")
    st, _, _ = S.request("DELETE", LD + "entities/urn:ngsi-ld:Trg:1/attrs/humidity")
    check(st == 204, "delete attr %d" % st)
    got = R.wait("/trg-attrdel", 1)
    check(len(got) == 1 and "humidity" not in got[0][2]["data"][0], got)
    st, _, _ = S.request("DELETE", LD + "entities/urn:ngsi-ld:Trg:1")
    check(st == 204, "delete entity %d" % st)
    got = R.wait("/trg-del", 1)
    check(len(got) == 1, "entityDeleted")
    d = got[0][2]["data"][0]
    check(d["id"] == "urn:ngsi-ld:Trg:1" and d["type"] == "Trg" and "deletedAt" in d, d)
    time.sleep(0.3)
    check(len(R.on("/trg-created")) == 1, "entityCreated fired on something else")
    check(len(R.on("/trg-del")) == 1, "entityDeleted fired on something else")
    check(len(R.on("/trg-attrdel")) == 1, "attributeDeleted fired on something else")
    n_def = len(R.on("/trg-def"))
    check(n_def == 3, "default triggers: created, updated, attribute deletion = 3, got %d" % n_def)
    for sid in (sd, sdef, sad, sc):
        S.request("DELETE", LD + "subscriptions/" + sid)


def t_throttling():
    sid = post_sub(S, sub_body("Thr", R.url("/thr"), throttling=2))
    t0 = time.time()
    upsert(S, sensor("urn:ngsi-ld:Thr:1", "Thr", 1))
    check(len(R.wait("/thr", 1)) == 1, "first at once")
    for v in (2, 3, 4):
        patch_attrs(S, "urn:ngsi-ld:Thr:1", {"temperature": {"type": "Property", "value": v}})
    time.sleep(0.5)
    check(len(R.on("/thr")) == 1, "throttled changes must wait")
    got = R.wait("/thr", 2, timeout=4)
    check(len(got) == 2, "coalesced notification after the window, got %d" % len(got))
    check(got[1][3] - got[0][3] >= 1.8, "window respected: %.2f s" % (got[1][3] - got[0][3]))
    check(got[1][2]["data"][0]["temperature"]["value"] == 4, "latest state %r" % got[1][2])
    time.sleep(2.3)
    check(len(R.on("/thr")) == 2, "no extra notification")
    check(time.time() - t0 < 10, "took too long")
    S.request("DELETE", LD + "subscriptions/" + sid)


def t_expires_inactive():
    exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    sid = post_sub(S, sub_body("Exp", R.url("/exp"), expiresAt=exp))
    upsert(S, sensor("urn:ngsi-ld:Exp:1", "Exp", 1))
    check(len(R.wait("/exp", 1)) == 1, "before expiry")
    time.sleep(max(0, time.mktime(time.strptime(exp, "%Y-%m-%dT%H:%M:%SZ")) - time.mktime(time.gmtime()) + 0.3))
    st, _, doc = S.json("GET", LD + "subscriptions/" + sid)
    check(doc["status"] == "expired", doc["status"])
    patch_attrs(S, "urn:ngsi-ld:Exp:1", {"temperature": {"type": "Property", "value": 2}})
    time.sleep(0.4)
    check(len(R.on("/exp")) == 1, "expired subscription notified")

    sid = post_sub(S, sub_body("Pau", R.url("/pau")))
    st, _, _ = S.request("PATCH", LD + "subscriptions/" + sid, json.dumps({"isActive": False}), JSON)
    check(st == 204, "pause %d" % st)
    st, _, doc = S.json("GET", LD + "subscriptions/" + sid)
    check(doc["status"] == "paused" and doc["isActive"] is False, doc)
    upsert(S, sensor("urn:ngsi-ld:Pau:1", "Pau", 1))
    time.sleep(0.4)
    check(R.on("/pau") == [], "paused subscription notified")
    st, _, _ = S.request("PATCH", LD + "subscriptions/" + sid, json.dumps({"isActive": True}), JSON)
    patch_attrs(S, "urn:ngsi-ld:Pau:1", {"temperature": {"type": "Property", "value": 2}})
    got = R.wait("/pau", 1)
    check(len(got) == 1 and got[0][2]["data"][0]["temperature"]["value"] == 2, got)
    S.request("DELETE", LD + "subscriptions/" + sid)


def t_periodic():
    upsert(S, sensor("urn:ngsi-ld:Per:1", "Per", 7))
    sid = post_sub(S, sub_body("Per", R.url("/per"), timeInterval=1))
    got = R.wait("/per", 3, timeout=4)
    check(len(got) >= 3, "periodic notifications: %d" % len(got))
    check(all(g[2]["data"][0]["temperature"]["value"] == 7 for g in got), got)
    gaps = [got[i + 1][3] - got[i][3] for i in range(len(got) - 1)]
    check(all(0.7 < g < 1.6 for g in gaps), "intervals %r" % gaps)
    S.request("DELETE", LD + "subscriptions/" + sid)
    n = len(R.on("/per"))
    time.sleep(1.5)
    check(len(R.on("/per")) <= n + 1, "deleted periodic subscription keeps notifying")


def t_mqtt():
    port = free_port()
    conf = os.path.join(S.data + "-mosq.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\n" % port)
    broker = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                check(time.time() < deadline, "mosquitto did not start")
                time.sleep(0.05)
        m = MqttSub(port, "vigie/#")
        sid = post_sub(S, sub_body("Mq", "mqtt://127.0.0.1:%d/vigie/notify" % port,
                                   format="keyValues",
                                   receiverInfo=[{"key": "X-Key", "value": "k1"}],
                                   notifierInfo=[{"key": "MQTT-QoS", "value": "1"}]))
        upsert(S, sensor("urn:ngsi-ld:Mq:1", "Mq", 12.5))
        msgs = m.wait(1)
        check(len(msgs) == 1, "one MQTT message, got %d" % len(msgs))
        topic, qos, payload = msgs[0]
        check(topic == "vigie/notify" and qos == 1, (topic, qos))
        check(payload["metadata"]["X-Key"] == "k1", payload["metadata"])
        check(payload["metadata"]["Content-Type"] == "application/json", payload["metadata"])
        body = payload["body"]
        check(body["type"] == "Notification" and body["subscriptionId"] == sid, body)
        check(body["data"] == [{"id": "urn:ngsi-ld:Mq:1", "type": "Mq", "temperature": 12.5}], body)
        patch_attrs(S, "urn:ngsi-ld:Mq:1", {"temperature": {"type": "Property", "value": 13}})
        msgs = m.wait(2)
        check(len(msgs) == 2 and msgs[1][2]["body"]["data"][0]["temperature"] == 13, msgs)
        m.close()
        S.request("DELETE", LD + "subscriptions/" + sid)
    finally:
        broker.terminate()
        broker.wait()
        os.unlink(conf)


def t_dead_endpoint():
    R.delay["/slow"] = 10
    dead = "http://127.0.0.1:%d/nobody" % free_port()
    s_slow = post_sub(S, sub_body("Iso", R.url("/slow")))
    s_dead = post_sub(S, sub_body("Iso", dead))
    s_live = post_sub(S, sub_body("Iso", R.url("/live")))
    for i in range(3):  # queued behind each other on the slow and dead endpoints
        t0 = time.time()
        upsert(S, sensor("urn:ngsi-ld:Iso:1", "Iso", i))
        got = R.wait("/live", i + 1, timeout=1.0)
        check(len(got) == i + 1, "live endpoint waited (%d)" % i)
        check(got[i][3] - t0 < 1.0, "live notification took %.2f s" % (got[i][3] - t0))
        check(got[i][2]["data"][0]["temperature"]["value"] == i, got[i][2])
    time.sleep(0.5)
    st, _, doc = S.json("GET", LD + "subscriptions/" + s_dead)
    n = doc["notification"]
    check(n["status"] == "failed" and "lastFailure" in n and "lastSuccess" not in n, n)
    st, _, doc = S.json("GET", LD + "subscriptions/" + s_live)
    check(doc["notification"]["timesSent"] == 3 and doc["notification"]["status"] == "ok", doc)
    for sid in (s_slow, s_dead, s_live):
        st, _, _ = S.request("DELETE", LD + "subscriptions/" + sid)
        check(st == 204, "delete %d" % st)
    R.delay.pop("/slow")


def t_restart():
    data = S.data
    port = free_port()
    sid = post_sub(S, sub_body("Rst", "http://127.0.0.1:%d/late" % port, format="keyValues"))
    sid2 = post_sub(S, sub_body("Rst2", R.url("/rst2")))
    upsert(S, sensor("urn:ngsi-ld:Rst:1", "Rst", 99))  # receiver down: stays undelivered
    time.sleep(0.5)
    check(S.stop() == 0, "clean stop")
    late = Receiver(port)
    try:
        S.start()
        st, _, doc = S.json("GET", LD + "subscriptions/" + sid)
        check(st == 200 and doc["notification"]["endpoint"]["uri"].endswith("/late"), (st, doc))
        check(doc["notification"]["format"] == "keyValues", doc)
        check(doc["notification"].get("timesSent", 0) >= 1 and "lastFailure" in doc["notification"],
              "status persisted %r" % doc["notification"])
        got = late.wait("/late", 1, timeout=5)
        check(len(got) == 1, "the undelivered notification arrived after the restart")
        check(got[0][2]["subscriptionId"] == sid and
              got[0][2]["data"] == [{"id": "urn:ngsi-ld:Rst:1", "type": "Rst", "temperature": 99}],
              got[0][2])
        # the reloaded subscription still works, and is delivered once only
        upsert(S, sensor("urn:ngsi-ld:Rst2:1", "Rst2", 1))
        check(len(R.wait("/rst2", 1)) == 1, "reloaded subscription")
        time.sleep(0.5)
        check(S.stop() == 0, "stop 2")
        S.start()
        time.sleep(1.0)
        check(len(late.on("/late")) == 1, "a delivered notification was sent again")
    finally:
        late.close()
    check(data == S.data, "same data dir")
    for x in (sid, sid2):
        S.request("DELETE", LD + "subscriptions/" + x)


def main():
    global S, R
    R = Receiver()
    S = Server().start()
    try:
        st, _, doc = S.json("GET", LD + "subscriptions")
        if st == 501:
            print("FAIL test_ngsild_subscriptions wiring: /subscriptions answers 501 (subs not wired)")
            raise SystemExit(1)
        case("crud", t_crud)
        case("errors", t_errors)
        case("http_notification", t_http_notification)
        case("q_geo_watched", t_q_geo_watched)
        case("triggers", t_triggers)
        case("throttling", t_throttling)
        case("expires_inactive", t_expires_inactive)
        case("periodic", t_periodic)
        if os.path.exists(MOSQUITTO):
            case("mqtt", t_mqtt)
        else:
            print("FAIL test_ngsild_subscriptions mqtt: %s is not installed" % MOSQUITTO)
        case("dead_endpoint", t_dead_endpoint)
        case("restart", t_restart)
    finally:
        S.cleanup()
        R.close()
    done()


if __name__ == "__main__":
    main()
