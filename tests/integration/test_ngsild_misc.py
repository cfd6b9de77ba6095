"""NGSI-LD conformance, everything around the entities (ETSI GS CIM 009): @context resolution
(cl. 4.4, 6.3.5) with built-in, Smart Data Models and hosted contexts, /jsonldContexts (cl. 5.13,
6.29-6.30), content negotiation and the error model (cl. 6.3.2-6.3.6), tenants (cl. 4.14),
/types and /attributes (cl. 5.7.5-5.7.10), subscriptions (routing; the full suite is test_ngsild_subscriptions.py), the "one store, two doors"
bridge between line protocol and NGSI-LD, and persistence across a restart. Drives the real
./vigie binary."""
import shutil
import tempfile
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
ENV_CTX = "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld"
ENV_CTX2 = "https://smart-data-models.github.io/dataModel.Environment/context.jsonld"
ENV = "https://smartdatamodels.org/dataModel.Environment/"
CTXS = "/ngsi-ld/v1/jsonldContexts"
USER_CTX = {"@context": {"temperature": "https://example.org/vocab#temperature",
                         "Probe": "https://example.org/vocab#Probe"}}


def rq(method, path, body=None, headers=None):
    if body is not None and not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    h = dict(H) if body is not None else {}
    h.update(headers or {})
    return S.json(method, path, body, h)


def add_ctx(doc, tenant=None):
    h = {"NGSILD-Tenant": tenant} if tenant else {}
    st, hh, body = rq("POST", CTXS, doc, h)
    check(st == 201, "add context %d %r" % (st, body))
    loc = hh.get("location", "")
    check(loc.startswith(CTXS + "/"), "Location %r" % loc)
    return loc[len(CTXS) + 1:]


def hosted_url(cid):
    return "http://127.0.0.1:%d%s/%s" % (S.port, CTXS, cid)


# ---- 6.3.5 @context -----------------------------------------------------------------------------------

def t_hosted_context_link():
    cid = add_ctx(USER_CTX)
    L = link(hosted_url(cid))
    st, _, body = rq("POST", E, {"id": "urn:ngsi-ld:Probe:1", "type": "Probe", "temperature": prop(12)}, L)
    check(st == 201, "create with hosted context %d %r" % (st, body))
    e = ok(rq("GET", E + "/urn:ngsi-ld:Probe:1"))
    check(e["type"] == "https://example.org/vocab#Probe", "type without context %r" % e["type"])
    check("https://example.org/vocab#temperature" in e, "expanded name missing %r" % sorted(e))
    st, h, e = rq("GET", E + "/urn:ngsi-ld:Probe:1", headers=L)
    check(st == 200 and e["type"] == "Probe" and e["temperature"]["value"] == 12, "with context %r" % e)
    check(hosted_url(cid) in h.get("link", ""), "Link echoes the request context: %r" % h.get("link"))
    st, h, doc = rq("GET", E + "?type=Probe", headers=L)
    check(st == 200 and [x["id"] for x in doc] == ["urn:ngsi-ld:Probe:1"], "query with context %r" % doc)
    st, h, doc = rq("GET", E + "?type=Probe")
    check(st == 200 and doc == [], "type=Probe without context must not match: %r" % doc)


def t_context_in_json_body():
    problem(rq("POST", E, {"id": "urn:ngsi-ld:X:1", "type": "X", "@context": CORE}), 400, "BadRequestData",
            "@context")


def t_ld_without_context():
    problem(rq("POST", E, {"id": "urn:ngsi-ld:X:2", "type": "X"}, LDH), 400, "BadRequestData", "@context")


def t_ld_with_link():
    problem(rq("POST", E, {"id": "urn:ngsi-ld:X:3", "type": "X", "@context": CORE}, link(CORE, LDH)),
            400, "BadRequestData", "Link")


def t_ld_inline_context():
    body = {"id": "urn:ngsi-ld:X:4", "type": "Vehicle", "speed": prop(88),
            "@context": [{"speed": "https://example.org/speed", "Vehicle": "https://example.org/Vehicle"}, CORE]}
    st, _, doc = rq("POST", E, body, LDH)
    check(st == 201, "ld+json create %d %r" % (st, doc))
    e = ok(rq("GET", E + "/urn:ngsi-ld:X:4"))
    check(e["type"] == "https://example.org/Vehicle" and "https://example.org/speed" in e, "%r" % e)
    st, h, doc = rq("PATCH", E + "/urn:ngsi-ld:X:4/attrs",
                    {"speed": prop(90), "@context": {"speed": "https://example.org/speed"}}, LDH)
    check(st == 204, "ld+json update %d %r" % (st, doc))
    check(ok(rq("GET", E + "/urn:ngsi-ld:X:4"))["https://example.org/speed"]["value"] == 90, "not updated")


def t_unknown_context():
    url = "https://example.org/contexts/missing.jsonld"
    t0 = time.time()
    problem(rq("GET", E + "/urn:ngsi-ld:X:4", headers=link(url)), 504, "LdContextNotAvailable", url)
    problem(rq("POST", E, {"id": "urn:ngsi-ld:X:5", "type": "X", "@context": url}, LDH), 504,
            "LdContextNotAvailable", url)
    problem(rq("GET", E + "?type=X", headers=link(url)), 504, "LdContextNotAvailable", url)
    check(time.time() - t0 < 1.0, "unknown contexts took %.2fs (must not be fetched)" % (time.time() - t0))
    problem(rq("GET", E + "/urn:ngsi-ld:X:5"), 404, "ResourceNotFound")


def t_core_aliases():
    for v in ("", "-v1.3", "-v1.6", "-v1.7", "-v1.8", "-v1.9"):
        url = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context%s.jsonld" % v
        st, h, e = rq("GET", E + "/urn:ngsi-ld:Probe:1", headers=link(url))
        check(st == 200 and e["id"] == "urn:ngsi-ld:Probe:1", "%s: %d %r" % (url, st, e))
        check("<%s>" % url in h.get("link", ""), "%s: Link answered %r" % (url, h.get("link")))
        st, h, e = rq("GET", E + "/urn:ngsi-ld:Probe:1", headers=link(url, {"Accept": "application/ld+json"}))
        check(e.get("@context") == url, "%s: @context answered %r" % (url, e.get("@context")))


def t_malformed_link():
    problem(rq("GET", E + "/urn:ngsi-ld:Probe:1", headers={"Link": "https://example.org/no-brackets"}),
            400, "BadRequestData", "Link")


def t_sdm_environment():
    L = link(ENV_CTX)
    st, _, doc = rq("POST", E, {"id": "urn:ngsi-ld:NoiseLevelObserved:sdm1", "type": "NoiseLevelObserved",
                                "LAeq": prop(61.5), "location": point(2.35, 48.85)}, L)
    check(st == 201, "create with the Environment context %d %r" % (st, doc))
    e = ok(rq("GET", E + "/urn:ngsi-ld:NoiseLevelObserved:sdm1", headers=L))
    check(e["type"] == "NoiseLevelObserved" and e["LAeq"]["value"] == 61.5 and "location" in e,
          "compacted with the context %r" % e)
    e = ok(rq("GET", E + "/urn:ngsi-ld:NoiseLevelObserved:sdm1"))
    check(e["type"] == ENV + "NoiseLevelObserved", "type without context %r" % e["type"])
    check(ENV + "LAeq" in e and "LAeq" not in e, "attribute without context %r" % sorted(e))
    check("location" in e, "location is a core term %r" % sorted(e))


def t_sdm_query():
    L = link(ENV_CTX)
    doc = ok(rq("GET", E + "?type=NoiseLevelObserved&q=LAeq>60", headers=L))
    check([x["id"] for x in doc] == ["urn:ngsi-ld:NoiseLevelObserved:sdm1"], "with context %r" % doc)
    doc = ok(rq("GET", E + "?type=NoiseLevelObserved"))
    check(doc == [], "type without context expands to the default vocab and must not match: %r" % doc)
    doc = ok(rq("GET", E + "?type=" + urllib.parse.quote(ENV + "NoiseLevelObserved", safe="")))
    check(len(doc) == 1 and ENV + "LAeq" in doc[0], "query by full IRI %r" % doc)


def t_sdm_alias_url():
    e = ok(rq("GET", E + "/urn:ngsi-ld:NoiseLevelObserved:sdm1?options=keyValues", headers=link(ENV_CTX2)))
    check(e["type"] == "NoiseLevelObserved" and e["LAeq"] == 61.5, "github.io URL %r" % e)


def t_sdm_types_compacted():
    doc = ok(rq("GET", "/ngsi-ld/v1/types", headers=link(ENV_CTX)))
    check("NoiseLevelObserved" in doc["typeList"], "with context %r" % doc)
    doc = ok(rq("GET", "/ngsi-ld/v1/types"))
    check(ENV + "NoiseLevelObserved" in doc["typeList"], "without context %r" % doc)


# ---- 5.13 /jsonldContexts -----------------------------------------------------------------------------------

def t_ctx_add():
    doc = {"@context": {"colour": "https://example.org/colour"}}
    cid = add_ctx(doc)
    check(add_ctx(doc) == cid, "the same document must give the same id")


def t_ctx_serve():
    doc = {"@context": {"weight": "https://example.org/weight"}}
    cid = add_ctx(doc)
    st, h, body = S.request("GET", CTXS + "/" + cid)
    check(st == 200 and h.get("content-type", "").startswith("application/ld+json"), "%d %r" % (st, h))
    check(json.loads(body) == doc, "served %r" % body)
    st, h, body = S.request("GET", CTXS + "/" + urllib.parse.quote(ENV_CTX, safe=""))
    check(st == 200 and "NoiseLevelObserved" in json.loads(body)["@context"], "SDM context by URL %d" % st)


def t_ctx_list():
    cid = add_ctx({"@context": {"height": "https://example.org/height"}})
    lst = ok(rq("GET", CTXS))
    check(isinstance(lst, list) and any(x.endswith("/" + cid) for x in lst), "list %r" % lst)
    check(CORE in lst, "core context not listed: %r" % lst[:5])
    det = ok(rq("GET", CTXS + "?details=true"))
    mine = [x for x in det if x.get("localId") == cid]
    check(len(mine) == 1 and mine[0]["kind"] == "Hosted" and mine[0]["URL"].endswith(cid), "details %r" % mine)
    hosted = ok(rq("GET", CTXS + "?kind=Hosted&details=true"))
    check(hosted and all(x["kind"] == "Hosted" for x in hosted), "kind=Hosted %r" % hosted)
    cached = ok(rq("GET", CTXS + "?kind=Cached"))
    check(CORE in cached and not any(x.endswith("/" + cid) for x in cached), "kind=Cached %r" % cached[:5])
    problem(rq("GET", CTXS + "?kind=Weird"), 400, "BadRequestData", "kind")


def t_ctx_delete():
    cid = add_ctx({"@context": {"depth": "https://example.org/depth"}})
    st, _, body = rq("DELETE", CTXS + "/" + cid)
    check(st == 204 and body is None, "delete %d %r" % (st, body))
    problem(rq("GET", CTXS + "/" + cid), 404, "ResourceNotFound")
    problem(rq("DELETE", CTXS + "/" + cid), 404, "ResourceNotFound")
    problem(rq("GET", E + "/urn:ngsi-ld:Probe:1", headers=link(hosted_url(cid))), 504, "LdContextNotAvailable",
            cid)


def t_ctx_delete_builtin():
    problem(rq("DELETE", CTXS + "/" + urllib.parse.quote(CORE, safe="")), 400, "BadRequestData")
    check(rq("GET", CTXS + "/" + urllib.parse.quote(CORE, safe=""))[0] == 200, "core context gone")


def t_ctx_bad():
    problem(rq("POST", CTXS, {"temperature": "https://example.org/t"}), 400, "BadRequestData", "@context")
    problem(rq("POST", CTXS, "{"), 400, "InvalidRequest")
    st, h, _ = rq("PUT", CTXS, {"@context": {}})
    check(st == 405 and "POST" in h.get("allow", ""), "PUT %d %r" % (st, h.get("allow")))


def t_ctx_tenants():
    rq("POST", E, {"id": "urn:ngsi-ld:X:t", "type": "X"}, {"NGSILD-Tenant": "ctxa"})
    rq("POST", E, {"id": "urn:ngsi-ld:X:t", "type": "X"}, {"NGSILD-Tenant": "ctxb"})
    cid = add_ctx({"@context": {"tenantOnly": "https://example.org/tenantOnly"}}, tenant="ctxa")
    check(rq("GET", CTXS + "/" + cid, headers={"NGSILD-Tenant": "ctxa"})[0] == 200, "own tenant")
    problem(rq("GET", CTXS + "/" + cid, headers={"NGSILD-Tenant": "ctxb"}), 404, "ResourceNotFound")
    problem(rq("GET", CTXS + "/" + cid), 404, "ResourceNotFound")
    lst = ok(rq("GET", CTXS, headers={"NGSILD-Tenant": "ctxb"}))
    check(not any(x.endswith("/" + cid) for x in lst), "listed in another tenant")
    problem(rq("GET", E + "/urn:ngsi-ld:X:t", headers=link(hosted_url(cid), {"NGSILD-Tenant": "ctxb"})), 504,
            "LdContextNotAvailable")


# ---- 6.3.4 / 6.3.6 negotiation and errors --------------------------------------------------------------------

def t_415():
    st, h, body = S.request("POST", E, b'{"id":"urn:ngsi-ld:X:6","type":"X"}', {"Content-Type": "text/plain"})
    check(st == 415 and body == b"", "415 bare: %d %r" % (st, body))
    st, h, body = S.request("PATCH", E + "/urn:ngsi-ld:Probe:1", b'{}', {"Content-Type": "application/xml"})
    check(st == 415 and body == b"", "415 bare: %d %r" % (st, body))
    problem(rq("GET", E + "/urn:ngsi-ld:X:6"), 404, "ResourceNotFound")


def t_406():
    problem(rq("GET", E + "/urn:ngsi-ld:Probe:1", headers={"Accept": "text/csv"}), 406, "InvalidRequest",
            "application/json")
    problem(rq("GET", "/ngsi-ld/v1/types", headers={"Accept": "application/geo+json"}), 406, "InvalidRequest")


def t_accept_choice():
    st, h, e = rq("GET", E + "/urn:ngsi-ld:Probe:1",
                  headers={"Accept": "application/json;q=0.5, application/ld+json;q=0.9"})
    check(h["content-type"].startswith("application/ld+json") and "@context" in e, "q-values %r" % h)
    st, h, e = rq("GET", E + "/urn:ngsi-ld:Probe:1", headers={"Accept": "*/*"})
    check(h["content-type"].startswith("application/json") and "@context" not in e and "link" in h,
          "*/* %r" % h)
    st, h, e = rq("GET", E + "/urn:ngsi-ld:Probe:1", headers={"Accept": "text/html, application/ld+json"})
    check(st == 200 and h["content-type"].startswith("application/ld+json"), "list %d %r" % (st, h))


def t_json_link_ld_context():
    st, h, e = rq("GET", "/ngsi-ld/v1/types")
    check(h["content-type"].startswith("application/json") and
          h.get("link", "").startswith("<" + CORE + ">") and 'rel="http://www.w3.org/ns/json-ld#context"' in h["link"],
          "json Link %r" % h.get("link"))
    st, h, e = rq("GET", "/ngsi-ld/v1/types", headers={"Accept": "application/ld+json"})
    check(h["content-type"].startswith("application/ld+json") and e.get("@context") == CORE and "link" not in h,
          "ld+json %r %r" % (h, e))


def t_problem_document():
    st, h, doc = rq("GET", E + "/urn:ngsi-ld:Nope:1", headers={"Accept": "application/ld+json"})
    problem((st, h, doc), 404, "ResourceNotFound")
    check(doc.get("status") == 404 and "@context" not in doc, "problem %r" % doc)


def t_unknown_resource():
    problem(rq("GET", "/ngsi-ld/v1/nothing"), 404, "ResourceNotFound")
    problem(rq("GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:Probe:1/attrs/temperature/x"), 404, "ResourceNotFound")


def t_no_content():
    st, h, body = S.request("DELETE", E + "/urn:ngsi-ld:X:4")
    check(st == 204 and body == b"" and "content-type" not in h, "204 %r %r" % (h, body))


def t_prefer():
    st, h, _ = rq("GET", E + "?type=X", headers={"Prefer": "ngsi-ld=1.8"})
    check(st == 200 and h.get("preference-applied") == "ngsi-ld=1.8", "Preference-Applied %r" % h)
    st, h, _ = rq("GET", E + "?type=X", headers={"Prefer": "ngsi-ld=0.1"})
    check(st == 200 and "preference-applied" not in h, "unknown version not applied %r" % h)


def t_source_identity():
    a = ok(rq("GET", "/ngsi-ld/v1/info/sourceIdentity"))
    check(a["type"] == "ContextSourceIdentity" and a["id"].startswith("urn:ngsi-ld:ContextSource:"),
          "identity %r" % a)
    b = ok(rq("GET", "/ngsi-ld/v1/info/sourceIdentity"))
    check(a["id"] == b["id"], "the identity is stable")


def t_purge():
    T = {"NGSILD-Tenant": "purge"}
    for i in range(5):
        typ = "Gone" if i < 3 else "Kept"
        st, _, _ = rq("POST", E, {"id": "urn:ngsi-ld:P:%d" % i, "type": typ, "v": prop(i)}, T)
        check(st == 201, "create %d" % st)
    problem(rq("DELETE", E, headers=T), 400, "BadRequestData")
    st, _, _ = rq("DELETE", E + "?type=Gone&q=v%3E0", headers=T)
    check(st == 204, "purge %d" % st)
    left = sorted(e["id"] for e in ok(rq("GET", E + "?type=Gone,Kept", headers=T)))
    check(left == ["urn:ngsi-ld:P:0", "urn:ngsi-ld:P:3", "urn:ngsi-ld:P:4"], "left %r" % left)


# ---- 5.8 subscriptions (full suite: test_ngsild_subscriptions.py), 5.9 registrations ----------------------

def t_subscriptions_routed():
    sub = {"id": "urn:ngsi-ld:Subscription:1", "type": "Subscription", "entities": [{"type": "Probe"}],
           "notification": {"endpoint": {"uri": "http://127.0.0.1:1/notify"}}}
    st, h, _ = rq("POST", "/ngsi-ld/v1/subscriptions", sub)
    check(st == 201 and h.get("location", "").endswith("urn:ngsi-ld:Subscription:1"), "create %d %r" % (st, h))
    problem(rq("POST", "/ngsi-ld/v1/subscriptions", sub), 409, "AlreadyExists")
    got = ok(rq("GET", "/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:1"))
    check(got["id"] == "urn:ngsi-ld:Subscription:1" and got["entities"][0]["type"] == "Probe", "get %r" % got)
    check(rq("DELETE", "/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:1")[0] == 204, "delete")
    problem(rq("GET", "/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:1"), 404, "ResourceNotFound")


def t_registrations_501():
    problem(rq("GET", "/ngsi-ld/v1/csourceRegistrations"), 501, "OperationNotSupported")
    problem(rq("GET", "/ngsi-ld/v1/csourceSubscriptions"), 501, "OperationNotSupported")


# ---- 4.14 tenants ----------------------------------------------------------------------------------------------

def t_tenant_created_on_write():
    T = {"NGSILD-Tenant": "city1"}
    problem(rq("GET", E + "?type=X", headers=T), 404, "NonexistentTenant", "city1")
    st, _, doc = rq("POST", E, {"id": "urn:ngsi-ld:X:ten", "type": "X", "v": prop(1)}, T)
    check(st == 201, "create in a new tenant %d %r" % (st, doc))
    check(ok(rq("GET", E + "/urn:ngsi-ld:X:ten", headers=T))["v"]["value"] == 1, "read back")
    check(ok(rq("GET", E + "?type=X", headers=T))[0]["id"] == "urn:ngsi-ld:X:ten", "query in tenant")


def t_tenant_unknown():
    T = {"NGSILD-Tenant": "ghost"}
    problem(rq("GET", E + "/urn:ngsi-ld:X:ten", headers=T), 404, "NonexistentTenant", "ghost")
    problem(rq("GET", E + "?type=X", headers=T), 404, "NonexistentTenant")
    problem(rq("GET", "/ngsi-ld/v1/types", headers=T), 404, "NonexistentTenant")
    problem(rq("GET", "/ngsi-ld/v1/attributes", headers=T), 404, "NonexistentTenant")
    problem(rq("POST", "/ngsi-ld/v1/entityOperations/query", {"type": "Query", "entities": [{"type": "X"}]}, T),
            404, "NonexistentTenant")


def t_tenant_isolation():
    A, B = {"NGSILD-Tenant": "isoa"}, {"NGSILD-Tenant": "isob"}
    rq("POST", E, {"id": "urn:ngsi-ld:X:iso", "type": "X", "v": prop("a")}, A)
    rq("POST", E, {"id": "urn:ngsi-ld:X:iso", "type": "X", "v": prop("b")}, B)
    check(ok(rq("GET", E + "/urn:ngsi-ld:X:iso", headers=A))["v"]["value"] == "a", "tenant a")
    check(ok(rq("GET", E + "/urn:ngsi-ld:X:iso", headers=B))["v"]["value"] == "b", "tenant b")
    problem(rq("GET", E + "/urn:ngsi-ld:X:iso"), 404, "ResourceNotFound")
    check(rq("DELETE", E + "/urn:ngsi-ld:X:iso", headers=A)[0] == 204, "delete in a")
    check(ok(rq("GET", E + "/urn:ngsi-ld:X:iso", headers=B))["v"]["value"] == "b", "b lost its entity")
    doc = ok(rq("GET", "/ngsi-ld/v1/types", headers=B))
    check(doc["typeList"] == ["X"], "types of tenant b %r" % doc)


def t_tenant_invalid():
    st, h, body = S.request("GET", E + "?type=X", None, {"NGSILD-Tenant": "bad tenant!"})
    check(st == 400, "invalid tenant name %d %r" % (st, body))
    check(h.get("content-type", "").startswith("application/json"),
          "NGSI-LD errors are application/json, got %r" % h.get("content-type"))
    doc = json.loads(body)
    check(doc.get("type", "").startswith(ERR), "not an NGSI-LD error type: %r" % doc)


# ---- 5.7.5-5.7.10 types and attributes -------------------------------------------------------------------------

def setup_types():
    T = {"NGSILD-Tenant": "meta"}
    rq("POST", "/ngsi-ld/v1/entityOperations/create", [
        {"id": "urn:ngsi-ld:Road:1", "type": "Road", "width": prop(7), "city": rel("urn:ngsi-ld:City:1")},
        {"id": "urn:ngsi-ld:Road:2", "type": "Road", "width": prop(9)},
        {"id": "urn:ngsi-ld:Lamp:1", "type": "Lamp", "width": prop(0.3), "power": prop(60)}], T)
    return T


def t_types_list():
    T = setup_types()
    doc = ok(rq("GET", "/ngsi-ld/v1/types", headers=T))
    check(doc["type"] == "EntityTypeList" and doc["id"].startswith("urn:") and
          sorted(doc["typeList"]) == ["Lamp", "Road"], "%r" % doc)


def t_types_details():
    doc = ok(rq("GET", "/ngsi-ld/v1/types?details=true", headers={"NGSILD-Tenant": "meta"}))
    by = {x["typeName"]: x for x in doc}
    check(sorted(by) == ["Lamp", "Road"] and by["Road"]["type"] == "EntityType", "%r" % doc)
    check(sorted(by["Road"]["attributeNames"]) == ["city", "width"], "%r" % by["Road"])
    check(by["Road"]["id"] == VOCAB + "Road", "id %r" % by["Road"]["id"])


def t_type_info():
    T = {"NGSILD-Tenant": "meta"}
    doc = ok(rq("GET", "/ngsi-ld/v1/types/Road", headers=T))
    check(doc["type"] == "EntityTypeInfo" and doc["typeName"] == "Road" and doc["entityCount"] == 2, "%r" % doc)
    det = {a["attributeName"]: a for a in doc["attributeDetails"]}
    check(det["city"]["attributeTypes"] == ["Relationship"] and det["width"]["attributeTypes"] == ["Property"],
          "%r" % det)
    problem(rq("GET", "/ngsi-ld/v1/types/Bridge", headers=T), 404, "ResourceNotFound")


def t_attributes():
    T = {"NGSILD-Tenant": "meta"}
    doc = ok(rq("GET", "/ngsi-ld/v1/attributes", headers=T))
    check(doc["type"] == "AttributeList" and sorted(doc["attributeList"]) == ["city", "power", "width"], "%r" % doc)
    det = ok(rq("GET", "/ngsi-ld/v1/attributes?details=true", headers=T))
    by = {x["attributeName"]: x for x in det}
    check(by["width"]["attributeCount"] == 3 and sorted(by["width"]["typeNames"]) == ["Lamp", "Road"],
          "details %r" % by.get("width"))
    one = ok(rq("GET", "/ngsi-ld/v1/attributes/power", headers=T))
    check(one["type"] == "Attribute" and one["attributeCount"] == 1 and one["typeNames"] == ["Lamp"] and
          one["attributeTypes"] == ["Property"], "%r" % one)
    problem(rq("GET", "/ngsi-ld/v1/attributes/nothing", headers=T), 404, "ResourceNotFound")
    st, h, _ = rq("POST", "/ngsi-ld/v1/types", {"x": 1}, T)
    check(st == 405 and h.get("allow") == "GET", "POST /types %d %r" % (st, h.get("allow")))


# ---- one store, two doors -----------------------------------------------------------------------------------

def t_lp_to_ngsild():
    ts = int(time.time() * 1000) - 60000
    st, _, body = S.request("POST", "/write?db=x&precision=ms",
                            ("NoiseLevelObserved,id=urn:ngsi-ld:N:1 LAeq=55.5 %d" % ts).encode())
    check(st == 204, "write %d %r" % (st, body))
    e = ok(rq("GET", E + "/urn:ngsi-ld:N:1"))
    check(e["type"] == "NoiseLevelObserved" and e["LAeq"]["type"] == "Property" and e["LAeq"]["value"] == 55.5,
          "entity %r" % e)
    check(e["LAeq"].get("observedAt", "")[:4] >= "2024", "observedAt %r" % e["LAeq"])
    doc = ok(rq("GET", E + "?type=NoiseLevelObserved&q=LAeq>50&options=keyValues"))
    check({"id": "urn:ngsi-ld:N:1", "type": "NoiseLevelObserved", "LAeq": 55.5} in doc, "query %r" % doc)
    S.request("POST", "/write?db=x&precision=ms",
              ("NoiseLevelObserved,id=urn:ngsi-ld:N:1 LAeq=57 %d" % (ts + 1000)).encode())
    check(ok(rq("GET", E + "/urn:ngsi-ld:N:1"))["LAeq"]["value"] == 57, "latest point not shown")


def t_ngsild_to_query_api():
    rq("POST", E, {"id": "urn:ngsi-ld:Door:1", "type": "Door", "opens": prop(12, observedAt="2025-05-01T10:00:00Z"),
                   "info": prop({"a": 1})})
    rq("PATCH", E + "/urn:ngsi-ld:Door:1/attrs", {"opens": prop(13, observedAt="2025-05-01T11:00:00Z")})
    doc = ok(rq("GET", "/api/v1/query?id=urn:ngsi-ld:Door:1&attr=opens&from=2025-05-01T00:00:00Z&to=2025-05-02T00:00:00Z"))
    check(len(doc["series"]) == 1, "series %r" % doc)
    s = doc["series"][0]
    check(s["type"] == "Door" and s["attr"] == "opens", "series %r" % s)
    check(s["points"] == [[1746093600000, 12], [1746097200000, 13]], "points %r" % s["points"])


def t_lp_moves_document():
    """A device registered through NGSI-LD that then streams line protocol: its current state
    follows the newest point, other attributes stay, an older point changes nothing, a field the
    document lacks is added, and the history holds every point once."""
    SDM_CTX = "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld"
    L = link(SDM_CTX)
    st, _, body = rq("POST", E, {"id": "urn:ngsi-ld:AirQualityObserved:lp1", "type": "AirQualityObserved",
                                 "NO2": prop(10, observedAt="2025-06-01T10:00:00Z", unitCode="GQ"),
                                 "name": prop("Nation"), "location": point(2.39, 48.85)}, L)
    check(st == 201, "create %d %r" % (st, body))
    base = 1748772000000  # 2025-06-01T10:00:00Z
    lines = "AirQualityObserved,id=urn:ngsi-ld:AirQualityObserved:lp1 NO2=42,pm10=17i %d" % (base + 3600000)
    st, _, body = S.request("POST", "/write?db=x&precision=ms", lines.encode())
    check(st == 204, "write %d %r" % (st, body))
    e = ok(rq("GET", E + "/urn:ngsi-ld:AirQualityObserved:lp1", headers=L))
    check(e["NO2"]["value"] == 42 and e["NO2"]["observedAt"] == "2025-06-01T11:00:00.000Z"
          and e["NO2"].get("unitCode") == "GQ", "NO2 %r" % e.get("NO2"))
    check(e["name"]["value"] == "Nation" and e["location"]["value"]["coordinates"] == [2.39, 48.85], "kept %r" % e)
    # a field the document lacks is a new attribute in the default vocabulary (like every
    # line-protocol name), compacted as such under the Smart Data Models context
    check(e.get("ngsi-ld:default-context/pm10", {}).get("value") == 17, "new field %r" % e)
    st, _, body = S.request("POST", "/write?db=x&precision=ms",
                            ("AirQualityObserved,id=urn:ngsi-ld:AirQualityObserved:lp1 NO2=5 %d" % (base + 1800000)).encode())
    check(st == 204, "older write %d" % st)
    e = ok(rq("GET", E + "/urn:ngsi-ld:AirQualityObserved:lp1", headers=L))
    check(e["NO2"]["value"] == 42, "an older point replaced the current value: %r" % e["NO2"])
    doc = ok(rq("GET", E + "?type=AirQualityObserved&q=NO2>40&options=keyValues", headers=L))
    check("urn:ngsi-ld:AirQualityObserved:lp1" in [x["id"] for x in doc], "q over the new value %r" % doc)
    h = ok(rq("GET", "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:AirQualityObserved:lp1?attrs=NO2", headers=L))
    check([i["value"] for i in h["NO2"]] == [10, 5, 42], "history %r" % h["NO2"])


def t_compound_no_marker():
    doc = ok(rq("GET", "/api/v1/query?id=urn:ngsi-ld:Door:1&attr=info&from=2020-01-01T00:00:00Z"))
    pts = doc["series"][0]["points"]
    v = pts[-1][1]
    check(not (isinstance(v, str) and v.startswith("\x1e")),
          "the internal JSON marker leaks into /api/v1/query: %r" % v)


def t_delete_synthesised():
    problem(rq("DELETE", E + "/urn:ngsi-ld:Nope:lp"), 404, "ResourceNotFound")


# ---- persistence -------------------------------------------------------------------------------------------

def t_restart():
    data = tempfile.mkdtemp(prefix="vigie-ld-")
    global S
    main = S
    try:
        S = start_server(data)
        cid = add_ctx(USER_CTX)
        L = link(hosted_url(cid))
        check(rq("POST", E, {"id": "urn:ngsi-ld:Probe:r", "type": "Probe",
                             "temperature": prop(1, observedAt="2025-01-01T00:00:00Z")}, L)[0] == 201, "create")
        rq("PATCH", E + "/urn:ngsi-ld:Probe:r/attrs", {"temperature": prop(2, observedAt="2025-01-01T01:00:00Z")}, L)
        check(rq("POST", E, {"id": "urn:ngsi-ld:X:r", "type": "X"}, {"NGSILD-Tenant": "keep"})[0] == 201, "tenant")
        rc = S.stop()
        check(rc == 0, "stop rc %r" % rc)
        S.start()
        check(rq("GET", CTXS + "/" + cid)[0] == 200, "context lost")
        e = ok(rq("GET", E + "/urn:ngsi-ld:Probe:r", headers=link(hosted_url(cid))))
        check(e["type"] == "Probe" and e["temperature"]["value"] == 2, "entity after restart %r" % e)
        h = ok(rq("GET", "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Probe:r?options=temporalValues",
                  headers=link(hosted_url(cid))))
        check([v[0] for v in h["temperature"]["values"]] == [1, 2], "history after restart %r" % h)
        check(ok(rq("GET", E + "/urn:ngsi-ld:X:r", headers={"NGSILD-Tenant": "keep"}))["id"] == "urn:ngsi-ld:X:r",
              "tenant entity lost")
    finally:
        S.cleanup()
        shutil.rmtree(data, ignore_errors=True)
        S = main


CASES = [
    ("6.3.5 hosted context in a Link header expands and compacts", t_hosted_context_link),
    ("6.3.5 @context in an application/json body 400", t_context_in_json_body),
    ("6.3.5 application/ld+json without @context 400", t_ld_without_context),
    ("6.3.5 application/ld+json with a Link header 400", t_ld_with_link),
    ("6.3.5 application/ld+json inline @context", t_ld_inline_context),
    ("6.3.5 unknown context 504 LdContextNotAvailable, quickly", t_unknown_context),
    ("4.4 every core context URL accepted and echoed", t_core_aliases),
    ("6.3.5 malformed Link header 400", t_malformed_link),
    ("4.4 Smart Data Models Environment context expands terms", t_sdm_environment),
    ("4.4 Smart Data Models context: query with and without it", t_sdm_query),
    ("4.4 Smart Data Models context under its github.io URL", t_sdm_alias_url),
    ("5.7.5 /types compacted with the request context", t_sdm_types_compacted),
    ("5.13.2 add a context 201 + Location, same id twice", t_ctx_add),
    ("5.13.4 serve a context", t_ctx_serve),
    ("5.13.3 list contexts, details, kind", t_ctx_list),
    ("5.13.5 delete a hosted context", t_ctx_delete),
    ("5.13.5 built-in context cannot be deleted", t_ctx_delete_builtin),
    ("5.13.2 invalid context documents 400, 405", t_ctx_bad),
    ("5.13 hosted contexts are tenant-scoped", t_ctx_tenants),
    ("6.3.4 unsupported Content-Type bare 415", t_415),
    ("6.3.4 unacceptable Accept 406", t_406),
    ("6.3.4 Accept q-values and wildcards", t_accept_choice),
    ("6.3.6 json answer has Link, ld+json has @context", t_json_link_ld_context),
    ("6.3.2 errors are application/json ProblemDetails", t_problem_document),
    ("6.3.2 unknown resource 404", t_unknown_resource),
    ("6.3.6 204 without body", t_no_content),
    ("6.3.x Prefer ngsi-ld=<version> -> Preference-Applied", t_prefer),
    ("5.15 /info/sourceIdentity", t_source_identity),
    ("5.6.21 DELETE /entities purges what the query selects", t_purge),
    ("5.8 subscriptions create/get/delete", t_subscriptions_routed),
    ("5.9 csourceRegistrations/csourceSubscriptions 501", t_registrations_501),
    ("4.14 tenant created on first write", t_tenant_created_on_write),
    ("4.14 unknown tenant 404 NonexistentTenant", t_tenant_unknown),
    ("4.14 entities isolated between tenants", t_tenant_isolation),
    ("4.14 invalid tenant name 400", t_tenant_invalid),
    ("5.7.5 /types", t_types_list),
    ("5.7.6 /types?details=true", t_types_details),
    ("5.7.7 /types/{type}", t_type_info),
    ("5.7.8-5.7.10 /attributes, details, /attributes/{attr}", t_attributes),
    ("two doors: line protocol entity seen through NGSI-LD", t_lp_to_ngsild),
    ("two doors: NGSI-LD attribute seen through /api/v1/query", t_ngsild_to_query_api),
    ("two doors: line protocol moves an NGSI-LD document's current state", t_lp_moves_document),
    ("two doors: compound values read back as JSON", t_compound_no_marker),
    ("5.6.6 delete unknown entity 404", t_delete_synthesised),
    ("persistence: entities, history, contexts, tenants survive a restart", t_restart),
]

if __name__ == "__main__":
    run_suite(globals(), CASES)
