"""Rules and alerts over HTTP (docs/alerts.md): rule CRUD with problem documents, alerts raised
by values written through /write and through the NGSI-LD API, de-duplication, acknowledge and
resolve, automatic resolution, staleness by the engine's clock, scopes and tenants, a restart
that raises nothing twice, and the /metrics lines."""
import json
import time

from vigielib import Server, case, check, cli, done

PM25 = {"id": "pm25-high", "name": "PM2.5 episode", "kind": "threshold", "severity": "high",
        "target": {"type": "air", "attr": "pm25"},
        "condition": {"op": ">", "raise": 50, "clear": 40}}


def post_rule(s, rule, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return s.json("POST", "/api/v1/rules", json.dumps(rule), h)


def alerts(s, q="", headers=None):
    st, _, doc = s.json("GET", "/api/v1/alerts" + q, headers=headers)
    check(st == 200, (st, doc))
    return doc


def t_rules_crud():
    s = Server().start()
    try:
        st, h, doc = post_rule(s, PM25)
        check(st == 201 and h.get("location") == "/api/v1/rules/pm25-high", (st, h, doc))
        check(doc["id"] == "pm25-high" and doc["condition"]["clear"] == 40, doc)
        st, _, doc = post_rule(s, PM25)
        check(st == 409 and doc["type"] == "urn:vigie:problem:conflict", (st, doc))
        for bad, word in ((dict(PM25, id="a b"), "id"), (dict(PM25, kind="magic"), "kind"),
                          (dict(PM25, target={"type": "air"}), "attr"),
                          (dict(PM25, condition={"op": ">", "raise": 50, "clear": 60}), "clear"),
                          (dict(PM25, extra=1), "extra")):
            st, h, doc = post_rule(s, bad)
            check(st == 400 and h["content-type"] == "application/problem+json", (bad, st, doc))
            check(word in doc["detail"], (word, doc["detail"]))
        st, _, doc = s.json("POST", "/api/v1/rules", b"{not json")
        check(st == 400, (st, doc))
        st, _, doc = s.json("GET", "/api/v1/rules")
        check(st == 200 and [r["id"] for r in doc["rules"]] == ["pm25-high"], doc)
        st, _, doc = s.json("GET", "/api/v1/rules/pm25-high")
        check(st == 200 and doc["severity"] == "high", doc)
        st, _, doc = s.json("GET", "/api/v1/rules/nope")
        check(st == 404, st)
        st, _, doc = s.json("PUT", "/api/v1/rules/pm25-high",
                            json.dumps(dict(PM25, severity="critical")))
        check(st == 200 and doc["severity"] == "critical", (st, doc))
        st, _, doc = s.json("PUT", "/api/v1/rules/other", json.dumps(PM25))
        check(st == 400 and "path" in doc["detail"], (st, doc))
        st, _, doc = s.json("PUT", "/api/v1/rules/ghost", json.dumps(dict(PM25, id="ghost")))
        check(st == 404, (st, doc))
        st, _, _ = s.request("DELETE", "/api/v1/rules/pm25-high")
        check(st == 204, st)
        st, _, _ = s.request("DELETE", "/api/v1/rules/pm25-high")
        check(st == 404, st)
        st, h, _ = s.request("PATCH", "/api/v1/rules/x")
        check(st == 405 and "PUT" in h.get("allow", ""), (st, h))
    finally:
        s.stop()
        s.cleanup()


def t_alert_lifecycle_and_restart():
    s = Server().start()
    try:
        check(post_rule(s, PM25)[0] == 201, "rule")
        s.write("air,id=a1 pm25=30 1000\nair,id=a2 pm25=12 1000")
        check(alerts(s)["total"] == 0, "no alert yet")
        s.write("air,id=a1 pm25=61.5 2000\nair,id=a1 pm25=70 3000")  # one alert, not two
        doc = alerts(s, "?state=open")
        check(doc["total"] == 1, doc)
        a = doc["alerts"][0]
        check(a["rule"] == "pm25-high" and a["entity"] == "a1" and a["severity"] == "high"
              and a["value"] == 61.5 and a["state"] == "open", a)
        check(a["raisedAt"].startswith("1970-01-01T00:00:02"), a)
        st, _, doc = s.json("POST", "/api/v1/alerts/%s/ack" % a["id"], json.dumps({"comment": "team sent"}))
        check(st == 200 and doc["state"] == "acknowledged" and doc["comment"] == "team sent", (st, doc))
        st, _, doc = s.json("POST", "/api/v1/alerts/%s/ack" % a["id"])
        check(st == 409, (st, doc))
        st, _, doc = s.json("POST", "/api/v1/alerts/999/ack")
        check(st == 404, (st, doc))
        st, _, doc = s.json("POST", "/api/v1/alerts/%s/snooze" % a["id"])
        check(st == 404, (st, doc))
        st, _, doc = s.json("POST", "/api/v1/alerts/%s/resolve" % a["id"], b'{"comment":5}')
        check(st == 400, (st, doc))
        check(alerts(s, "?state=acknowledged")["total"] == 1, "acknowledged filter")
        check(alerts(s, "?severity=low")["total"] == 0, "severity filter")
        check(alerts(s, "?type=air")["total"] == 1, "type filter")
        st, _, doc = s.json("GET", "/api/v1/alerts?state=weird")
        check(st == 400, st)
        # restart: the open alert is not raised again by a high value
        check(s.stop() == 0, "stop")
        s.start()
        s.write("air,id=a1 pm25=80 4000")
        doc = alerts(s)
        check(doc["total"] == 1 and doc["alerts"][0]["state"] == "acknowledged", doc)
        s.write("air,id=a1 pm25=35 5000")  # below clear: resolved by the engine
        a = alerts(s)["alerts"][0]
        check(a["state"] == "resolved" and a["resolvedBy"] == "auto", a)
        # an NGSI-LD entity's change is evaluated too
        ent = {"id": "urn:ngsi-ld:air:x", "type": "air",
               "pm25": {"type": "Property", "value": 99, "observedAt": "2026-01-01T00:00:00Z"}}
        st, _, _ = s.request("POST", "/ngsi-ld/v1/entities", json.dumps(ent),
                             {"Content-Type": "application/json"})
        check(st == 201, st)
        doc = alerts(s, "?state=open")
        check(doc["total"] == 1 and doc["alerts"][0]["entity"] == "urn:ngsi-ld:air:x", doc)
        st, _, doc = s.json("POST", "/api/v1/alerts/%s/resolve" % doc["alerts"][0]["id"])
        check(st == 200 and doc["state"] == "resolved" and doc["resolvedBy"], (st, doc))
        st, _, m = s.request("GET", "/metrics")
        check(b"vigie_rules 1" in m and b"vigie_alerts_raised_total" in m and b"vigie_alerts_open 0" in m,
              m[-900:])
    finally:
        s.stop()
        s.cleanup()


def t_stale_by_engine_clock():
    s = Server().start()
    try:
        rule = {"id": "silent", "kind": "stale", "target": {"type": "meter"},
                "condition": {"after": "2s"}}
        check(post_rule(s, rule)[0] == 201, "rule")
        now = int(time.time() * 1000)
        s.write("meter,id=m1 v=1 %d\nmeter,id=m2 v=1 %d" % (now, now))
        deadline = time.time() + 3
        while time.time() < deadline:  # m2 keeps talking
            s.write("meter,id=m2 v=1 %d" % int(time.time() * 1000))
            time.sleep(0.3)
        time.sleep(1.5)
        doc = alerts(s, "?state=open&rule=silent")
        ents = sorted(a["entity"] for a in doc["alerts"])
        check("m1" in ents, doc)
        s.write("meter,id=m1 v=2 %d" % int(time.time() * 1000))  # m1 is back
        doc = alerts(s, "?rule=silent")
        m1 = [a for a in doc["alerts"] if a["entity"] == "m1"]
        check(m1 and m1[0]["state"] == "resolved", doc)
    finally:
        s.stop()
        s.cleanup()


def t_scopes_and_tenants():
    d = Server(auth="on")
    rkey = cli("apikey", "create", "--tenant", "paris", "--scope", "read", "--data", d.data).stdout.strip()
    wkey = cli("apikey", "create", "--tenant", "paris", "--scope", "write", "--data", d.data).stdout.strip()
    akey = cli("apikey", "create", "--tenant", "paris", "--scope", "admin", "--data", d.data).stdout.strip()
    lkey = cli("apikey", "create", "--tenant", "lyon", "--scope", "admin", "--data", d.data).stdout.strip()
    s = d.start()
    try:
        st, _, _ = post_rule(s, PM25, {"Authorization": "Bearer " + rkey})
        check(st == 403, st)  # a read key cannot create rules
        st, _, _ = post_rule(s, PM25)
        check(st == 401, st)
        check(post_rule(s, PM25, {"Authorization": "Bearer " + wkey})[0] == 201, "write key")
        s.write("air,id=a1 pm25=90 1000", key=wkey)
        check(alerts(s, headers={"Authorization": "Bearer " + akey})["total"] == 1, "paris sees it")
        check(alerts(s, headers={"Authorization": "Bearer " + lkey})["total"] == 0, "lyon does not")
        st, _, doc = s.json("GET", "/api/v1/rules", headers={"Authorization": "Bearer " + lkey})
        check(st == 200 and doc["rules"] == [], doc)
        a = alerts(s, headers={"Authorization": "Bearer " + akey})["alerts"][0]
        st, _, _ = s.json("POST", "/api/v1/alerts/%s/ack" % a["id"], headers={"Authorization": "Bearer " + lkey})
        check(st == 404, st)  # another tenant's alert does not exist for lyon
        st, _, _ = s.json("POST", "/api/v1/alerts/%s/ack" % a["id"], headers={"Authorization": "Bearer " + rkey})
        check(st == 403, st)
        s.write("air,id=a1 pm25=90 2000", key=lkey)  # lyon's a1: no rule there
        check(alerts(s, headers={"Authorization": "Bearer " + lkey})["total"] == 0, "lyon no rule")
    finally:
        s.stop()
        s.cleanup()


case("rules_crud", t_rules_crud)
case("alert_lifecycle_and_restart", t_alert_lifecycle_and_restart)
case("stale_by_engine_clock", t_stale_by_engine_clock)
case("scopes_and_tenants", t_scopes_and_tenants)
done()
