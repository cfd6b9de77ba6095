"""NGSI-LD conformance, entity query (ETSI GS CIM 009 cl. 5.7.2, 6.4.3.2): id, idPattern, type
selection (cl. 4.17), attrs, the q language (cl. 4.9), scopeQ (cl. 4.19), geo-queries (cl. 4.10),
paging and counting (cl. 5.5.9) and the representations of a query result. Drives the real
./vigie binary."""
import urllib.parse
import json
import os
import subprocess
import time

import vigielib

from vigielib import Server, case, check, done

from ldlib import *  # noqa: F401,F403 (H, LDH, E, ERR, CORE, VOCAB, SDM, link, problem, ok,
#                       prop, rel, point, start_server, run_suite)

S = None
PARIS = [[[2.2, 48.7], [2.5, 48.7], [2.5, 48.95], [2.2, 48.95], [2.2, 48.7]]]
LYON_ZONE = [[[4.7, 45.7], [4.9, 45.7], [4.9, 45.8], [4.7, 45.8], [4.7, 45.7]]]


def rq(method, path, body=None, headers=None):
    if body is not None and not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    h = dict(H) if body is not None else {}
    h.update(headers or {})
    return S.json(method, path, body, h)


def u(i):
    return "urn:ngsi-ld:Q:" + i


def ids(query, headers=None):
    """Ids (short form) answered by GET /entities?<query>, sorted."""
    st, h, doc = rq("GET", E + "?" + query + "&limit=1000", headers=headers)
    check(st == 200, "GET ?%s: %d %r" % (query, st, doc))
    check(isinstance(doc, list), "not an array: %r" % doc)
    return sorted(e["id"].rsplit(":", 1)[1] for e in doc)


def q(expr, extra="type=Sensor"):
    return ids("%s&q=%s" % (extra, urllib.parse.quote(expr, safe="")) if extra else
               "q=" + urllib.parse.quote(expr, safe=""))


def expect(got, want, what):
    check(got == sorted(want), "%s: got %r, want %r" % (what, got, sorted(want)))


def setup():
    ents = [
        {"id": u("S1"), "type": "Sensor", "scope": "/Paris/Center",
         "temp": prop(10, observedAt="2024-01-01T00:00:00Z"), "status": prop("ok"),
         "address": prop({"city": "Paris", "zip": "75001"}), "location": point(2.35, 48.85),
         "active": prop(True), "owner": rel("urn:ngsi-ld:Person:1"), "name": prop("alpha")},
        {"id": u("S2"), "type": "Sensor", "scope": "/Lyon",
         "temp": prop(20, observedAt="2024-06-01T00:00:00Z"), "status": prop("ko"),
         "address": prop({"city": "Lyon"}), "location": point(4.83, 45.76), "spot": point(2.35, 48.85),
         "active": prop(False), "owner": rel("urn:ngsi-ld:Person:2"), "name": prop("beta")},
        {"id": u("S3"), "type": "Sensor", "scope": ["/Paris/North", "/Tags/x"],
         "temp": prop(30, observedAt="2025-01-01T00:00:00Z"), "status": prop("ok"),
         "address": prop({"city": "Paris"}), "location": point(2.36, 48.86), "name": prop("gamma")},
        {"id": u("S4"), "type": "Sensor", "status": prop("ok"), "name": prop("delta")},
        {"id": u("C1"), "type": "Car", "speed": prop(50), "temp": prop(15),
         "location": point(2.30, 48.80)},
        {"id": u("M1"), "type": ["Sensor", "Car"], "temp": prop(25), "location": point(0, 0)},
        {"id": u("Z1"), "type": "Zone",
         "location": {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": LYON_ZONE}}},
    ]
    for i in range(7):
        ents.append({"id": u("P%d" % i), "type": "Page", "n": prop(i)})
    st, _, doc = rq("POST", "/ngsi-ld/v1/entityOperations/create", ents)
    check(st == 201, "setup %d %r" % (st, doc))


# ---- id, idPattern, type ---------------------------------------------------------------------------

def t_id_list():
    expect(ids("id=%s,%s" % (u("S1"), u("S3"))), ["S1", "S3"], "id list")
    expect(ids("id=%s,%s&type=Car" % (u("S1"), u("C1"))), ["C1"], "id list + type")


def t_id_bad():
    problem(rq("GET", E + "?id=not%20a%20uri"), 400, "BadRequestData", "id")


def t_idpattern():
    expect(ids("idPattern=" + urllib.parse.quote("^urn:ngsi-ld:Q:S[12]$")), ["S1", "S2"], "idPattern")
    expect(ids("type=Sensor&idPattern=" + urllib.parse.quote("M")), ["M1"], "idPattern + type")


def t_idpattern_bad():
    problem(rq("GET", E + "?idPattern=" + urllib.parse.quote("a(")), 400, "BadRequestData", "idPattern")
    # glibc's regcomp would take gigabytes for stacked repetitions: refused at once
    t0 = time.time()
    problem(rq("GET", E + "?idPattern=" + urllib.parse.quote("^urn:" + "+" * 200)), 400,
            "BadRequestData", "idPattern")
    check(time.time() - t0 < 1, "stacked repetitions took %.1f s" % (time.time() - t0))


def t_type():
    expect(ids("type=Sensor"), ["S1", "S2", "S3", "S4", "M1"], "type=Sensor")
    expect(ids("type=Car"), ["C1", "M1"], "type=Car")
    expect(ids("type=Nothing"), [], "unknown type")


def t_type_or():
    want = ["S1", "S2", "S3", "S4", "M1", "C1"]
    expect(ids("type=Sensor,Car"), want, "type=Sensor,Car")
    expect(ids("type=" + urllib.parse.quote("Sensor|Car")), want, "type=Sensor|Car")


def t_type_and():
    expect(ids("type=" + urllib.parse.quote("Sensor;Car")), ["M1"], "type=Sensor;Car")
    expect(ids("type=" + urllib.parse.quote("(Sensor;Car)|Zone")), ["M1", "Z1"], "(Sensor;Car)|Zone")


def t_type_bad():
    problem(rq("GET", E + "?type=" + urllib.parse.quote("((Sensor)")), 400, "BadRequestData", "type")


def t_attrs():
    st, h, doc = rq("GET", E + "?attrs=speed")
    check(st == 200 and [e["id"] for e in doc] == [u("C1")], "%d %r" % (st, doc))
    check(set(doc[0]) == {"id", "type", "speed"}, "attrs projection %r" % doc[0])


# ---- 4.9 q ---------------------------------------------------------------------------------------------

def t_q_eq():
    expect(q("temp==10"), ["S1"], "temp==10")
    expect(q("temp==10.0"), ["S1"], "temp==10.0")


def t_q_ne():
    expect(q("temp!=10"), ["S2", "S3", "M1"], "temp!=10 (S4 has no temp)")


def t_q_order():
    expect(q("temp>20"), ["S3", "M1"], "temp>20")
    expect(q("temp>=20"), ["S2", "S3", "M1"], "temp>=20")
    expect(q("temp<20"), ["S1"], "temp<20")
    expect(q("temp<=20"), ["S1", "S2"], "temp<=20")


def t_q_string():
    expect(q('status=="ok"'), ["S1", "S3", "S4"], 'status=="ok"')
    expect(q('status!="ok"'), ["S2"], 'status!="ok"')


def t_q_range():
    expect(q("temp==15..25"), ["S2", "M1"], "temp==15..25")
    expect(q("temp!=15..25"), ["S1", "S3"], "temp!=15..25")


def t_q_list():
    expect(q("temp==10,30"), ["S1", "S3"], "temp==10,30")
    expect(q('status=="ko","nope"'), ["S2"], 'status=="ko","nope"')


def t_q_regex():
    expect(q('name~="^(al|ga)"'), ["S1", "S3"], "name~=")
    expect(q('name!~="^(al|ga)"'), ["S2", "S4"], "name!~=")


def t_q_exists():
    expect(q("speed", extra=None), ["C1"], "q=speed")
    expect(q("temp"), ["S1", "S2", "S3", "M1"], "q=temp")


def t_q_and_or():
    expect(q('status=="ok";temp>15'), ["S3"], "AND")
    expect(q("temp==10|temp==20"), ["S1", "S2"], "OR")
    expect(q('temp==10|status=="ok";temp>25'), ["S1", "S3"], "AND binds tighter than OR")
    expect(q('(temp==10|temp==30);status=="ok"'), ["S1", "S3"], "parentheses")


def t_q_observedat():
    expect(q("temp.observedAt>=2024-03-01T00:00:00Z"), ["S2", "S3"], "temp.observedAt>=")
    expect(q("temp.observedAt<2024-03-01T00:00:00Z"), ["S1"], "temp.observedAt<")


def t_q_compound():
    expect(q('address[city]=="Paris"'), ["S1", "S3"], 'address[city]=="Paris"')
    expect(q('address[zip]=="75001"'), ["S1"], 'address[zip]')


def t_q_relationship():
    expect(q("owner==urn:ngsi-ld:Person:1"), ["S1"], "owner==URI")
    expect(q('owner=="urn:ngsi-ld:Person:2"'), ["S2"], "owner==\"URI\"")


def t_q_boolean():
    expect(q("active==true"), ["S1"], "active==true")
    expect(q("active==false"), ["S2"], "active==false")


def t_q_bad():
    for expr in ("temp==", "(temp==1", "temp==1;", "temp~=\"[\""):
        problem(rq("GET", E + "?type=Sensor&q=" + urllib.parse.quote(expr)), 400, "BadRequestData", "q")


def t_q_percent():
    expect(ids("type=Sensor&q=status%3D%3D%22ok%22%3Btemp%3E15"), ["S3"], "percent-encoded q")


# ---- 4.19 scopeQ ---------------------------------------------------------------------------------------

def t_scopeq():
    expect(ids("scopeQ=/Lyon"), ["S2"], "scopeQ=/Lyon")
    expect(ids("scopeQ=/Paris/%23"), ["S1", "S3"], "scopeQ=/Paris/#")
    expect(ids("scopeQ=/Paris/%2B"), ["S1", "S3"], "scopeQ=/Paris/+")
    expect(ids("scopeQ=/Paris"), [], "scopeQ=/Paris (exact)")
    expect(ids("scopeQ=/Tags/x"), ["S3"], "scopeQ on a second scope")
    expect(ids("scopeQ=/Lyon,/Tags/x"), ["S2", "S3"], "scopeQ OR")


def t_scopeq_bad():
    problem(rq("GET", E + "?scopeQ=Paris"), 400, "BadRequestData")


# ---- 4.10 geo ---------------------------------------------------------------------------------------------

def geo(georel, geometry, coords, extra="type=Sensor,Car"):
    return ids("%s&georel=%s&geometry=%s&coordinates=%s" % (
        extra, urllib.parse.quote(georel), geometry, urllib.parse.quote(json.dumps(coords))))


def t_geo_near_max():
    expect(geo("near;maxDistance==2000", "Point", [2.35, 48.85]), ["S1", "S3"], "near;maxDistance==2000")


def t_geo_near_min():
    expect(geo("near;minDistance==2000", "Point", [2.35, 48.85]), ["S2", "C1", "M1"],
           "near;minDistance==2000 (S4 has no location)")


def t_geo_within():
    expect(geo("within", "Polygon", PARIS), ["S1", "S3", "C1"], "within")


def t_geo_intersects():
    expect(geo("intersects", "Polygon", PARIS), ["S1", "S3", "C1"], "intersects")


def t_geo_disjoint():
    expect(geo("disjoint", "Polygon", PARIS), ["S2", "M1"], "disjoint (S4 has no location)")


def t_geo_equals_contains():
    expect(geo("equals", "Point", [2.35, 48.85]), ["S1"], "equals")
    expect(geo("contains", "Point", [4.83, 45.76], extra="type=Zone"), ["Z1"], "contains")
    expect(geo("contains", "Point", [2.35, 48.85], extra="type=Zone"), [], "contains (outside)")


def t_geo_geoproperty():
    expect(geo("near;maxDistance==1000", "Point", [2.35, 48.85], extra="type=Sensor&geoproperty=spot"),
           ["S2"], "geoproperty=spot")


def t_geo_only():
    expect(ids("georel=within&geometry=Polygon&coordinates=" + urllib.parse.quote(json.dumps(PARIS))),
           ["S1", "S3", "C1"], "geo-query alone is a filter")


def t_geo_bad():
    base = E + "?type=Sensor&geometry=Point&coordinates=%5B2.35,48.85%5D&georel="
    problem(rq("GET", base + "nearby"), 400, "BadRequestData", "georel")
    problem(rq("GET", base + "near"), 400, "BadRequestData", "georel")
    problem(rq("GET", base + urllib.parse.quote("near;maxDistance==abc")), 400, "BadRequestData", "georel")
    problem(rq("GET", E + "?type=Sensor&georel=within&geometry=Point"), 400, "BadRequestData", "coordinates")
    problem(rq("GET", E + "?type=Sensor&georel=within&geometry=Pentagon&coordinates=%5B1,2%5D"), 400,
            "BadRequestData", "geometry")
    problem(rq("GET", E + "?type=Sensor&georel=within&geometry=Polygon&coordinates=%5Babc%5D"), 400,
            "BadRequestData")


# ---- 5.5.9 paging -----------------------------------------------------------------------------------------

def get_all(path):
    """GET keeping every header (vigielib folds repeated headers such as Link into one)."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", S.port, timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        hs = {}
        for k, v in r.getheaders():
            k = k.lower()
            hs[k] = hs[k] + ", " + v if k in hs else v
        return r.status, hs, json.loads(body) if body else None
    finally:
        conn.close()


def links(h):
    out = {}
    for part in h.get("link", "").split(", <"):
        if 'rel="next"' in part or 'rel="prev"' in part:
            url = part.lstrip("<").split(">")[0]
            out["next" if 'rel="next"' in part else "prev"] = url
    return out


def t_page_first():
    st, h, doc = get_all(E + "?type=Page&limit=3&count=true")
    check(st == 200 and len(doc) == 3, "%d %r" % (st, doc))
    check(h.get("ngsild-results-count") == "7", "count %r" % h.get("ngsild-results-count"))
    l = links(h)
    check("next" in l and "prev" not in l, "first page links %r (%r)" % (l, h.get("link")))
    check("offset=3" in l["next"] and "limit=3" in l["next"] and "type=Page" in l["next"], "next %r" % l)


def t_page_middle_last():
    st, h, doc = get_all(E + "?type=Page&limit=3&offset=3")
    l = links(h)
    check(len(doc) == 3 and "next" in l and "prev" in l, "middle %r" % l)
    check("offset=0" in l["prev"] and "offset=6" in l["next"], "middle links %r" % l)
    st, h, doc = get_all(E + "?type=Page&limit=3&offset=6")
    l = links(h)
    check(len(doc) == 1 and "prev" in l and "next" not in l, "last page %d %r" % (len(doc), l))


def t_page_walk():
    seen = []
    path = E + "?type=Page&limit=2"
    for _ in range(10):
        st, h, doc = get_all(path)
        check(st == 200, "page %d %r" % (st, doc))
        seen += [e["id"] for e in doc]
        nxt = links(h).get("next")
        if not nxt:
            break
        path = nxt
    check(sorted(seen) == sorted(u("P%d" % i) for i in range(7)) and len(set(seen)) == 7,
          "following next links gave %r" % seen)


def t_count_no_limit():
    st, h, doc = rq("GET", E + "?type=Page&limit=0&count=true")
    check(st == 200 and doc == [] and h.get("ngsild-results-count") == "7", "%d %r %r" % (st, doc, h))
    st, h, doc = rq("GET", E + "?type=Page")
    check("ngsild-results-count" not in h, "count header without count=true")


def t_limit_errors():
    problem(rq("GET", E + "?type=Page&limit=0"), 400, "BadRequestData", "limit")
    problem(rq("GET", E + "?type=Page&limit=1001"), 403, "TooManyResults")
    problem(rq("GET", E + "?type=Page&limit=abc"), 400, "BadRequestData", "limit")
    problem(rq("GET", E + "?type=Page&offset=-1"), 400, "BadRequestData", "offset")
    problem(rq("GET", E + "?type=Page&count=maybe"), 400, "BadRequestData", "count")


def t_default_limit():
    rq("POST", "/ngsi-ld/v1/entityOperations/create",
       [{"id": "urn:ngsi-ld:Many:%d" % i, "type": "Many"} for i in range(25)])
    st, h, doc = get_all(E + "?type=Many&count=true")
    check(st == 200 and 0 < len(doc) < 25 and h.get("ngsild-results-count") == "25",
          "default page %d %d %r" % (st, len(doc), h.get("ngsild-results-count")))
    check("next" in links(h), "no next link on a truncated default page")


def t_no_filter():
    problem(rq("GET", E), 400, "BadRequestData")
    st, h, doc = rq("GET", E + "?local=true&limit=1000")
    check(st == 200 and len(doc) >= 14, "local=true %d %d" % (st, len(doc)))
    st, h, doc = rq("GET", E + "?type=*&limit=1000")
    check(st == 200 and len(doc) >= 14, "type=* %d %d" % (st, len(doc)))


# ---- representations ------------------------------------------------------------------------------------------

def t_query_keyvalues():
    st, h, doc = rq("GET", E + "?id=%s&options=keyValues" % u("S1"))
    check(st == 200 and doc[0]["temp"] == 10 and doc[0]["address"] == {"city": "Paris", "zip": "75001"},
          "%r" % doc)
    st, h, doc = rq("GET", E + "?id=%s&format=concise" % u("S1"))
    check(doc[0]["status"] == {"value": "ok"} or doc[0]["status"] == "ok", "concise %r" % doc[0]["status"])


def t_query_pick_omit():
    doc = ok(rq("GET", E + "?type=Sensor&q=temp==10&pick=id,temp"))
    check(len(doc) == 1 and set(doc[0]) == {"id", "temp"}, "pick %r" % doc)
    doc = ok(rq("GET", E + "?type=Sensor&q=temp==10&omit=temp,location"))
    check("temp" not in doc[0] and "location" not in doc[0] and "status" in doc[0], "omit %r" % doc)


def t_query_geojson():
    st, h, fc = rq("GET", E + "?type=Sensor&q=temp<=20", headers={"Accept": "application/geo+json"})
    check(st == 200 and h["content-type"].startswith("application/geo+json"), "%d %r" % (st, h))
    check(fc["type"] == "FeatureCollection" and len(fc["features"]) == 2, "%r" % fc)
    byid = {f["id"]: f for f in fc["features"]}
    check(byid[u("S1")]["geometry"] == {"type": "Point", "coordinates": [2.35, 48.85]}, "%r" % byid)
    check(byid[u("S1")]["type"] == "Feature", "feature type")


def t_query_ldjson():
    st, h, doc = rq("GET", E + "?type=Car", headers={"Accept": "application/ld+json"})
    check(st == 200 and h["content-type"].startswith("application/ld+json"), "%d %r" % (st, h))
    check(len(doc) == 2 and all(e.get("@context") == CORE for e in doc), "@context per entity %r" % doc)


def t_query_json_link():
    st, h, doc = rq("GET", E + "?type=Car")
    check(h["content-type"].startswith("application/json") and CORE in h.get("link", ""),
          "json answer Link %r" % h.get("link"))
    check(all("@context" not in e for e in doc), "@context in a json answer")


def t_query_sysattrs():
    doc = ok(rq("GET", E + "?type=Zone&options=sysAttrs"))
    check("createdAt" in doc[0] and "modifiedAt" in doc[0]["location"], "sysAttrs %r" % doc)


CASES = [
    ("6.4.3.2 query by id list", t_id_list),
    ("6.4.3.2 query id not a URI 400", t_id_bad),
    ("6.4.3.2 idPattern", t_idpattern),
    ("6.4.3.2 bad idPattern 400", t_idpattern_bad),
    ("4.17 type selection single", t_type),
    ("4.17 type selection A,B and A|B", t_type_or),
    ("4.17 type selection A;B and grouping", t_type_and),
    ("4.17 malformed type selection 400", t_type_bad),
    ("6.4.3.2 attrs filter and projection", t_attrs),
    ("4.9 q ==", t_q_eq),
    ("4.9 q !=", t_q_ne),
    ("4.9 q > >= < <=", t_q_order),
    ("4.9 q strings", t_q_string),
    ("4.9 q ranges", t_q_range),
    ("4.9 q value lists", t_q_list),
    ("4.9 q ~= and !~=", t_q_regex),
    ("4.9 q attribute existence", t_q_exists),
    ("4.9 q AND, OR, precedence, parentheses", t_q_and_or),
    ("4.9 q sub-attribute observedAt", t_q_observedat),
    ("4.9 q compound value [x]", t_q_compound),
    ("4.9 q Relationship object", t_q_relationship),
    ("4.9 q booleans", t_q_boolean),
    ("4.9 malformed q 400 BadRequestData", t_q_bad),
    ("4.9 percent-encoded q", t_q_percent),
    ("4.19 scopeQ", t_scopeq),
    ("4.19 malformed scopeQ 400", t_scopeq_bad),
    ("4.10 near;maxDistance", t_geo_near_max),
    ("4.10 near;minDistance", t_geo_near_min),
    ("4.10 within Polygon", t_geo_within),
    ("4.10 intersects Polygon", t_geo_intersects),
    ("4.10 disjoint Polygon", t_geo_disjoint),
    ("4.10 equals and contains", t_geo_equals_contains),
    ("4.10 geoproperty", t_geo_geoproperty),
    ("4.10 geo-query alone", t_geo_only),
    ("4.10 malformed geo-query 400 with detail", t_geo_bad),
    ("5.5.9 first page: count, next link, no prev", t_page_first),
    ("5.5.9 middle and last pages", t_page_middle_last),
    ("5.5.9 following next links visits every entity once", t_page_walk),
    ("5.5.9 limit=0&count=true", t_count_no_limit),
    ("5.5.9 limit/offset/count errors, limit>1000 403 TooManyResults", t_limit_errors),
    ("5.5.9 default page size with next link", t_default_limit),
    ("6.4.3.2 no filter 400, local=true and type=* allowed", t_no_filter),
    ("5.7.2 query keyValues/concise", t_query_keyvalues),
    ("5.7.2 query pick/omit", t_query_pick_omit),
    ("5.7.2 query geo+json FeatureCollection", t_query_geojson),
    ("6.3.6 query ld+json: @context in each entity", t_query_ldjson),
    ("6.3.6 query json: Link header", t_query_json_link),
    ("5.7.2 query sysAttrs", t_query_sysattrs),
]

if __name__ == "__main__":
    run_suite(globals(), CASES, setup)
