"""GET /api/v1/live (Server-Sent Events) and what the web application needs from the server
(docs/web.md): values written through /write arrive within a second, filters, heartbeats,
Last-Event-ID resume and reset (also across a restart), public data for anonymous callers and
public displays, the streams limit, browser sessions (cookie), the embedded pages and assets
(CSP, gzip, ETag), and a clean stop with open streams."""
import gzip
import http.client
import json
import os
import queue
import threading
import time

from vigielib import Server, case, check, cli, done


class Sse:
    """A raw SSE client: a thread parses events into a queue of (event, id, data)."""

    def __init__(self, port, path, headers=None):
        self.q = queue.Queue()
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.conn.request("GET", path, headers=headers or {})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}
        if self.status == 200:
            threading.Thread(target=self._run, daemon=True).start()
        else:
            self.body = self.resp.read()

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
                        self.q.put((ev, eid, "\n".join(data), time.time()))
                    ev, eid, data = "message", None, []
                elif line.startswith("event: "):
                    ev = line[7:]
                elif line.startswith("id: "):
                    eid = line[4:]
                elif line.startswith("data: "):
                    data.append(line[6:])
        except (OSError, ValueError):
            pass
        self.q.put(("<closed>", None, None, time.time()))

    def next(self, want=None, timeout=5):
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            check(left > 0, "no %s event within %ss (%r)" % (want or "", timeout, list(self.q.queue)))
            try:
                ev = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if want is None or ev[0] == want or ev[0] == "<closed>":
                return ev

    def values(self, n, timeout=5):
        """The next n values of "m" events: [(id, type, attr, ts, value)], and the last id."""
        out, last = [], None
        while len(out) < n:
            try:
                ev, eid, data, _ = self.next("m", timeout)
            except AssertionError as e:
                raise AssertionError("%s after %r" % (e, out))
            check(ev == "m", "stream ended after %d values: %r" % (len(out), out))
            out += json.loads(data)
            last = eid
        return out, last

    def close(self):
        try:
            self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()


def t_values_within_a_second():
    s = Server().start()
    try:
        c = Sse(s.port, "/api/v1/live?type=noise&heartbeat=1")
        check(c.status == 200, "status %d" % c.status)
        check(c.headers.get("content-type") == "text/event-stream", c.headers)
        check(c.headers.get("cache-control") == "no-store", c.headers)
        ev, _, data, _ = c.next()
        check(ev == "hello" and "boot" in json.loads(data), (ev, data))
        delays = []
        for i in range(20):
            t0 = time.time()
            st, _, _ = s.write("noise,id=n%d LAeq=%d.5 %d\nair,id=a1 pm25=3 %d"
                               % (i % 3, 50 + i, 1700000000000 + i, 1700000000000 + i))
            check(st == 204, st)
            vals, _ = c.values(1)
            delays.append(time.time() - t0)
            check(vals == [["n%d" % (i % 3), "noise", "LAeq", 1700000000000 + i, 50 + i + 0.5]],
                  vals)
        check(max(delays) < 1.0, "slowest value took %.3fs" % max(delays))
        ev, _, data, _ = c.next("hb", timeout=3)
        check(ev == "hb" and json.loads(data)["now"] > 1700000000000, (ev, data))
        c.close()
        # several filters at once
        c = Sse(s.port, "/api/v1/live?type=noise,air&id=n1,a1&attr=LAeq,pm25")
        c.next("hello")
        st, _, body = s.write("noise,id=n1 LAeq=1,LAmax=2 1\nnoise,id=n2 LAeq=3 1\n"
                              "air,id=a1 pm25=4,no2=5 1\nair,id=a2 pm25=6 1\n"
                              "noise,id=n1 LAeq=7,lat=48.8,lon=2.3 2")
        check(st == 204, (st, body))
        vals, _ = c.values(3)
        check(vals == [["n1", "noise", "LAeq", 1, 1], ["a1", "air", "pm25", 1, 4],
                       ["n1", "noise", "LAeq", 2, 7]], vals)
        c.close()
        c = Sse(s.port, "/api/v1/live?id=n9")
        c.next("hello")
        s.write("noise,id=n9 LAeq=1,lat=48.8,lon=2.3 5")
        vals, _ = c.values(2)
        check(vals[1] == ["n9", "noise", "location", 5, {"lat": 48.8, "lon": 2.3}], vals)
        c.close()
        for bad in ("heartbeat=0", "heartbeat=61", "heartbeat=x", "type=" + "a" * 5000):
            st, h, doc = s.json("GET", "/api/v1/live?" + bad)
            check(st == 400 and h["content-type"] == "application/problem+json", (bad, st, doc))
    finally:
        s.stop()
        s.cleanup()


def t_resume_and_reset():
    s = Server().start()
    try:
        c = Sse(s.port, "/api/v1/live?heartbeat=1")
        ev, _, hello, _ = c.next()
        boot = json.loads(hello)["boot"]
        s.write("m,id=e v=1 1\nm,id=e v=2 2")
        vals, last = c.values(2)
        check(last == "%s-2" % boot, last)
        c.close()
        s.write("m,id=e v=3 3")
        s.write("m,id=e v=4 4")
        c = Sse(s.port, "/api/v1/live", {"Last-Event-ID": last})
        c.next("hello")
        vals, last = c.values(2)
        check([v[4] for v in vals] == [3, 4], vals)
        check(c.q.empty(), "no reset expected")
        c.close()
        for bad in ("0000000000000000-2", "garbage", "%s-999" % boot):
            c = Sse(s.port, "/api/v1/live", {"Last-Event-ID": bad})
            c.next("hello")
            ev, _, _, _ = c.next(timeout=2)
            check(ev == "reset", (bad, ev))
            c.close()
        s.stop()
        s.start()  # a restart: the old id names another boot
        c = Sse(s.port, "/api/v1/live", {"Last-Event-ID": last})
        ev, _, hello2, _ = c.next()
        check(json.loads(hello2)["boot"] != boot, "same boot id after a restart")
        check(c.next(timeout=2)[0] == "reset", "no reset after a restart")
        s.write("m,id=e v=5 5")
        vals, _ = c.values(1)
        check(vals[0][4] == 5, vals)
        c.close()
        st, _, body = s.request("GET", "/metrics")
        check(b"vigie_live_resets_total 1" in body and b"vigie_live_values_total 1" in body, body[-600:])
    finally:
        s.stop()
        s.cleanup()


def t_ngsild_changes():
    s = Server().start()
    try:
        c = Sse(s.port, "/api/v1/live?type=WaterObserved")
        c.next("hello")
        ent = {"id": "urn:ngsi-ld:WaterObserved:w1", "type": "WaterObserved",
               "flow": {"type": "Property", "value": 3.5, "observedAt": "2026-01-01T00:00:00Z"},
               "status": {"type": "Property", "value": "ok"},
               "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2.3, 48.8]}},
               "refDevice": {"type": "Relationship", "object": "urn:ngsi-ld:Device:d1"}}
        st, _, _ = s.request("POST", "/ngsi-ld/v1/entities", json.dumps(ent),
                             {"Content-Type": "application/json"})
        check(st == 201, st)
        vals, _ = c.values(3)
        got = sorted(v[2] for v in vals)
        check(got == ["flow", "location", "status"], vals)
        flow = [v for v in vals if v[2] == "flow"][0]
        check(flow == ["urn:ngsi-ld:WaterObserved:w1", "WaterObserved", "flow", 1767225600000, 3.5], flow)
        # a PATCH of one attribute: only that value
        st, _, _ = s.request("PATCH", "/ngsi-ld/v1/entities/urn:ngsi-ld:WaterObserved:w1/attrs",
                             json.dumps({"flow": {"type": "Property", "value": 4,
                                                  "observedAt": "2026-01-01T00:01:00Z"}}),
                             {"Content-Type": "application/json"})
        check(st == 204, st)
        vals, _ = c.values(1)
        check(vals == [["urn:ngsi-ld:WaterObserved:w1", "WaterObserved", "flow", 1767225660000, 4]], vals)
        # line protocol into the document entity: the value once, not once per path
        st, _, _ = s.write("WaterObserved,id=urn:ngsi-ld:WaterObserved:w1 flow=5 1767225720000")
        check(st == 204, st)
        vals, _ = c.values(1)
        check(vals[0][4] == 5, vals)
        time.sleep(0.5)
        check(not any(e[0] == "m" for e in list(c.q.queue)), "a value was published twice")
        c.close()
    finally:
        s.stop()
        s.cleanup()


def t_public_data():
    d = Server(auth="on", extra=["--public", "noise:LAeq", "--public", "pool"])
    rkey = cli("apikey", "create", "--tenant", "default", "--scope", "read", "--data", d.data).stdout.strip()
    wkey = cli("apikey", "create", "--tenant", "default", "--scope", "write", "--data", d.data).stdout.strip()
    okey = cli("apikey", "create", "--tenant", "other", "--scope", "admin", "--data", d.data).stdout.strip()
    s = d.start()
    try:
        anon = Sse(s.port, "/api/v1/live")
        anon.next("hello")
        pub1 = Sse(s.port, "/api/v1/live?public=1", {"Authorization": "Bearer " + rkey})
        pub1.next("hello")
        full = Sse(s.port, "/api/v1/live", {"Authorization": "Bearer " + rkey})
        full.next("hello")
        wonly = Sse(s.port, "/api/v1/live", {"Authorization": "Bearer " + wkey})
        wonly.next("hello")
        other = Sse(s.port, "/api/v1/live", {"Authorization": "Bearer " + okey})
        other.next("hello")
        lines = ("noise,id=n1 LAeq=60,LAmax=70 1\nair,id=a1 pm25=9 1\npool,id=p1 occupancy=12 1\n"
                 "pool,id=p1 occupancy@unitCode=\"C62\" 1")
        st, _, _ = s.write(lines, key=wkey)
        check(st == 204, st)
        st, _, _ = s.write("pool,id=p9 occupancy=99 1", key=okey)  # another tenant's pool
        check(st == 204, st)
        want_pub = [["n1", "noise", "LAeq", 1, 60], ["p1", "pool", "occupancy", 1, 12],
                    ["p1", "pool", "occupancy@unitCode", 1, "C62"]]
        for c in (anon, pub1, wonly):
            vals, _ = c.values(3)
            check(vals == want_pub, vals)
        vals, _ = full.values(5)
        check(len(vals) == 5 and ["a1", "air", "pm25", 1, 9] in vals, vals)
        vals, _ = other.values(1)
        check(vals == [["p9", "pool", "occupancy", 1, 99]], vals)
        time.sleep(0.3)
        for c in (anon, pub1, wonly, full, other):
            check(all(e[0] != "m" for e in list(c.q.queue)), "unexpected values")
            c.close()
        st, _, doc = s.json("GET", "/api/v1/public/latest")
        check(st == 200, (st, doc))
        got = sorted((x["id"], x["attr"]) for x in doc["series"])
        check(got == [("n1", "LAeq"), ("p1", "occupancy"), ("p1", "occupancy@unitCode")], got)
        st, _, doc = s.json("GET", "/api/v1/public/query?id=n1&from=0")
        check(st == 200 and [x["attr"] for x in doc["series"]] == ["LAeq"], doc)
        st, _, doc = s.json("GET", "/api/v1/public/latest?type=air")
        check(st == 200 and doc["series"] == [], doc)
        st, _, doc = s.json("GET", "/api/v1/latest")  # the full API still needs a key
        check(st == 401, st)
        st, _, doc = s.json("GET", "/api/v1/ui/config")
        check(doc["auth"] is True and doc["authenticated"] is False, doc)
        st, h, _ = s.request("GET", "/", headers={"Accept": "text/html"})
        check(st == 200 and "link" not in h, h)  # no data preload for who may not read it
        st, h, _ = s.request("GET", "/", headers={"Accept": "text/html", "Authorization": "Bearer " + rkey})
        check(st == 200 and "latest" in h.get("link", ""), h)
        check(doc["publicTypes"] == ["noise:LAeq", "pool"], doc)
    finally:
        s.stop()
        s.cleanup()


def t_sessions():
    d = Server(auth="on")
    rkey = cli("apikey", "create", "--tenant", "paris", "--scope", "read", "--data", d.data).stdout.strip()
    s = d.start()
    try:
        st, h, doc = s.json("POST", "/api/v1/session", b'{"key":"vg_wrong"}')
        check(st == 401 and h["content-type"] == "application/problem+json", (st, doc))
        check("set-cookie" not in h, h)
        for body in (b"", b"{", b'{"key":5}', b'{"key":""}'):
            st, h, doc = s.json("POST", "/api/v1/session", body)
            check(st == 400, (body, st, doc))
        st, h, _ = s.request("POST", "/api/v1/session", json.dumps({"key": rkey}))
        check(st == 204, st)
        ck = h.get("set-cookie", "")
        check("HttpOnly" in ck and "SameSite=Strict" in ck and "Path=/" in ck, ck)
        token = ck.split(";")[0]
        check(token.startswith("vigie_session=") and len(token) == len("vigie_session=") + 64, ck)
        check(rkey not in s.tail(100000), "the key is in the log")
        st, _, doc = s.json("GET", "/api/v1/latest", headers={"Cookie": token})
        check(st == 200, (st, doc))
        st, _, doc = s.json("GET", "/api/v1/ui/config", headers={"Cookie": token})
        check(doc["authenticated"] is True and doc["tenant"] == "paris" and doc["scope"] == "read", doc)
        st, _, _ = s.request("POST", "/write", b"m,id=e v=1", {"Cookie": token})
        check(st == 403, st)  # a read session cannot write
        st, _, _ = s.request("GET", "/api/v1/latest", headers={"Cookie": "vigie_session=" + "0" * 64})
        check(st == 401, st)
        st, h, _ = s.request("DELETE", "/api/v1/session", headers={"Cookie": token})
        check(st == 204 and "Max-Age=0" in h.get("set-cookie", ""), (st, h))
        st, _, _ = s.request("GET", "/api/v1/latest", headers={"Cookie": token})
        check(st == 401, st)
        st, _, doc = s.json("GET", "/api/v1/ui/config", headers={"Cookie": token})
        check(st == 200 and doc["authenticated"] is False, doc)
    finally:
        s.stop()
        s.cleanup()


def t_pages_and_assets():
    s = Server().start()
    try:
        st, h, body = s.request("GET", "/", headers={"Accept": "text/html,*/*"})
        check(st == 200 and h["content-type"].startswith("text/html"), (st, h))
        check(b"<html" in body and b"/assets/app.js" in body, body[:300])
        csp = h.get("content-security-policy", "")
        check("frame-ancestors 'none'" in csp and "script-src 'self'" in csp, csp)
        check(h.get("link") == "</api/v1/latest?by=entity>; rel=preload; as=fetch; crossorigin", h)
        s.write("m,id=b v=1,w=2 1\nm,id=a v=3,lat=48.5,lon=2.5 2\nn,id=c x=\"s\" 3")
        st, _, doc = s.json("GET", "/api/v1/latest?by=entity")
        check(st == 200 and doc == {"entities": [
            {"id": "a", "type": "m", "tags": {}, "values": {"location": [2, {"lat": 48.5, "lon": 2.5}], "v": [2, 3]}},
            {"id": "b", "type": "m", "tags": {}, "values": {"v": [1, 1], "w": [1, 2]}},
            {"id": "c", "type": "n", "tags": {}, "values": {"x": [3, "s"]}}]}, doc)
        st, _, doc = s.json("GET", "/api/v1/latest?by=entity&id=nope")
        check(st == 200 and doc == {"entities": []}, doc)
        st, _, doc = s.json("GET", "/api/v1/latest?by=series")
        check(st == 400, (st, doc))
        st, h, doc = s.json("GET", "/")  # not a browser: the endpoint list
        check(st == 200 and "/api/v1/live" in doc["endpoints"], doc)
        st, h, body = s.request("GET", "/display/noise?id=x")
        check(st == 200 and b"/assets/display.js" in body, (st, body[:200]))
        check("frame-ancestors *" in h.get("content-security-policy", ""), h)
        st, h, body = s.request("GET", "/assets/app.js", headers={"Accept-Encoding": "gzip"})
        check(st == 200 and h.get("content-encoding") == "gzip", (st, h))
        js = gzip.decompress(body)
        st, h2, plain = s.request("GET", "/assets/app.js")
        check(st == 200 and plain == js and "content-encoding" not in h2, h2)
        check(h2["content-type"].startswith("text/javascript"), h2)
        st, _, body = s.request("GET", "/assets/app.js", headers={"If-None-Match": h2["etag"]})
        check(st == 304 and body == b"", st)
        st, h, body = s.request("HEAD", "/assets/app.js")
        check(st == 200 and body == b"", st)
        for path in ("/assets/nope.js", "/assets/../README.md", "/assets/%2e%2e/vigie"):
            st, h, doc = s.json("GET", path)
            check(st == 404 and h["content-type"] == "application/problem+json", (path, st))
        st, _, _ = s.request("POST", "/assets/app.js")
        check(st == 405, st)
    finally:
        s.stop()
        s.cleanup()


def t_limits_and_stop():
    s = Server(extra=["--live-max-clients", "3"]).start()
    try:
        cs = [Sse(s.port, "/api/v1/live") for _ in range(3)]
        for c in cs:
            c.next("hello")
        c4 = Sse(s.port, "/api/v1/live")
        check(c4.status == 503 and b"live streams" in c4.body, (c4.status, c4.body))
        cs[0].close()  # the server looks at the socket every second between heartbeats (15 s)
        deadline = time.time() + 5
        while True:
            c5 = Sse(s.port, "/api/v1/live?heartbeat=1")
            if c5.status == 200 or time.time() > deadline:
                break
            time.sleep(0.2)
        check(c5.status == 200, "a freed stream slot was not reused within 5 s")
        t0 = time.time()
        rc = s.stop(timeout=20)
        check(rc == 0 and time.time() - t0 < 5, "stop with open streams: rc %s in %.1fs"
              % (rc, time.time() - t0))
        for c in cs[1:] + [c5]:
            ev = c.next("<closed>", timeout=5)
            check(ev[0] == "<closed>", ev)
    finally:
        s.stop()
        s.cleanup()
    s = Server(extra=["--threads", "2"]).start()
    try:
        st, h, doc = s.json("GET", "/api/v1/live")
        check(st == 503 and doc["type"] == "urn:vigie:problem:live-unavailable", (st, doc))
    finally:
        s.stop()
        s.cleanup()


case("values_within_a_second", t_values_within_a_second)
case("resume_and_reset", t_resume_and_reset)
case("ngsild_changes", t_ngsild_changes)
case("public_data", t_public_data)
case("sessions", t_sessions)
case("pages_and_assets", t_pages_and_assets)
case("limits_and_stop", t_limits_and_stop)
done()
