"""NGSI-LD conformance, entities (ETSI GS CIM 009 cl. 5.6.1-5.6.6, 5.6.17-5.6.19, 5.7.1;
HTTP binding cl. 6.4-6.7): create, retrieve in every representation, merge, replace, delete,
the attribute operations, and their errors. Drives the real ./vigie binary."""
import json
import os
import subprocess
import time

import vigielib

from vigielib import Server, case, check, done

from ldlib import *  # noqa: F401,F403 (H, LDH, E, ERR, CORE, VOCAB, SDM, link, problem, ok,
#                       prop, rel, point, start_server, run_suite)

S = None


def rq(method, path, body=None, headers=None):
    if body is not None and not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    h = dict(H) if body is not None else {}
    h.update(headers or {})
    return S.json(method, path, body, h)


def full(i):
    return {"id": "urn:ngsi-ld:Ent:%s" % i, "type": "Thing",
            "temp": prop(21.5, observedAt="2024-01-01T00:00:00Z", unitCode="CEL",
                         accuracy=prop(0.5)),
            "name": {"type": "LanguageProperty", "languageMap": {"fr": "salut", "en": "hello"}},
            "owner": rel("urn:ngsi-ld:Person:1"),
            "location": point(2.35, 48.85),
            "address": prop({"city": "Paris", "zip": "75001"}),
            "tags": {"type": "ListProperty", "valueList": ["a", "b"]},
            "blob": {"type": "JsonProperty", "json": {"k": [1, 2]}},
            "members": {"type": "ListRelationship",
                        "objectList": [{"object": "urn:ngsi-ld:P:1"}, {"object": "urn:ngsi-ld:P:2"}]}}


def mk(i, **attrs):
    e = {"id": "urn:ngsi-ld:Ent:%s" % i, "type": "Thing"}
    e.update(attrs)
    check(rq("POST", E, e)[0] == 201, "setup create %s" % i)
    return E + "/urn:ngsi-ld:Ent:%s" % i


def get(path, headers=None):
    return ok(rq("GET", path, headers=headers))


# ---- 5.6.1 create ----------------------------------------------------------------------------

def t_create():
    st, h, doc = rq("POST", E, full("c1"))
    check(st == 201, "status %d %r" % (st, doc))
    check(doc is None, "201 has a body %r" % doc)
    check(h.get("location") == "/ngsi-ld/v1/entities/urn:ngsi-ld:Ent:c1", "Location %r" % h.get("location"))
    e = get(h["location"])
    check(e["id"] == "urn:ngsi-ld:Ent:c1" and e["type"] == "Thing", "got %r" % e)
    check(e["temp"]["value"] == 21.5, "temp %r" % e["temp"])


def t_create_exists():
    mk("c2")
    problem(rq("POST", E, {"id": "urn:ngsi-ld:Ent:c2", "type": "Thing"}), 409, "AlreadyExists",
            "urn:ngsi-ld:Ent:c2")


def t_create_bad_member():
    problem(rq("POST", E, {"id": "urn:ngsi-ld:Ent:c3", "type": "Thing", "speed": {"type": "Property"}}),
            400, "BadRequestData", "speed")
    problem(rq("GET", E + "/urn:ngsi-ld:Ent:c3"), 404, "ResourceNotFound")


def t_create_bad_json():
    problem(rq("POST", E, '{"id": "urn:ngsi-ld:Ent:c4", "type": '), 400, "InvalidRequest")


def t_create_no_id():
    problem(rq("POST", E, {"type": "Thing", "a": prop(1)}), 400, "BadRequestData", "id")


def t_create_no_type():
    problem(rq("POST", E, {"id": "urn:ngsi-ld:Ent:c5", "a": prop(1)}), 400, "BadRequestData", "type")


def t_create_id_not_uri():
    problem(rq("POST", E, {"id": "not a uri", "type": "Thing"}), 400, "BadRequestData", "id")


def t_create_array_body():
    problem(rq("POST", E, [{"id": "urn:ngsi-ld:Ent:c6", "type": "Thing"}]), 400, "BadRequestData")


def t_create_null_sentinel():
    problem(rq("POST", E, {"id": "urn:ngsi-ld:Ent:c7", "type": "Thing", "a": prop("urn:ngsi-ld:null")}),
            400, "BadRequestData", "a")


def t_create_rel_no_object():
    problem(rq("POST", E, {"id": "urn:ngsi-ld:Ent:c8", "type": "Thing",
                           "r": {"type": "Relationship", "value": "urn:x:1"}}), 400, "BadRequestData", "r")


def t_create_bad_geo():
    problem(rq("POST", E, {"id": "urn:ngsi-ld:Ent:c9", "type": "Thing",
                           "location": {"type": "GeoProperty",
                                        "value": {"type": "Point", "coordinates": "here"}}}),
            400, "BadRequestData", "location")


def t_create_at_synonyms():
    st, h, _ = rq("POST", E, {"@id": "urn:ngsi-ld:Ent:c10", "@type": "Thing", "a": prop(1)})
    check(st == 201, "status %d" % st)
    e = get(E + "/urn:ngsi-ld:Ent:c10")
    check(e.get("id") == "urn:ngsi-ld:Ent:c10" and e.get("type") == "Thing", "got %r" % e)
    check("@id" not in e and "@type" not in e, "response uses @id/@type: %r" % e)


def t_create_multitype_scope():
    rq("POST", E, {"id": "urn:ngsi-ld:Ent:c11", "type": ["Thing", "Other"], "scope": ["/a/b"],
                   "a": prop(1)})
    e = get(E + "/urn:ngsi-ld:Ent:c11")
    check(sorted(e["type"]) == ["Other", "Thing"], "types %r" % e["type"])
    check(e.get("scope") in (["/a/b"], "/a/b"), "scope %r" % e.get("scope"))


def t_create_empty_body():
    st, h, body = S.request("POST", E, b"", H)
    check(st == 400, "status %d %r" % (st, body))
    doc = json.loads(body)
    check(doc["type"] == ERR + "InvalidRequest", "type %r" % doc)


# ---- 5.7.1 retrieve ----------------------------------------------------------------------------

def t_retrieve_normalized():
    rq("POST", E, full("r1"))
    st, h, e = rq("GET", E + "/urn:ngsi-ld:Ent:r1")
    check(st == 200 and h["content-type"].startswith("application/json"), "%d %r" % (st, h))
    check(e["temp"] == {"type": "Property", "value": 21.5, "observedAt": "2024-01-01T00:00:00Z",
                        "unitCode": "CEL", "accuracy": {"type": "Property", "value": 0.5}},
          "temp %r" % e["temp"])
    check(e["name"] == {"type": "LanguageProperty", "languageMap": {"fr": "salut", "en": "hello"}},
          "name %r" % e["name"])
    check(e["owner"] == {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"}, "owner %r" % e["owner"])
    check(e["location"] == {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2.35, 48.85]}},
          "location %r" % e["location"])
    check(e["address"]["value"] == {"city": "Paris", "zip": "75001"}, "address %r" % e["address"])
    check(e["tags"] == {"type": "ListProperty", "valueList": ["a", "b"]}, "tags %r" % e["tags"])
    check(e["blob"] == {"type": "JsonProperty", "json": {"k": [1, 2]}}, "blob %r" % e["blob"])
    check(e["members"]["type"] == "ListRelationship" and
          [m["object"] for m in e["members"]["objectList"]] == ["urn:ngsi-ld:P:1", "urn:ngsi-ld:P:2"],
          "members %r" % e["members"])
    check("createdAt" not in e and "modifiedAt" not in e["temp"], "system attrs without sysAttrs")


def t_retrieve_concise():
    e = get(E + "/urn:ngsi-ld:Ent:r1?options=concise")
    check(e["temp"] == {"value": 21.5, "observedAt": "2024-01-01T00:00:00Z", "unitCode": "CEL",
                        "accuracy": 0.5}, "temp %r" % e["temp"])
    check(e["owner"] == {"object": "urn:ngsi-ld:Person:1"}, "owner %r" % e["owner"])
    check(e["name"] == {"languageMap": {"fr": "salut", "en": "hello"}}, "name %r" % e["name"])
    check(e["location"] == {"type": "Point", "coordinates": [2.35, 48.85]}, "location %r" % e["location"])
    check(e["type"] == "Thing", "entity type kept %r" % e.get("type"))


def t_retrieve_format_concise():
    a = get(E + "/urn:ngsi-ld:Ent:r1?options=concise")
    b = get(E + "/urn:ngsi-ld:Ent:r1?format=concise")
    check(a == b, "format=concise %r differs from options=concise %r" % (b, a))


def t_retrieve_keyvalues():
    e = get(E + "/urn:ngsi-ld:Ent:r1?options=keyValues")
    check(e["temp"] == 21.5 and e["owner"] == "urn:ngsi-ld:Person:1", "kv %r" % e)
    check(e["address"] == {"city": "Paris", "zip": "75001"}, "address %r" % e["address"])
    check(e["location"] == {"type": "Point", "coordinates": [2.35, 48.85]}, "location %r" % e["location"])
    check(e["tags"] == ["a", "b"], "tags %r" % e["tags"])


def t_retrieve_format_simplified():
    a = get(E + "/urn:ngsi-ld:Ent:r1?options=keyValues")
    check(get(E + "/urn:ngsi-ld:Ent:r1?format=simplified") == a, "format=simplified differs")
    check(get(E + "/urn:ngsi-ld:Ent:r1?options=simplified") == a, "options=simplified differs")
    check(get(E + "/urn:ngsi-ld:Ent:r1?format=normalized")["temp"]["type"] == "Property", "normalized")


def t_retrieve_sysattrs():
    e = get(E + "/urn:ngsi-ld:Ent:r1?options=sysAttrs")
    for where in (e, e["temp"]):
        check("createdAt" in where and "modifiedAt" in where, "no createdAt/modifiedAt in %r" % where)
        check(where["createdAt"].endswith("Z") and where["createdAt"][:2] == "20", "%r" % where["createdAt"])
    e2 = get(E + "/urn:ngsi-ld:Ent:r1?options=keyValues,sysAttrs")
    check(e2["temp"] == 21.5, "keyValues,sysAttrs %r" % e2)


def t_retrieve_pick():
    e = get(E + "/urn:ngsi-ld:Ent:r1?pick=id,temp")
    check(set(e) == {"id", "temp"}, "pick=id,temp gave %r" % sorted(e))
    e = get(E + "/urn:ngsi-ld:Ent:r1?pick=temp")
    check(set(e) == {"temp"}, "pick=temp gave %r" % sorted(e))


def t_retrieve_omit():
    e = get(E + "/urn:ngsi-ld:Ent:r1?omit=temp,name")
    check("temp" not in e and "name" not in e and "owner" in e and e["id"].endswith(":r1"),
          "omit gave %r" % sorted(e))


def t_retrieve_pick_omit():
    problem(rq("GET", E + "/urn:ngsi-ld:Ent:r1?pick=temp&omit=name"), 400, "BadRequestData")


def t_retrieve_attrs():
    e = get(E + "/urn:ngsi-ld:Ent:r1?attrs=temp,owner")
    check(set(e) == {"id", "type", "temp", "owner"}, "attrs gave %r" % sorted(e))


def t_retrieve_lang():
    e = get(E + "/urn:ngsi-ld:Ent:r1?lang=fr&pick=name")
    check(e["name"] == {"type": "Property", "value": "salut", "lang": "fr"}, "lang=fr %r" % e)
    e = get(E + "/urn:ngsi-ld:Ent:r1?lang=en&options=keyValues&pick=name")
    check(e["name"] == "hello", "lang=en keyValues %r" % e)
    e = get(E + "/urn:ngsi-ld:Ent:r1?pick=temp&lang=fr")
    check(e["temp"]["value"] == 21.5, "lang changes Property %r" % e)


def t_retrieve_type_filter():
    check(get(E + "/urn:ngsi-ld:Ent:r1?type=Thing")["id"] == "urn:ngsi-ld:Ent:r1", "type=Thing")
    problem(rq("GET", E + "/urn:ngsi-ld:Ent:r1?type=Other"), 404, "ResourceNotFound")


def t_retrieve_geojson():
    st, h, f = rq("GET", E + "/urn:ngsi-ld:Ent:r1", headers={"Accept": "application/geo+json"})
    check(st == 200 and h["content-type"].startswith("application/geo+json"), "%d %r" % (st, h))
    check(f["type"] == "Feature" and f["id"] == "urn:ngsi-ld:Ent:r1", "feature %r" % f)
    check(f["geometry"] == {"type": "Point", "coordinates": [2.35, 48.85]}, "geometry %r" % f["geometry"])
    check(f["properties"]["temp"]["value"] == 21.5 and f["properties"]["type"] == "Thing",
          "properties %r" % f["properties"])


def t_retrieve_geojson_other_prop():
    mk("r2", location=point(1, 2), spot=point(3, 4))
    st, h, f = rq("GET", E + "/urn:ngsi-ld:Ent:r2?geometryProperty=spot",
                  headers={"Accept": "application/geo+json"})
    check(st == 200 and f["geometry"] == {"type": "Point", "coordinates": [3, 4]}, "%r" % f)
    st, h, f = rq("GET", E + "/urn:ngsi-ld:Ent:r2?options=keyValues",
                  headers={"Accept": "application/geo+json"})
    check(f["geometry"]["coordinates"] == [1, 2] and f["properties"]["spot"]["coordinates"] == [3, 4],
          "keyValues feature %r" % f)


def t_retrieve_404():
    problem(rq("GET", E + "/urn:ngsi-ld:Ent:nope"), 404, "ResourceNotFound", "urn:ngsi-ld:Ent:nope")


def t_retrieve_bad_id():
    problem(rq("GET", E + "/notauri"), 400, "BadRequestData")


def t_retrieve_bad_options():
    problem(rq("GET", E + "/urn:ngsi-ld:Ent:r1?options=fancy"), 400, "BadRequestData", "fancy")
    problem(rq("GET", E + "/urn:ngsi-ld:Ent:r1?options=keyValues,concise"), 400, "BadRequestData")
    problem(rq("GET", E + "/urn:ngsi-ld:Ent:r1?format=xml"), 400, "BadRequestData", "xml")


def t_retrieve_ldjson():
    st, h, e = rq("GET", E + "/urn:ngsi-ld:Ent:r1", headers={"Accept": "application/ld+json"})
    check(st == 200 and h["content-type"].startswith("application/ld+json"), "%d %r" % (st, h))
    check(e.get("@context") == CORE, "@context %r" % e.get("@context"))
    check("link" not in h, "ld+json with a Link header")


def t_retrieve_datasets():
    mk("r3", speed=[prop(10), prop(20, datasetId="urn:ngsi-ld:Dataset:gps")])
    e = get(E + "/urn:ngsi-ld:Ent:r3")
    check(isinstance(e["speed"], list) and len(e["speed"]) == 2, "instances %r" % e["speed"])
    check(sorted(i["value"] for i in e["speed"]) == [10, 20], "values %r" % e["speed"])
    e = get(E + "/urn:ngsi-ld:Ent:r3?datasetId=urn:ngsi-ld:Dataset:gps")
    check(e["speed"]["value"] == 20 and e["speed"]["datasetId"] == "urn:ngsi-ld:Dataset:gps",
          "datasetId filter %r" % e["speed"])


def t_vocab_property():
    mk("r4", color={"type": "VocabProperty", "vocab": "red"})
    e = get(E + "/urn:ngsi-ld:Ent:r4")
    check(e["color"] == {"type": "VocabProperty", "vocab": "red"}, "vocab %r" % e["color"])
    check(get(E + "/urn:ngsi-ld:Ent:r4?options=keyValues")["color"] == "red", "vocab kv")


# ---- 5.6.17 merge ---------------------------------------------------------------------------------

def t_merge():
    p = mk("m1", a=prop(1), b=prop(2))
    st, h, body = rq("PATCH", p, {"a": prop(10), "c": prop(3)})
    check(st == 204 and body is None, "merge %d %r" % (st, body))
    e = get(p + "?options=keyValues")
    check((e["a"], e["b"], e["c"]) == (10, 2, 3), "after merge %r" % e)


def t_merge_null():
    p = mk("m2", a=prop(1), b=prop(2))
    check(rq("PATCH", p, {"a": "urn:ngsi-ld:null"})[0] == 204, "merge null")
    e = get(p)
    check("a" not in e and e["b"]["value"] == 2, "after null merge %r" % e)
    check(rq("PATCH", p, {"b": prop("urn:ngsi-ld:null")})[0] == 204, "merge Property null")
    check("b" not in get(p), "b still there")


def t_merge_keeps_meta():
    p = mk("m3", t=prop(1, observedAt="2024-02-01T00:00:00Z", unitCode="CEL", acc=prop(0.1)))
    rq("PATCH", p, {"t": prop(2)})
    t = get(p)["t"]
    check(t["value"] == 2 and t.get("observedAt") == "2024-02-01T00:00:00Z" and t.get("unitCode") == "CEL",
          "merge lost metadata %r" % t)
    check(t.get("acc", {}).get("value") == 0.1, "merge lost sub-attribute %r" % t)
    rq("PATCH", p, {"t": {"type": "Property", "value": 3, "acc": prop(0.2), "src": prop("x")}})
    t = get(p)["t"]
    check(t["acc"]["value"] == 0.2 and t["src"]["value"] == "x", "sub-attributes merged %r" % t)


def t_merge_404():
    problem(rq("PATCH", E + "/urn:ngsi-ld:Ent:nomerge", {"a": prop(1)}), 404, "ResourceNotFound")


def t_merge_id_mismatch():
    p = mk("m4", a=prop(1))
    problem(rq("PATCH", p, {"id": "urn:ngsi-ld:Ent:other", "a": prop(2)}), 400, "BadRequestData")
    check(get(p)["a"]["value"] == 1, "changed despite 400")


def t_merge_patch_json():
    p = mk("m5", a=prop(1))
    st, _, _ = rq("PATCH", p, {"a": prop(5)}, {"Content-Type": "application/merge-patch+json"})
    check(st == 204, "merge-patch+json %d" % st)
    check(get(p)["a"]["value"] == 5, "value not merged")


def t_merge_add_type():
    p = mk("m6", a=prop(1))
    check(rq("PATCH", p, {"type": "Extra"})[0] == 204, "merge type")
    check(sorted(get(p)["type"]) == ["Extra", "Thing"], "types %r" % get(p)["type"])


def t_patch_no_body():
    p = mk("m7", a=prop(1))
    st, h, body = S.request("PATCH", p, None, {})
    check(st == 400 and json.loads(body)["type"] == ERR + "InvalidRequest", "%d %r" % (st, body))


# ---- 5.6.18 replace -----------------------------------------------------------------------------

def t_replace():
    p = mk("p1", a=prop(1), b=prop(2))
    created = get(p + "?options=sysAttrs")["createdAt"]
    time.sleep(0.01)
    st, _, body = rq("PUT", p, {"id": "urn:ngsi-ld:Ent:p1", "type": "Thing", "c": prop(3)})
    check(st == 204, "replace %d %r" % (st, body))
    e = get(p + "?options=sysAttrs")
    check("a" not in e and "b" not in e and e["c"]["value"] == 3, "after replace %r" % e)
    check(e["createdAt"] == created, "createdAt changed %r -> %r" % (created, e["createdAt"]))


def t_replace_404():
    problem(rq("PUT", E + "/urn:ngsi-ld:Ent:noput", {"id": "urn:ngsi-ld:Ent:noput", "type": "Thing"}),
            404, "ResourceNotFound")


def t_replace_null():
    p = mk("p2", a=prop(1))
    problem(rq("PUT", p, {"id": "urn:ngsi-ld:Ent:p2", "type": "Thing", "a": "urn:ngsi-ld:null"}),
            400, "BadRequestData")


# ---- 5.6.6 delete -----------------------------------------------------------------------------------

def t_delete():
    p = mk("d1", a=prop(1))
    st, h, body = rq("DELETE", p)
    check(st == 204 and body is None, "delete %d %r" % (st, body))
    problem(rq("GET", p), 404, "ResourceNotFound")
    problem(rq("DELETE", p), 404, "ResourceNotFound")
    check(rq("POST", E, {"id": "urn:ngsi-ld:Ent:d1", "type": "Thing"})[0] == 201, "re-create")


def t_delete_gone_from_queries():
    p = mk("d2", a=prop(1, observedAt="2024-01-01T00:00:00Z"))
    check(rq("DELETE", p)[0] == 204, "delete")
    doc = ok(rq("GET", E + "?id=urn:ngsi-ld:Ent:d2"))
    check(doc == [], "deleted entity still returned by a query: %r" % doc)
    problem(rq("GET", p), 404, "ResourceNotFound")


# ---- 5.6.3 append / 5.6.2 update ---------------------------------------------------------------------

def t_append():
    p = mk("a1", a=prop(1))
    st, _, body = rq("POST", p + "/attrs", {"a": prop(2), "b": prop(3)})
    check(st == 204 and body is None, "append %d %r" % (st, body))
    e = get(p + "?options=keyValues")
    check(e["a"] == 2 and e["b"] == 3, "after append %r" % e)


def t_append_nooverwrite():
    p = mk("a2", a=prop(1))
    st, h, doc = rq("POST", p + "/attrs?options=noOverwrite", {"a": prop(2), "b": prop(3)})
    check(st == 207 and h["content-type"].startswith("application/json"), "%d %r" % (st, doc))
    check(doc["updated"] == ["b"], "updated %r" % doc)
    check([x["attributeName"] for x in doc["notUpdated"]] == ["a"] and doc["notUpdated"][0].get("reason"),
          "notUpdated %r" % doc)
    e = get(p + "?options=keyValues")
    check(e["a"] == 1 and e["b"] == 3, "after noOverwrite %r" % e)


def t_append_404():
    problem(rq("POST", E + "/urn:ngsi-ld:Ent:noappend/attrs", {"a": prop(1)}), 404, "ResourceNotFound")


def t_append_bad():
    p = mk("a3", a=prop(1))
    problem(rq("POST", p + "/attrs", {"x": {"type": "Relationship"}}), 400, "BadRequestData", "x")


def t_update_attrs():
    p = mk("u1", a=prop(1), b=prop(2))
    st, _, body = rq("PATCH", p + "/attrs", {"a": prop(10)})
    check(st == 204 and body is None, "update %d %r" % (st, body))
    check(get(p + "?options=keyValues")["a"] == 10, "not updated")


def t_update_attrs_missing():
    p = mk("u2", a=prop(1))
    st, h, doc = rq("PATCH", p + "/attrs", {"a": prop(5), "zz": prop(6)})
    check(st == 207, "status %d %r" % (st, doc))
    check(doc["updated"] == ["a"] and doc["notUpdated"][0]["attributeName"] == "zz", "result %r" % doc)
    e = get(p + "?options=keyValues")
    check(e["a"] == 5 and "zz" not in e, "after update %r" % e)


def t_update_attrs_404():
    problem(rq("PATCH", E + "/urn:ngsi-ld:Ent:noupd/attrs", {"a": prop(1)}), 404, "ResourceNotFound")


# ---- 5.6.4 partial attribute update ------------------------------------------------------------------

def t_partial():
    p = mk("pa1", t=prop(1, observedAt="2024-03-01T00:00:00Z", unitCode="CEL"), o=prop(9))
    st, _, body = rq("PATCH", p + "/attrs/t", {"value": 2})
    check(st == 204 and body is None, "partial %d %r" % (st, body))
    e = get(p)
    check(e["t"]["value"] == 2 and e["t"]["unitCode"] == "CEL" and e["o"]["value"] == 9, "after %r" % e)
    rq("PATCH", p + "/attrs/t", {"type": "Property", "value": 3, "observedAt": "2024-03-02T00:00:00Z"})
    check(get(p)["t"]["observedAt"] == "2024-03-02T00:00:00Z", "observedAt not updated")


def t_partial_404():
    p = mk("pa2", t=prop(1))
    problem(rq("PATCH", p + "/attrs/missing", {"value": 2}), 404, "ResourceNotFound")
    problem(rq("PATCH", E + "/urn:ngsi-ld:Ent:nopa/attrs/t", {"value": 2}), 404, "ResourceNotFound")


# ---- 5.6.5 delete attribute ----------------------------------------------------------------------------

def t_attr_delete():
    p = mk("ad1", a=prop(1), b=prop(2))
    st, _, body = rq("DELETE", p + "/attrs/a")
    check(st == 204 and body is None, "delete attr %d" % st)
    e = get(p)
    check("a" not in e and "b" in e, "after attr delete %r" % e)
    problem(rq("DELETE", p + "/attrs/a"), 404, "ResourceNotFound")


def t_attr_delete_dataset():
    p = mk("ad2", s=[prop(1), prop(2, datasetId="urn:ngsi-ld:Dataset:x"), prop(3, datasetId="urn:ngsi-ld:Dataset:y")])
    check(rq("DELETE", p + "/attrs/s?datasetId=urn:ngsi-ld:Dataset:x")[0] == 204, "delete datasetId")
    s = get(p)["s"]
    check(sorted(i["value"] for i in s) == [1, 3], "remaining %r" % s)
    check(rq("DELETE", p + "/attrs/s")[0] == 204, "delete default instance")
    s = get(p)["s"]
    s = s if isinstance(s, list) else [s]
    check([i["value"] for i in s] == [3], "remaining %r" % s)
    problem(rq("DELETE", p + "/attrs/s?datasetId=urn:ngsi-ld:Dataset:x"), 404, "ResourceNotFound")


def t_attr_delete_all():
    p = mk("ad3", s=[prop(1), prop(2, datasetId="urn:ngsi-ld:Dataset:x")], k=prop(0))
    check(rq("DELETE", p + "/attrs/s?deleteAll=true")[0] == 204, "deleteAll")
    e = get(p)
    check("s" not in e and "k" in e, "deleteAll left %r" % e)


# ---- 5.6.19 replace attribute ------------------------------------------------------------------------

def t_attr_put():
    p = mk("ap1", t=prop(1, unitCode="CEL", acc=prop(0.1)))
    st, _, body = rq("PUT", p + "/attrs/t", {"type": "Property", "value": 7})
    check(st == 204 and body is None, "put attr %d %r" % (st, body))
    t = get(p)["t"]
    check(t == {"type": "Property", "value": 7}, "replaced attribute kept old members %r" % t)


def t_attr_put_404():
    p = mk("ap2", t=prop(1))
    problem(rq("PUT", p + "/attrs/nope", {"type": "Property", "value": 7}), 404, "ResourceNotFound")
    problem(rq("PUT", p + "/attrs/t", {"type": "Property"}), 400, "BadRequestData")


def t_method_not_allowed():
    st, h, doc = rq("PUT", E, {"a": prop(1)})  # (DELETE /entities is the V1.9 purge)
    check(st == 405 and "GET" in h.get("allow", "") and "POST" in h.get("allow", ""),
          "405 %d allow=%r" % (st, h.get("allow")))
    check(doc["type"] == ERR + "InvalidRequest", "405 type %r" % doc)
    st, h, doc = rq("POST", E + "/urn:ngsi-ld:Ent:r1", {"a": prop(1)})
    check(st == 405 and "PATCH" in h.get("allow", ""), "405 %d %r" % (st, h.get("allow")))


def t_modified_at_advances():
    p = mk("sy1", a=prop(1))
    e1 = get(p + "?options=sysAttrs")
    time.sleep(0.01)
    rq("PATCH", p + "/attrs", {"a": prop(2)})
    e2 = get(p + "?options=sysAttrs")
    check(e2["createdAt"] == e1["createdAt"], "createdAt moved")
    check(e2["modifiedAt"] > e1["modifiedAt"], "modifiedAt did not advance %r %r" % (e1["modifiedAt"], e2["modifiedAt"]))
    check(e2["a"]["modifiedAt"] > e1["a"]["modifiedAt"], "attribute modifiedAt did not advance")


CASES = [
    ("5.6.1 create entity 201 + Location", t_create),
    ("5.6.1 create existing id 409 AlreadyExists", t_create_exists),
    ("5.6.1 invalid attribute 400 BadRequestData naming the member", t_create_bad_member),
    ("5.6.1 invalid JSON 400 InvalidRequest", t_create_bad_json),
    ("5.6.1 missing id 400 BadRequestData", t_create_no_id),
    ("5.6.1 missing type 400 BadRequestData", t_create_no_type),
    ("5.6.1 id not a URI 400", t_create_id_not_uri),
    ("5.6.1 array body 400", t_create_array_body),
    ("5.2.1 urn:ngsi-ld:null in create 400", t_create_null_sentinel),
    ("5.6.1 Relationship without object 400", t_create_rel_no_object),
    ("5.6.1 GeoProperty with bad coordinates 400", t_create_bad_geo),
    ("4.4 @id/@type accepted, answered as id/type", t_create_at_synonyms),
    ("5.6.1 several types and scope", t_create_multitype_scope),
    ("6.3.4 POST without body 400 InvalidRequest", t_create_empty_body),
    ("5.7.1 retrieve normalized, every attribute kind", t_retrieve_normalized),
    ("5.7.1 retrieve options=concise", t_retrieve_concise),
    ("5.7.1 format=concise equals options=concise", t_retrieve_format_concise),
    ("5.7.1 retrieve options=keyValues", t_retrieve_keyvalues),
    ("5.7.1 format=simplified and options=simplified", t_retrieve_format_simplified),
    ("5.7.1 options=sysAttrs adds createdAt/modifiedAt", t_retrieve_sysattrs),
    ("5.7.1 pick", t_retrieve_pick),
    ("5.7.1 omit", t_retrieve_omit),
    ("5.7.1 pick with omit 400", t_retrieve_pick_omit),
    ("5.7.1 attrs projection keeps id and type", t_retrieve_attrs),
    ("5.7.1 lang turns a LanguageProperty into a Property", t_retrieve_lang),
    ("5.7.1 type filter on retrieve", t_retrieve_type_filter),
    ("5.7.1 Accept geo+json gives a Feature", t_retrieve_geojson),
    ("5.7.1 geo+json geometryProperty and keyValues", t_retrieve_geojson_other_prop),
    ("5.7.1 unknown entity 404 ResourceNotFound", t_retrieve_404),
    ("5.7.1 id not a URI 400", t_retrieve_bad_id),
    ("5.7.1 unknown options/format 400", t_retrieve_bad_options),
    ("5.7.1 Accept ld+json has @context, no Link", t_retrieve_ldjson),
    ("5.7.1 multi-instance attribute and datasetId filter", t_retrieve_datasets),
    ("4.5 VocabProperty round trip", t_vocab_property),
    ("5.6.17 merge entity 204", t_merge),
    ("5.6.17 merge urn:ngsi-ld:null deletes", t_merge_null),
    ("5.6.17 merge keeps observedAt/unitCode, merges sub-attributes", t_merge_keeps_meta),
    ("5.6.17 merge unknown entity 404", t_merge_404),
    ("5.6.17 merge with another id 400", t_merge_id_mismatch),
    ("6.3.4 PATCH application/merge-patch+json", t_merge_patch_json),
    ("5.6.17 merge adds a type", t_merge_add_type),
    ("6.3.4 PATCH without body 400", t_patch_no_body),
    ("5.6.18 replace entity keeps createdAt", t_replace),
    ("5.6.18 replace unknown entity 404", t_replace_404),
    ("5.6.18 replace with urn:ngsi-ld:null 400", t_replace_null),
    ("5.6.6 delete entity 204 then 404", t_delete),
    ("5.6.6 deleted entity gone from queries", t_delete_gone_from_queries),
    ("5.6.3 append attributes 204", t_append),
    ("5.6.3 append noOverwrite 207 notUpdated", t_append_nooverwrite),
    ("5.6.3 append to unknown entity 404", t_append_404),
    ("5.6.3 append invalid attribute 400", t_append_bad),
    ("5.6.2 update attributes 204", t_update_attrs),
    ("5.6.2 update missing attribute 207 notUpdated", t_update_attrs_missing),
    ("5.6.2 update attributes of unknown entity 404", t_update_attrs_404),
    ("5.6.4 partial attribute update", t_partial),
    ("5.6.4 partial update of missing attribute/entity 404", t_partial_404),
    ("5.6.5 delete attribute 204 then 404", t_attr_delete),
    ("5.6.5 delete attribute datasetId instance", t_attr_delete_dataset),
    ("5.6.5 delete attribute deleteAll", t_attr_delete_all),
    ("5.6.19 replace attribute", t_attr_put),
    ("5.6.19 replace missing attribute 404, invalid 400", t_attr_put_404),
    ("6.3.6 405 with Allow", t_method_not_allowed),
    ("4.8 modifiedAt advances, createdAt kept", t_modified_at_advances),
]

if __name__ == "__main__":
    run_suite(globals(), CASES)
