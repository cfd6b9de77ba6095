"""NGSI-LD conformance, batch entity operations (ETSI GS CIM 009 cl. 5.6.7-5.6.10, 5.6.20,
6.14-6.18, 6.31) and POST /entityOperations/query (cl. 5.7.2, 6.23): 201/204/207 answers with
BatchOperationResult. Drives the real ./vigie binary."""
import json
import os
import subprocess
import time

import vigielib

from vigielib import Server, case, check, done

from ldlib import *  # noqa: F401,F403 (H, LDH, E, ERR, CORE, VOCAB, SDM, link, problem, ok,
#                       prop, rel, point, start_server, run_suite)

S = None
OPS = "/ngsi-ld/v1/entityOperations/"


def rq(method, path, body=None, headers=None):
    if body is not None and not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    h = dict(H) if body is not None else {}
    h.update(headers or {})
    return S.json(method, path, body, h)


def ent(i, **attrs):
    e = {"id": "urn:ngsi-ld:B:%s" % i, "type": "Box"}
    e.update(attrs)
    return e


def uid(i):
    return "urn:ngsi-ld:B:%s" % i


def kv(i):
    return rq("GET", E + "/" + uid(i) + "?options=keyValues")


def batch_result(r, status=207):
    st, h, doc = r
    check(st == status, "status %d, want %d: %r" % (st, status, doc))
    check(h.get("content-type", "").startswith("application/json"), "ctype %r" % h.get("content-type"))
    check(isinstance(doc, dict) and isinstance(doc.get("success"), list) and
          isinstance(doc.get("errors"), list), "not a BatchOperationResult: %r" % doc)
    return doc


def err_of(doc, id_):
    for x in doc["errors"]:
        if x.get("entityId") == id_:
            check(x["error"]["type"].startswith(ERR), "error type %r" % x)
            return x["error"]
    raise AssertionError("no error for %s in %r" % (id_, doc))


# ---- 5.6.7 create ----------------------------------------------------------------------------------

def t_create_all():
    st, h, doc = rq("POST", OPS + "create", [ent("c1", a=prop(1)), ent("c2", a=prop(2))])
    check(st == 201, "status %d %r" % (st, doc))
    check(sorted(doc) == [uid("c1"), uid("c2")], "ids %r" % doc)
    check(kv("c2")[2]["a"] == 2, "c2 not created")


def t_create_partial():
    doc = batch_result(rq("POST", OPS + "create", [ent("c1"), ent("c3", a=prop(3))]))
    check(doc["success"] == [uid("c3")], "success %r" % doc)
    e = err_of(doc, uid("c1"))
    check(e["type"] == ERR + "AlreadyExists" and e.get("status") == 409, "error %r" % e)
    check(kv("c1")[2]["a"] == 1, "existing entity changed by a failed create")


def t_create_invalid_item():
    doc = batch_result(rq("POST", OPS + "create", [ent("c4", a={"type": "Property"}), ent("c5")]))
    check(doc["success"] == [uid("c5")], "success %r" % doc)
    e = err_of(doc, uid("c4"))
    check(e["type"] == ERR + "BadRequestData" and "a" in e["detail"], "error %r" % e)
    problem(kv("c4"), 404, "ResourceNotFound")


def t_create_not_array():
    problem(rq("POST", OPS + "create", ent("c6")), 400, "BadRequestData")
    problem(rq("POST", OPS + "create", []), 400, "BadRequestData")
    problem(rq("POST", OPS + "create", "[{"), 400, "InvalidRequest")


def t_create_ld_body():
    ctx = {"@context": {"weight": "https://example.org/weight"}}
    body = [dict(ent("c7", weight=prop(5)), **ctx), ent("c8")]
    doc = batch_result(rq("POST", OPS + "create", body, LDH))
    check(doc["success"] == [uid("c7")], "success %r" % doc)
    err_of(doc, uid("c8"))
    e = ok(rq("GET", E + "/" + uid("c7")))
    check("https://example.org/weight" in e, "term not expanded by the inline @context: %r" % sorted(e))


def t_create_207_json_even_for_ld_accept():
    r = rq("POST", OPS + "create", [ent("c1"), ent("c9")], {"Accept": "application/ld+json"})
    doc = batch_result(r)
    check("@context" not in doc, "207 carries @context")


# ---- 5.6.8 upsert -----------------------------------------------------------------------------------

def t_upsert_new():
    st, h, doc = rq("POST", OPS + "upsert", [ent("u1", a=prop(1)), ent("u2", a=prop(2))])
    check(st == 201 and sorted(doc) == [uid("u1"), uid("u2")], "%d %r" % (st, doc))


def t_upsert_existing():
    st, h, doc = rq("POST", OPS + "upsert", [ent("u1", a=prop(10)), ent("u2", a=prop(20))])
    check(st == 204 and doc is None, "%d %r" % (st, doc))
    check(kv("u1")[2]["a"] == 10, "not upserted")


def t_upsert_mixed():
    st, h, doc = rq("POST", OPS + "upsert", [ent("u1", a=prop(11)), ent("u3", a=prop(3))])
    check(st == 201 and doc == [uid("u3")], "created ids only: %d %r" % (st, doc))


def t_upsert_replace():
    rq("POST", OPS + "upsert", [ent("u4", a=prop(1), b=prop(2))])
    check(rq("POST", OPS + "upsert", [ent("u4", c=prop(3))])[0] == 204, "upsert")
    e = kv("u4")[2]
    check("a" not in e and "b" not in e and e["c"] == 3, "default upsert must replace: %r" % e)
    check(rq("POST", OPS + "upsert?options=replace", [ent("u4", d=prop(4))])[0] == 204, "replace")
    e = kv("u4")[2]
    check("c" not in e and e["d"] == 4, "options=replace %r" % e)


def t_upsert_update():
    rq("POST", OPS + "upsert", [ent("u5", a=prop(1), b=prop(2))])
    check(rq("POST", OPS + "upsert?options=update", [ent("u5", b=prop(20), c=prop(3))])[0] == 204, "update")
    e = kv("u5")[2]
    check((e.get("a"), e.get("b"), e.get("c")) == (1, 20, 3), "options=update %r" % e)


def t_upsert_invalid():
    doc = batch_result(rq("POST", OPS + "upsert", [ent("u6"), {"type": "Box"}]))
    check(doc["success"] == [uid("u6")] and len(doc["errors"]) == 1, "%r" % doc)
    check(doc["errors"][0]["error"]["type"] == ERR + "BadRequestData", "%r" % doc)


# ---- 5.6.9 update ---------------------------------------------------------------------------------

def t_update():
    rq("POST", OPS + "create", [ent("p1", a=prop(1), b=prop(2))])
    st, h, doc = rq("POST", OPS + "update", [ent("p1", a=prop(10), c=prop(3))])
    check(st == 204 and doc is None, "%d %r" % (st, doc))
    e = kv("p1")[2]
    check((e["a"], e["b"], e["c"]) == (10, 2, 3), "after update %r" % e)


def t_update_missing():
    doc = batch_result(rq("POST", OPS + "update", [ent("p1", a=prop(11)), ent("p-none", a=prop(1))]))
    check(doc["success"] == [uid("p1")], "success %r" % doc)
    check(err_of(doc, uid("p-none"))["type"] == ERR + "ResourceNotFound", "%r" % doc)
    problem(kv("p-none"), 404, "ResourceNotFound")


def t_update_nooverwrite():
    check(rq("POST", OPS + "update?options=noOverwrite", [ent("p1", a=prop(99), d=prop(4))])[0] == 204, "st")
    e = kv("p1")[2]
    check(e["a"] == 11 and e["d"] == 4, "noOverwrite %r" % e)


# ---- 5.6.10 delete ---------------------------------------------------------------------------------

def t_delete():
    rq("POST", OPS + "create", [ent("d1", a=prop(1)), ent("d2", a=prop(2)), ent("d3", a=prop(3))])
    st, h, doc = rq("POST", OPS + "delete", [uid("d1"), uid("d2")])
    check(st == 204 and doc is None, "%d %r" % (st, doc))
    problem(kv("d1"), 404, "ResourceNotFound")
    check(kv("d3")[0] == 200, "d3 deleted too")


def t_delete_partial():
    doc = batch_result(rq("POST", OPS + "delete", [uid("d3"), uid("d-none"), "not a uri"]))
    check(doc["success"] == [uid("d3")], "success %r" % doc)
    check(err_of(doc, uid("d-none"))["type"] == ERR + "ResourceNotFound", "%r" % doc)
    check(len(doc["errors"]) == 2, "errors %r" % doc["errors"])
    check(any(x["error"]["type"] == ERR + "BadRequestData" for x in doc["errors"]), "%r" % doc)


def t_delete_not_array():
    problem(rq("POST", OPS + "delete", {"id": uid("d3")}), 400, "BadRequestData")


# ---- 5.6.20 merge -----------------------------------------------------------------------------------

def t_merge():
    rq("POST", OPS + "create", [ent("m1", a=prop(1), b=prop(2), t=prop(5, unitCode="CEL"))])
    st, h, doc = rq("POST", OPS + "merge", [ent("m1", a="urn:ngsi-ld:null", c=prop(3), t=prop(6))])
    check(st == 204 and doc is None, "%d %r" % (st, doc))
    e = ok(rq("GET", E + "/" + uid("m1")))
    check("a" not in e and e["b"]["value"] == 2 and e["c"]["value"] == 3, "merge %r" % e)
    check(e["t"] == {"type": "Property", "value": 6, "unitCode": "CEL"}, "merge lost unitCode %r" % e["t"])


def t_merge_missing():
    doc = batch_result(rq("POST", OPS + "merge", [ent("m-none", a=prop(1)), ent("m1", b=prop(22))]))
    check(doc["success"] == [uid("m1")], "%r" % doc)
    check(err_of(doc, uid("m-none"))["type"] == ERR + "ResourceNotFound", "%r" % doc)


def t_null_outside_merge():
    doc = batch_result(rq("POST", OPS + "update", [ent("m1", b="urn:ngsi-ld:null")]))
    check(err_of(doc, uid("m1"))["type"] == ERR + "BadRequestData", "%r" % doc)
    check(kv("m1")[2]["b"] == 22, "b changed by a refused update")


def t_methods():
    st, h, doc = rq("GET", OPS + "create")
    check(st == 405 and "POST" in h.get("allow", ""), "%d %r" % (st, h.get("allow")))
    problem(rq("POST", OPS + "explode", [ent("x")]), 404, "ResourceNotFound")


# ---- 5.7.2 POST /entityOperations/query -----------------------------------------------------------------

def setup_query():
    rq("POST", OPS + "upsert", [
        ent("q1", temp=prop(10), location=point(2.35, 48.85)),
        ent("q2", temp=prop(20), location=point(2.36, 48.86)),
        ent("q3", temp=prop(30), location=point(5.0, 45.0)),
        {"id": "urn:ngsi-ld:Crate:q4", "type": "Crate", "temp": prop(20)}])


def t_query_type():
    setup_query()
    st, h, doc = rq("POST", OPS + "query", {"type": "Query", "entities": [{"type": "Box"}],
                                            "q": "temp>15"})
    check(st == 200, "%d %r" % (st, doc))
    ids = sorted(e["id"] for e in doc)
    check(ids == [uid("q2"), uid("q3")], "ids %r" % ids)


def t_query_selectors():
    doc = ok(rq("POST", OPS + "query", {"type": "Query",
                                         "entities": [{"type": "Crate"}, {"id": uid("q1"), "type": "Box"}]}))
    ids = sorted(e["id"] for e in doc)
    check(ids == [uid("q1"), "urn:ngsi-ld:Crate:q4"], "ids %r" % ids)


def t_query_idpattern():
    doc = ok(rq("POST", OPS + "query", {"type": "Query",
                                         "entities": [{"idPattern": "^urn:ngsi-ld:B:q[12]$", "type": "Box"}]}))
    check(sorted(e["id"] for e in doc) == [uid("q1"), uid("q2")], "%r" % doc)


def t_query_attrs():
    doc = ok(rq("POST", OPS + "query?options=keyValues",
                {"type": "Query", "entities": [{"type": "Box"}], "attrs": ["temp"], "q": "temp==10"}))
    check(len(doc) == 1 and doc[0]["temp"] == 10 and "location" not in doc[0], "%r" % doc)


def t_query_geo():
    doc = ok(rq("POST", OPS + "query", {"type": "Query", "entities": [{"type": "Box"}],
                                         "geoQ": {"georel": "near;maxDistance==5000", "geometry": "Point",
                                                  "coordinates": [2.35, 48.85]}}))
    check(sorted(e["id"] for e in doc) == [uid("q1"), uid("q2")], "%r" % [e["id"] for e in doc])


def t_query_count():
    st, h, doc = rq("POST", OPS + "query?count=true&limit=1", {"type": "Query", "entities": [{"type": "Box"}],
                                                               "q": "temp>=10"})
    check(st == 200 and len(doc) == 1 and h.get("ngsild-results-count") == "3", "%d %r %r" % (st, h, doc))


def t_query_bad():
    problem(rq("POST", OPS + "query", {"entities": [{"type": "Box"}]}), 400, "BadRequestData", "Query")
    problem(rq("POST", OPS + "query", {"type": "Query", "q": "(temp==1"}), 400, "BadRequestData")
    problem(rq("POST", OPS + "query", {"type": "Query", "entities": {"type": "Box"}}), 400, "BadRequestData")


def t_batch_history():
    rq("POST", OPS + "upsert", [ent("h1", level=prop(1, observedAt="2024-01-01T00:00:00Z"))])
    rq("POST", OPS + "update", [ent("h1", level=prop(2, observedAt="2024-01-01T01:00:00Z"))])
    st, h, doc = rq("GET", "/ngsi-ld/v1/temporal/entities/" + uid("h1") + "?options=temporalValues")
    check(st == 200, "%d %r" % (st, doc))
    check([v[0] for v in doc["level"]["values"]] == [1, 2], "history %r" % doc)


CASES = [
    ("5.6.7 batch create 201 + ids", t_create_all),
    ("5.6.7 batch create existing 207 AlreadyExists", t_create_partial),
    ("5.6.7 batch create invalid entity 207 BadRequestData", t_create_invalid_item),
    ("5.6.7 batch create object/empty/invalid JSON 400", t_create_not_array),
    ("6.3.5 batch ld+json: each entity carries its @context", t_create_ld_body),
    ("6.3.6 batch 207 is application/json without @context", t_create_207_json_even_for_ld_accept),
    ("5.6.8 batch upsert all new 201", t_upsert_new),
    ("5.6.8 batch upsert all existing 204", t_upsert_existing),
    ("5.6.8 batch upsert mixed 201 with created ids", t_upsert_mixed),
    ("5.6.8 batch upsert default/options=replace replaces", t_upsert_replace),
    ("5.6.8 batch upsert options=update appends", t_upsert_update),
    ("5.6.8 batch upsert invalid entity 207", t_upsert_invalid),
    ("5.6.9 batch update 204", t_update),
    ("5.6.9 batch update unknown entity 207 ResourceNotFound", t_update_missing),
    ("5.6.9 batch update noOverwrite", t_update_nooverwrite),
    ("5.6.10 batch delete 204", t_delete),
    ("5.6.10 batch delete unknown/invalid ids 207", t_delete_partial),
    ("5.6.10 batch delete non-array 400", t_delete_not_array),
    ("5.6.20 batch merge 204, null deletes", t_merge),
    ("5.6.20 batch merge unknown entity 207", t_merge_missing),
    ("5.2.1 urn:ngsi-ld:null in batch update 207 BadRequestData", t_null_outside_merge),
    ("6.14 entityOperations methods 405/404", t_methods),
    ("5.7.2 entityOperations/query type + q", t_query_type),
    ("5.7.2 entityOperations/query several selectors", t_query_selectors),
    ("5.7.2 entityOperations/query idPattern", t_query_idpattern),
    ("5.7.2 entityOperations/query attrs + keyValues", t_query_attrs),
    ("5.7.2 entityOperations/query geoQ", t_query_geo),
    ("5.5.9 entityOperations/query count + limit", t_query_count),
    ("5.7.2 entityOperations/query bad Query 400", t_query_bad),
    ("5.6.9 batch changes append history", t_batch_history),
]

if __name__ == "__main__":
    run_suite(globals(), CASES)
