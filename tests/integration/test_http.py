"""HTTP API of the real server: health, metrics, problem documents, line-protocol ingest,
queries, quarantine, limits, authorisation and tenant isolation, clean restart."""
import json
import time

from vigielib import Server, case, check, cli, done

T0 = 1700000000000  # 2023-11-14T22:13:20Z, ms


def early_status(s, path, headers=""):
    """Send only the headers of a POST announcing a 100 MB body; the server must answer at once
    (refused on the headers, without reading or buffering any body)."""
    import socket
    c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    c.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n%s\r\nab"
               % (path, headers)).encode())
    data = c.recv(4096).decode("latin-1")
    c.close()
    return int(data.split(" ")[1])


def with_server(fn, **kw):
    def run():
        s = Server(**kw).start()
        try:
            fn(s)
        finally:
            s.cleanup()
    return run


def is_problem(st, h, body, status):
    check(st == status, "status %d, want %d: %r" % (st, status, body[:300]))
    check(h.get("content-type", "").startswith("application/problem+json"),
          "content-type %r" % h.get("content-type"))
    doc = json.loads(body)
    for k in ("type", "title", "status", "detail"):
        check(k in doc, "problem document lacks %s: %r" % (k, doc))
    check(doc["status"] == status, "status member %r" % doc["status"])
    return doc


def t_health_metrics(s):
    st, h, doc = s.json("GET", "/health")
    check(st == 200 and doc["status"] == "ok", "health %d %r" % (st, doc))
    s.write("noise,id=n1 laeq=60.5 %d" % T0)
    st, h, body = s.request("GET", "/metrics")
    text = body.decode()
    check(st == 200 and h["content-type"].startswith("text/plain"), "metrics status/type")
    for name in ("vigie_ingest_points_total 1", "vigie_series 1", "vigie_wal_fsync_seconds_bucket",
                 "vigie_wal_bytes_written_total", "vigie_chunks", "vigie_resident_memory_bytes",
                 "vigie_wal_fsync_seconds_count"):
        check(name in text, "metrics lacks %r" % name)
    # Prometheus histogram: cumulative buckets, non-decreasing, +Inf equals _count
    vals = {}
    for line in text.splitlines():
        if line.startswith("vigie_wal_fsync_seconds_bucket"):
            vals[line.split('le="')[1].split('"')[0]] = int(line.rsplit(" ", 1)[1])
    count = int([l for l in text.splitlines() if l.startswith("vigie_wal_fsync_seconds_count")][0]
                .rsplit(" ", 1)[1])
    series = list(vals.values())
    check(count >= 1 and vals.get("+Inf") == count, "+Inf bucket %r, count %d" % (vals, count))
    check(all(a <= b for a, b in zip(series, series[1:])), "buckets not cumulative %r" % vals)


def t_problems(s):
    is_problem(*s.request("GET", "/nope"), 404)
    is_problem(*s.request("DELETE", "/write"), 405)
    is_problem(*s.request("POST", "/write?precision=hours", b"m f=1"), 400)
    is_problem(*s.request("GET", "/api/v1/query?type=x&agg=median&every=1h"), 400)
    is_problem(*s.request("GET", "/api/v1/query?type=x&agg=avg"), 400)
    is_problem(*s.request("GET", "/api/v1/query?type=x&from=yesterday"), 400)
    is_problem(*s.request("GET", "/api/v1/query"), 400)
    is_problem(*s.request("POST", "/write", b"\x1f\x8b garbage", {"Content-Encoding": "gzip"}), 400)


def t_write_query(s):
    lines = []
    for i in range(120):  # two hours, one point a minute, two sensors in two districts
        ts = T0 + i * 60000
        lines.append("noise,id=n1,district=75012 laeq=%.1f %d" % (50 + (i % 10), ts))
        lines.append("noise,id=n2,district=75011 laeq=%.1f,ok=true,count=%di,state=\"s%d\" %d"
                     % (60 + (i % 5), i, i % 3, ts))
    lines.append("truck,id=t1 lat=48.8485,lon=2.3959,load=1.5 %d" % T0)
    st, h, body = s.write("\n".join(lines))
    check(st == 204, "write %d %r" % (st, body))
    st, h, doc = s.json("GET", "/api/v1/query?type=noise&id=n1&attr=laeq&from=%d&to=%d"
                        % (T0, T0 + 7200000))
    check(st == 200 and len(doc["series"]) == 1, "query %d %r" % (st, doc))
    ser = doc["series"][0]
    check(ser["id"] == "n1" and ser["attr"] == "laeq" and ser["tags"] == {"district": "75012"},
          "series head %r" % {k: ser[k] for k in ("id", "attr", "tags")})
    check(len(ser["points"]) == 120 and ser["points"][3] == [T0 + 180000, 53.0],
          "points %r" % ser["points"][:4])
    # hourly average: values 50..59 repeating -> 54.5 in both hours
    st, h, doc = s.json("GET", "/api/v1/query?type=noise&attr=laeq&agg=avg&every=1h&from=%d&to=%d"
                        % (T0 - T0 % 3600000, T0 + 7200000))
    check(st == 200 and len(doc["series"]) == 2, "agg %d %r" % (st, doc))
    n1 = [x for x in doc["series"] if x["id"] == "n1"][0]
    total = sum(p[1] for p in n1["points"])
    check(len(n1["points"]) in (2, 3) and 50 <= total / len(n1["points"]) <= 60, "agg %r" % n1)
    # where= selects by tag
    st, h, doc = s.json("GET", "/api/v1/query?type=noise&attr=laeq&where=district:75011"
                        "&from=%d&to=%d&agg=count&every=1d" % (T0 - T0 % 86400000, T0 + 86400000))
    check([x["id"] for x in doc["series"]] == ["n2"], "where %r" % doc)
    check(sum(p[1] for p in doc["series"][0]["points"]) == 120, "count %r" % doc)
    # latest of everything: values of each type
    st, h, doc = s.json("GET", "/api/v1/latest")
    got = {(x["id"], x["attr"]): x["value"] for x in doc["series"]}
    check(got[("n2", "ok")] is True and got[("n2", "count")] == 119 and got[("n2", "state")] == "s2",
          "latest %r" % got)
    check(got[("t1", "location")] == {"lat": 48.8485, "lon": 2.3959} and got[("t1", "load")] == 1.5,
          "geo %r" % got)
    st, h, doc = s.json("GET", "/api/v1/latest?type=noise&attr=laeq&where=district:75012")
    check(len(doc["series"]) == 1 and doc["series"][0]["ts"] == T0 + 119 * 60000, "latest sel")


def t_bad_lines(s):
    body = "\n".join([
        "air,id=a1 pm25=10.5 %d" % T0,
        "air,id=a1 pm25=oops %d" % (T0 + 1000),
        "air,id=a1 pm25=11.5 %d" % (T0 + 2000),
        "air,id=a1",
        "air,id=a1 pm25=12.5 %d" % (T0 + 3000),
        "air,id=a1 pm25=\"text\" %d" % (T0 + 4000),  # type conflict with the float attribute
    ])
    st, h, raw = s.write(body)
    doc = is_problem(st, h, raw, 400)
    check(doc["stored"] == 3 and doc["rejected"] == 3, "counts %r" % doc)
    check("line 2" in doc["detail"] and "line 4" in doc["detail"] and "line 6" in doc["detail"],
          doc["detail"])
    st, h, q = s.json("GET", "/api/v1/query?type=air&id=a1&attr=pm25&from=0")
    check([p[1] for p in q["series"][0]["points"]] == [10.5, 11.5, 12.5], "good lines %r" % q)
    st, h, qu = s.json("GET", "/api/v1/quarantine")
    check(st == 200 and qu["total"] == 3, "quarantine %r" % qu)
    raws = sorted(i["raw"] for i in qu["items"])
    check(raws == sorted(["air,id=a1 pm25=oops %d" % (T0 + 1000), "air,id=a1",
                          "air,id=a1 pm25=\"text\" %d" % (T0 + 4000)]), "raw %r" % raws)
    check(all(i["reason"] and i["source"] == "http" for i in qu["items"]), "reasons and source %r" % qu["items"])
    # bytes that are not UTF-8: the string value is refused, every answer stays valid JSON
    st, h, raw = s.write(b"air,id=a2 s=\"caf\xe9\" %d\nair,id=a2 v=\xff\xfe %d" % (T0, T0))
    doc = is_problem(st, h, raw, 400)
    check(doc["rejected"] == 2 and "UTF-8" in doc["detail"], doc["detail"])
    st, h, qu = s.json("GET", "/api/v1/quarantine")
    check(qu["total"] == 5 and "\ufffd" in qu["items"][0]["raw"] + qu["items"][1]["raw"], "%r" % qu)


def t_gzip_v2_precision(s):
    st, _, b = s.write("m,id=g v=1 %d" % (T0 // 1000), precision="s", gz=True)
    check(st == 204, "gzip %d %r" % (st, b))
    st, _, b = s.write("m,id=g v=2 %d" % ((T0 + 1000) * 1000000), precision="ns",
                       path="/api/v2/write")
    check(st == 204, "v2 %d %r" % (st, b))
    st, _, b = s.write("m,id=g v=3 %d" % ((T0 + 2000) * 1000), precision="us")
    check(st == 204, "us %d" % st)
    st, _, q = s.json("GET", "/api/v1/query?type=m&id=g&attr=v&from=0")
    check(q["series"][0]["points"] == [[T0, 1], [T0 + 1000, 2], [T0 + 2000, 3]], "%r" % q)


def t_influx_compat(s):
    # Telegraf's influxdb output: GET /ping, then POST /query CREATE DATABASE, then /write
    st, h, _ = s.request("GET", "/ping")
    check(st == 204 and "x-influxdb-version" in h, "ping %d %r" % (st, h))
    st, _, doc = s.json("POST", "/query", b"q=CREATE+DATABASE+%22telegraf%22",
                        {"Content-Type": "application/x-www-form-urlencoded"})
    check(st == 200 and doc == {"results": [{"statement_id": 0}]}, "create db %d %r" % (st, doc))
    st, _, doc = s.json("GET", "/query?q=SHOW%20DATABASES")
    check(st == 200 and doc["results"][0]["series"][0]["values"] == [["default"]], "show %r" % doc)
    st, h, body = s.request("GET", "/query?q=SELECT%20*%20FROM%20cpu")
    doc = is_problem(st, h, body, 400)
    check("error" in doc, "influx clients read the error member: %r" % doc)


def t_disorder_duplicates(s):
    s.write("d,id=x v=1 %d\nd,id=x v=2 %d" % (T0 + 100000, T0))
    s.write("d,id=x v=3 %d" % (T0 - 2 * 86400000))  # two days late
    s.write("d,id=x v=4 %d" % (T0 + 100000))  # same timestamp: last write wins
    st, _, q = s.json("GET", "/api/v1/query?type=d&id=x&attr=v&from=0")
    check(q["series"][0]["points"] == [[T0 - 2 * 86400000, 3], [T0, 2], [T0 + 100000, 4]],
          "%r" % q)


def t_body_limit(s):
    st, h, body = s.write("m,id=big v=1 %d\n" % T0 * 200)
    is_problem(st, h, body, 413)
    check(early_status(s, "/write?precision=ms") == 413, "Content-Length over the limit: 413 at once")
    st, h, body = s.request("GET", "/health", headers={"X-Big": "x" * 40000})
    is_problem(st, h, body, 431)
    check(s.request("GET", "/health")[0] == 200, "server fine after 431")


def t_auth(s):
    # keys are created while the server runs (SQLite in WAL mode)
    wkey = cli("apikey", "create", "--tenant", "paris", "--scope", "write", "--data", s.data).stdout.strip()
    rkey = cli("apikey", "create", "--tenant", "paris", "--scope", "read", "--data", s.data).stdout.strip()
    okey = cli("apikey", "create", "--tenant", "lyon", "--scope", "admin", "--data", s.data).stdout.strip()
    check(wkey.startswith("vg_") and len(wkey) > 40, "key format %r" % wkey)
    is_problem(*s.write("m,id=a v=1 %d" % T0), 401)
    check(early_status(s, "/write") == 401, "no key: refused on the headers")
    is_problem(*s.write("m,id=a v=1 %d" % T0, key="vg_not_a_key"), 401)
    st, _, b = s.write("m,id=a v=1 %d" % T0, key=wkey)
    check(st == 204, "write key %d %r" % (st, b))
    is_problem(*s.request("GET", "/api/v1/latest", headers={"Authorization": "Bearer " + wkey}), 403)
    st, _, doc = s.json("GET", "/api/v1/latest", headers={"Authorization": "Bearer " + rkey})
    check(st == 200 and len(doc["series"]) == 1, "read key %r" % doc)
    # Influx 1.x style: ?p=key ; and Token scheme
    st, _, _ = s.request("GET", "/api/v1/latest?p=" + rkey)
    check(st == 200, "p= %d" % st)
    # the other tenant sees nothing of paris, and cannot ask for it
    st, _, doc = s.json("GET", "/api/v1/latest", headers={"Authorization": "Token " + okey})
    check(st == 200 and doc["series"] == [], "isolation %r" % doc)
    st, _, doc = s.json("GET", "/api/v1/query?type=m&id=a&from=0",
                        headers={"Authorization": "Bearer " + okey})
    check(doc["series"] == [], "isolation query %r" % doc)
    is_problem(*s.request("GET", "/api/v1/latest", headers={
        "Authorization": "Bearer " + okey, "NGSILD-Tenant": "paris"}), 403)
    # metrics need admin; health is public
    is_problem(*s.request("GET", "/metrics", headers={"Authorization": "Bearer " + rkey}), 403)
    check(s.request("GET", "/metrics", headers={"Authorization": "Bearer " + okey})[0] == 200, "admin")
    check(s.request("GET", "/health")[0] == 200, "health public")
    # revocation takes effect
    keys = cli("apikey", "list", "--data", s.data).stdout
    check(keys.count("\n") == 3 and "vg_" not in keys, "list shows no secret: %r" % keys)
    rid = [l.split("\t")[0] for l in keys.splitlines() if "\tread\t" in l][0]
    cli("apikey", "revoke", rid, "--data", s.data)
    time.sleep(0.1)
    is_problem(*s.request("GET", "/api/v1/latest", headers={"Authorization": "Bearer " + rkey}), 401)
    # the secret never reaches the logs
    check(wkey not in s.tail(10**7) and rkey not in s.tail(10**7), "key in log")


def t_restart():
    s = Server().start()
    try:
        lines = "\n".join("r,id=s%d v=%d.5 %d" % (i % 7, i, T0 + i * 1000) for i in range(5000))
        check(s.write(lines)[0] == 204, "write")
        rc = s.stop()
        check(rc == 0, "SIGTERM exit code %r" % rc)
        check("stopped cleanly" in s.tail(), "log: %s" % s.tail())
        # the command line reads the stopped data directory
        out = cli("query", "--data", s.data, "--type", "r", "--id", "s3", "--attr", "v", "--from", "0").stdout
        pts = json.loads(out)["series"][0]["points"]
        check(len(pts) == 714 and pts[0] == [T0 + 3000, 3.5], "cli %d %r" % (len(pts), pts[:2]))
        s.start()
        st, _, q = s.json("GET", "/api/v1/query?type=r&attr=v&from=0&agg=count&every=1d")
        check(sum(p[1] for x in q["series"] for p in x["points"]) == 5000, "after restart %r" % q)
        out = cli("query", "--server", "http://127.0.0.1:%d" % s.port, "--latest", "--type", "r").stdout
        check(len(json.loads(out)["series"]) == 7, "cli --server")
        check(s.stop() == 0, "second stop")
    finally:
        s.cleanup()


case("health_metrics", with_server(t_health_metrics))
case("problem_documents", with_server(t_problems))
case("write_query_latest", with_server(t_write_query))
case("bad_lines_quarantined", with_server(t_bad_lines))
case("gzip_v2_precision", with_server(t_gzip_v2_precision))
case("influx_compat_ping_query", with_server(t_influx_compat))
case("disorder_duplicates", with_server(t_disorder_duplicates))
case("body_limit_413", with_server(t_body_limit, extra=["--max-body", "4096"]))
case("auth_scopes_tenants", with_server(t_auth, auth="on"))
case("sigterm_restart_cli", t_restart)
done()
