"""NGSI-LD conformance, temporal API (ETSI GS CIM 009 cl. 5.6.11-5.6.16, 5.7.3-5.7.4,
6.18-6.24): every change appends history, timerel/lastN, the temporalValues and
aggregatedValues representations, temporal create/append, instance modification, temporal
query, and history deletion (entity, attribute with datasetId/deleteAll, instance; also after
a restart). Drives the real ./vigie binary."""
import urllib.parse
import json
import os
import signal
import subprocess
import time

import vigielib

from vigielib import Server, case, check, done

from ldlib import *  # noqa: F401,F403 (H, LDH, E, ERR, CORE, VOCAB, SDM, link, problem, ok,
#                       prop, rel, point, start_server, run_suite)

S = None
T = "/ngsi-ld/v1/temporal/entities"
T1 = "urn:ngsi-ld:TT:1"


def rq(method, path, body=None, headers=None):
    if body is not None and not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    h = dict(H) if body is not None else {}
    h.update(headers or {})
    return S.json(method, path, body, h)


def at(h):
    return "2024-01-01T%02d:00:00Z" % h


def ms(h):
    return "2024-01-01T%02d:00:00.000Z" % h


def hist(path):
    doc = ok(rq("GET", path))
    return doc


def vals(insts):
    insts = insts if isinstance(insts, list) else [insts]
    return [i["value"] for i in insts]


def setup():
    st, _, doc = rq("POST", E, {"id": T1, "type": "TT", "temp": prop(10, observedAt=at(0), unitCode="CEL"),
                                "hum": prop(50, observedAt=at(0)), "owner": rel("urn:ngsi-ld:P:1", observedAt=at(0))})
    check(st == 201, "setup %d %r" % (st, doc))
    check(rq("PATCH", E + "/" + T1 + "/attrs", {"temp": prop(20, observedAt=at(1))})[0] == 204, "update")
    check(rq("POST", E + "/" + T1 + "/attrs", {"temp": prop(30, observedAt=at(2)),
                                                "owner": rel("urn:ngsi-ld:P:2", observedAt=at(2))})[0] == 204, "append")
    check(rq("PATCH", E + "/" + T1, {"temp": prop(40, observedAt=at(3))})[0] == 204, "merge")
    check(rq("PATCH", E + "/" + T1 + "/attrs/hum", {"value": 55, "observedAt": at(3)})[0] == 204, "partial")


# ---- history ---------------------------------------------------------------------------------------

def t_every_update_appends():
    doc = hist(T + "/" + T1)
    check(doc["id"] == T1 and doc["type"] == "TT", "%r" % doc)
    check(vals(doc["temp"]) == [10, 20, 30, 40], "temp history %r" % doc["temp"])
    check([i["observedAt"] for i in doc["temp"]] == [ms(0), ms(1), ms(2), ms(3)], "times %r" % doc["temp"])
    check(vals(doc["hum"]) == [50, 55], "hum history %r" % doc["hum"])


def t_instance_shape():
    doc = hist(T + "/" + T1)
    i = doc["temp"][0]
    check(i["type"] == "Property" and i.get("unitCode") == "CEL", "instance %r" % i)
    check(isinstance(i.get("instanceId"), str) and i["instanceId"].startswith("urn:"), "instanceId %r" % i)
    check(len(set(x["instanceId"] for x in doc["temp"])) == 4, "instanceIds not unique")
    o = doc["owner"]
    check([x["object"] for x in o] == ["urn:ngsi-ld:P:1", "urn:ngsi-ld:P:2"] and o[0]["type"] == "Relationship",
          "relationship history %r" % o)


def t_timerel_before():
    doc = hist(T + "/" + T1 + "?timerel=before&timeAt=" + at(2))
    check(vals(doc["temp"]) == [10, 20], "before %r" % doc["temp"])


def t_timerel_after():
    doc = hist(T + "/" + T1 + "?timerel=after&timeAt=" + at(1))
    check(vals(doc["temp"]) == [30, 40], "after %r" % doc["temp"])


def t_timerel_between():
    doc = hist(T + "/" + T1 + "?timerel=between&timeAt=%s&endTimeAt=%s" % (at(1), at(3)))
    check(vals(doc["temp"]) == [20, 30], "between %r" % doc["temp"])


def t_lastn():
    doc = hist(T + "/" + T1 + "?lastN=2")
    check(vals(doc["temp"]) == [30, 40], "lastN=2 %r" % doc["temp"])
    doc = hist(T + "/" + T1 + "?lastN=1&timerel=before&timeAt=" + at(2))
    check(vals(doc["temp"]) == [20], "lastN=1 before %r" % doc["temp"])


def t_attrs():
    doc = hist(T + "/" + T1 + "?attrs=hum")
    check("temp" not in doc and vals(doc["hum"]) == [50, 55], "attrs=hum %r" % doc)


def t_temporal_values():
    doc = hist(T + "/" + T1 + "?options=temporalValues")
    check(doc["temp"] == {"type": "Property", "values": [[10, ms(0)], [20, ms(1)], [30, ms(2)], [40, ms(3)]]},
          "temporalValues %r" % doc["temp"])
    check(doc["owner"]["objects"] == [["urn:ngsi-ld:P:1", ms(0)], ["urn:ngsi-ld:P:2", ms(2)]],
          "relationship temporalValues %r" % doc["owner"])
    check(hist(T + "/" + T1 + "?format=temporalValues") == doc, "format=temporalValues differs")


def t_aggregated():
    doc = hist(T + "/" + T1 + "?options=aggregatedValues&aggrMethods=totalCount,sum,avg,min,max&attrs=temp")
    a = doc["temp"]
    check(a["type"] == "Property", "%r" % a)
    for m, v in (("totalCount", 4), ("sum", 100), ("avg", 25), ("min", 10), ("max", 40)):
        check(len(a[m]) == 1 and a[m][0][0] == v, "%s %r" % (m, a.get(m)))
        check(a[m][0][1].startswith("2024-01-01T00:00:00"), "%s start %r" % (m, a[m][0]))
    check("stddev" not in a, "unasked method answered")


def t_aggregated_more():
    doc = hist(T + "/" + T1 + "?options=aggregatedValues&aggrMethods=distinctCount,sumsq,stddev&attrs=temp")
    a = doc["temp"]
    check(a["distinctCount"][0][0] == 4 and a["sumsq"][0][0] == 3000, "%r" % a)
    check(abs(a["stddev"][0][0] - 11.18) < 0.01 or abs(a["stddev"][0][0] - 12.91) < 0.01, "stddev %r" % a["stddev"])


def t_aggregated_period():
    doc = hist(T + "/" + T1 + "?options=aggregatedValues&aggrMethods=sum,totalCount&aggrPeriodDuration=PT2H"
               "&timerel=between&timeAt=%s&endTimeAt=%s&attrs=temp" % (at(0), at(4)))
    a = doc["temp"]
    check([x[0] for x in a["sum"]] == [30, 70], "PT2H sums %r" % a["sum"])
    check([x[0] for x in a["totalCount"]] == [2, 2], "PT2H counts %r" % a["totalCount"])
    check(a["sum"][1][1].startswith("2024-01-01T02:00:00") and a["sum"][1][2].startswith("2024-01-01T04:00:00"),
          "period bounds %r" % a["sum"][1])


def t_aggregated_errors():
    base = T + "/" + T1 + "?options=aggregatedValues"
    problem(rq("GET", base), 400, "BadRequestData", "aggrMethods")
    problem(rq("GET", base + "&aggrMethods=median"), 400, "BadRequestData", "median")
    problem(rq("GET", base + "&aggrMethods=sum&aggrPeriodDuration=2h"), 400, "BadRequestData",
            "aggrPeriodDuration")
    problem(rq("GET", T + "/" + T1 + "?options=temporalValues,aggregatedValues&aggrMethods=sum"), 400,
            "BadRequestData")


def t_timerel_errors():
    b = T + "/" + T1
    problem(rq("GET", b + "?timerel=during&timeAt=" + at(1)), 400, "BadRequestData", "timerel")
    problem(rq("GET", b + "?timerel=before"), 400, "BadRequestData", "timeAt")
    problem(rq("GET", b + "?timerel=between&timeAt=" + at(1)), 400, "BadRequestData", "endTimeAt")
    problem(rq("GET", b + "?timerel=between&timeAt=%s&endTimeAt=%s" % (at(3), at(1))), 400, "BadRequestData")
    problem(rq("GET", b + "?timeAt=" + at(1)), 400, "BadRequestData", "timerel")
    problem(rq("GET", b + "?timerel=before&timeAt=yesterday"), 400, "BadRequestData", "timeAt")
    problem(rq("GET", b + "?lastN=0"), 400, "BadRequestData", "lastN")
    problem(rq("GET", b + "?lastN=abc"), 400, "BadRequestData", "lastN")


def t_timeproperty():
    doc = hist(T + "/" + T1 + "?timeproperty=observedAt&lastN=1")
    check(vals(doc["temp"]) == [40], "timeproperty=observedAt %r" % doc)
    problem(rq("GET", T + "/" + T1 + "?timeproperty=modifiedAt"), 501, "OperationNotSupported")
    problem(rq("GET", T + "/" + T1 + "?timeproperty=bogus"), 400, "BadRequestData")


def t_retrieve_404():
    problem(rq("GET", T + "/urn:ngsi-ld:TT:none"), 404, "ResourceNotFound")
    problem(rq("GET", T + "/nonuri"), 400, "BadRequestData")


def t_retrieve_ld():
    st, h, doc = rq("GET", T + "/" + T1 + "?lastN=1", headers={"Accept": "application/ld+json"})
    check(st == 200 and h["content-type"].startswith("application/ld+json") and doc.get("@context") == CORE,
          "%d %r" % (st, doc))


def t_datasets():
    p = E + "/urn:ngsi-ld:TT:ds"
    rq("POST", E, {"id": "urn:ngsi-ld:TT:ds", "type": "TT",
                   "speed": [prop(1, observedAt=at(0)), prop(100, observedAt=at(0), datasetId="urn:ngsi-ld:Dataset:gps")]})
    rq("POST", p + "/attrs", {"speed": prop(101, observedAt=at(1), datasetId="urn:ngsi-ld:Dataset:gps")})
    doc = hist(T + "/urn:ngsi-ld:TT:ds")
    gps = [i for i in doc["speed"] if i.get("datasetId") == "urn:ngsi-ld:Dataset:gps"]
    dflt = [i for i in doc["speed"] if "datasetId" not in i]
    check(vals(gps) == [100, 101] and vals(dflt) == [1], "per-dataset history %r" % doc["speed"])


# ---- 5.6.11 temporal create / 5.6.12 append ---------------------------------------------------------------

def t_temporal_create():
    body = {"id": "urn:ngsi-ld:TT:c1", "type": "TT",
            "temp": [prop(1, observedAt=at(5)), prop(3, observedAt=at(7)), prop(2, observedAt=at(6))]}
    st, h, doc = rq("POST", T, body)
    check(st == 201 and h.get("location") == "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:TT:c1",
          "%d %r %r" % (st, h.get("location"), doc))
    doc = hist(T + "/urn:ngsi-ld:TT:c1")
    check(vals(doc["temp"]) == [1, 2, 3], "history %r" % doc["temp"])
    cur = ok(rq("GET", E + "/urn:ngsi-ld:TT:c1"))
    check(cur["temp"]["value"] == 3 and cur["temp"]["observedAt"].startswith("2024-01-01T07:00:00"),
          "current state is not the latest instance: %r" % cur["temp"])


def t_temporal_create_again():
    st, h, doc = rq("POST", T, {"id": "urn:ngsi-ld:TT:c1", "type": "TT", "temp": [prop(4, observedAt=at(8))]})
    check(st == 204, "%d %r" % (st, doc))
    check(vals(hist(T + "/urn:ngsi-ld:TT:c1")["temp"]) == [1, 2, 3, 4], "not appended")


def t_temporal_create_bad():
    problem(rq("POST", T, {"id": "urn:ngsi-ld:TT:c2", "type": "TT", "temp": [prop(1), {"type": "Property"}]}),
            400, "BadRequestData", "temp")
    problem(rq("POST", T, {"type": "TT"}), 400, "BadRequestData", "id")
    problem(rq("POST", T, [1]), 400, "BadRequestData")


def t_temporal_append():
    st, h, doc = rq("POST", T + "/urn:ngsi-ld:TT:c1/attrs",
                    {"temp": [prop(5, observedAt=at(9)), prop(6, observedAt=at(10))], "hum": prop(9, observedAt=at(9))})
    check(st == 204, "%d %r" % (st, doc))
    doc = hist(T + "/urn:ngsi-ld:TT:c1")
    check(vals(doc["temp"]) == [1, 2, 3, 4, 5, 6] and vals(doc["hum"]) == [9], "after append %r" % doc)


def t_temporal_append_404():
    problem(rq("POST", T + "/urn:ngsi-ld:TT:none/attrs", {"temp": [prop(1, observedAt=at(1))]}), 404,
            "ResourceNotFound")


# ---- 5.6.14 instance modification ----------------------------------------------------------------------

def t_instance_patch():
    doc = hist(T + "/" + T1)
    iid = doc["temp"][1]["instanceId"]
    st, h, body = rq("PATCH", T + "/" + T1 + "/attrs/temp/" + iid, {"type": "Property", "value": 21})
    check(st == 204, "%d %r" % (st, body))
    doc = hist(T + "/" + T1)
    check(vals(doc["temp"]) == [10, 21, 30, 40], "after instance patch %r" % vals(doc["temp"]))
    check(doc["temp"][1]["observedAt"] == ms(1) and doc["temp"][1]["instanceId"] == iid, "%r" % doc["temp"][1])


def t_instance_patch_errors():
    problem(rq("PATCH", T + "/" + T1 + "/attrs/temp/urn:ngsi-ld:bogus", {"type": "Property", "value": 1}),
            400, "BadRequestData")
    iid = hist(T + "/" + T1)["hum"][0]["instanceId"]
    problem(rq("PATCH", T + "/" + T1 + "/attrs/temp/" + iid, {"type": "Property", "value": 1}),
            404, "ResourceNotFound")
    problem(rq("PATCH", T + "/urn:ngsi-ld:TT:none/attrs/temp/" + iid, {"type": "Property", "value": 1}),
            404, "ResourceNotFound")


D1 = "urn:ngsi-ld:TD:1"


def make_d1():
    """D1: temp at hours 0..3 (the default instance), temp#s2 at hours 0..1, hum at hour 0."""
    body = {"id": D1, "type": "TD",
            "temp": [prop(10 + k, observedAt=at(k)) for k in range(4)] +
                    [prop(100 + k, observedAt=at(k), datasetId="urn:ngsi-ld:Dataset:s2") for k in range(2)],
            "hum": [prop(50, observedAt=at(0))]}
    st, _, doc = rq("POST", T, body)
    check(st in (201, 204), "temporal create %d %r" % (st, doc))


def temp_by_ds(doc):
    out = {}
    for i in doc.get("temp", []):
        out.setdefault(i.get("datasetId"), []).append(i["value"])
    return out


def t_delete_instance():
    make_d1()
    doc = hist(T + "/" + D1)
    insts = [i for i in doc["temp"] if "datasetId" not in i]
    check([i["value"] for i in insts] == [10, 11, 12, 13], "before %r" % doc["temp"])
    st, _, body = rq("DELETE", T + "/" + D1 + "/attrs/temp/" + insts[1]["instanceId"])
    check(st == 204, "delete instance %d %r" % (st, body))
    doc = hist(T + "/" + D1)
    check(temp_by_ds(doc) == {None: [10, 12, 13], "urn:ngsi-ld:Dataset:s2": [100, 101]}, "after %r" % temp_by_ds(doc))
    agg = hist(T + "/" + D1 + "?attrs=temp&options=aggregatedValues&aggrMethods=totalCount,sum")
    dflt = [a for a in agg["temp"] if "datasetId" not in a]
    check(len(dflt) == 1 and dflt[0]["totalCount"][0][0] == 3 and dflt[0]["sum"][0][0] == 35,
          "aggregates %r" % agg["temp"])
    # the same instance again, an instance of another attribute, a bogus id
    problem(rq("DELETE", T + "/" + D1 + "/attrs/temp/" + insts[1]["instanceId"]), 404, "ResourceNotFound")
    problem(rq("DELETE", T + "/" + D1 + "/attrs/hum/" + insts[0]["instanceId"]), 404, "ResourceNotFound")
    problem(rq("DELETE", T + "/" + D1 + "/attrs/temp/urn:ngsi-ld:bogus"), 400, "BadRequestData")
    # appending after the rewrite continues the series
    check(rq("POST", T + "/" + D1 + "/attrs", {"temp": [prop(14, observedAt=at(4))]})[0] == 204, "append")
    check(temp_by_ds(hist(T + "/" + D1))[None] == [10, 12, 13, 14], "after append")


def t_delete_attribute():
    # datasetId: only that instance's history
    st, _, body = rq("DELETE", T + "/" + D1 + "/attrs/temp?datasetId=urn:ngsi-ld:Dataset:s2")
    check(st == 204, "delete datasetId %d %r" % (st, body))
    check(temp_by_ds(hist(T + "/" + D1)) == {None: [10, 12, 13, 14]}, "after datasetId delete")
    problem(rq("DELETE", T + "/" + D1 + "/attrs/temp?datasetId=urn:ngsi-ld:Dataset:s2"), 404, "ResourceNotFound")
    problem(rq("DELETE", T + "/" + D1 + "/attrs/temp?deleteAll=maybe"), 400, "BadRequestData")
    problem(rq("DELETE", T + "/" + D1 + "/attrs/nosuch"), 404, "ResourceNotFound")
    problem(rq("DELETE", T + "/urn:ngsi-ld:TD:none/attrs/temp"), 404, "ResourceNotFound")
    # default instance: temp gone, hum kept; the current state is not touched
    check(rq("DELETE", T + "/" + D1 + "/attrs/temp")[0] == 204, "delete attribute")
    doc = hist(T + "/" + D1)
    check("temp" not in doc and vals(doc["hum"]) == [50], "after attribute delete %r" % doc)
    # new values start a fresh history
    check(rq("POST", T + "/" + D1 + "/attrs", {"temp": [prop(7, observedAt=at(9))]})[0] == 204, "append")
    check(vals(hist(T + "/" + D1)["temp"]) == [7], "fresh history")
    # deleteAll=true: every datasetId
    check(rq("POST", T + "/" + D1 + "/attrs",
             {"temp": [prop(8, observedAt=at(9), datasetId="urn:ngsi-ld:Dataset:s3")]})[0] == 204, "append s3")
    check(rq("DELETE", T + "/" + D1 + "/attrs/temp?deleteAll=true")[0] == 204, "deleteAll")
    check("temp" not in hist(T + "/" + D1), "deleteAll left instances")


def t_delete_entity():
    check(rq("POST", T + "/" + D1 + "/attrs", {"temp": [prop(9, observedAt=at(10))]})[0] == 204, "append")
    check(rq("DELETE", T + "/" + D1)[0] == 204, "delete temporal entity")
    problem(rq("GET", T + "/" + D1), 404, "ResourceNotFound")
    problem(rq("GET", E + "/" + D1), 404, "ResourceNotFound")
    problem(rq("DELETE", T + "/" + D1), 404, "ResourceNotFound")
    problem(rq("DELETE", T + "/not-a-uri"), 400, "BadRequestData")
    # a line-protocol entity: its history goes, and it is no longer an entity
    base = 1704067200000
    lines = "\n".join("NoiseLevelObserved,id=urn:ngsi-ld:Noise:del LAeq=%d %d" % (50 + k, base + k * 60000)
                      for k in range(3))
    st, _, body = S.request("POST", "/write?db=x&precision=ms", lines.encode())
    check(st == 204, "write %d %r" % (st, body))
    check(vals(hist(T + "/urn:ngsi-ld:Noise:del")["LAeq"]) == [50, 51, 52], "lp history")
    check(rq("DELETE", T + "/urn:ngsi-ld:Noise:del")[0] == 204, "delete lp entity")
    problem(rq("GET", T + "/urn:ngsi-ld:Noise:del"), 404, "ResourceNotFound")
    st, _, doc = rq("GET", E + "?type=NoiseLevelObserved")
    check(st == 200 and "urn:ngsi-ld:Noise:del" not in [e["id"] for e in doc], "still listed %r" % doc)


def t_delete_survives_restart():
    make_d1()
    doc = hist(T + "/" + D1)
    first = [i for i in doc["temp"] if "datasetId" not in i][0]["instanceId"]
    check(rq("DELETE", T + "/" + D1 + "/attrs/temp/" + first)[0] == 204, "delete instance")
    check(rq("DELETE", T + "/" + D1 + "/attrs/hum")[0] == 204, "delete hum")
    S.stop(sig=signal.SIGKILL)  # acknowledged deletions are durable, not just flushed at stop
    S.start()
    doc = hist(T + "/" + D1)
    check(temp_by_ds(doc) == {None: [11, 12, 13], "urn:ngsi-ld:Dataset:s2": [100, 101]} and "hum" not in doc,
          "after restart %r" % doc)


# ---- 5.7.4 temporal query -------------------------------------------------------------------------------

def t_query():
    st, h, doc = rq("GET", T + "?type=TT&q=temp==40&timerel=after&timeAt=" + at(1))
    check(st == 200 and isinstance(doc, list) and [e["id"] for e in doc] == [T1], "%d %r" % (st, doc))
    check(vals(doc[0]["temp"]) == [30, 40], "history %r" % doc[0]["temp"])


def t_query_all_type():
    st, h, doc = rq("GET", T + "?type=TT&lastN=1&attrs=temp&count=true")
    # attrs also filters: entities with at least one of the attributes (TT:ds has no temp)
    check(st == 200 and h.get("ngsild-results-count") == "2", "%d %r" % (st, h.get("ngsild-results-count")))
    byid = {e["id"]: e for e in doc}
    check(sorted(byid) == [T1, "urn:ngsi-ld:TT:c1"], "ids %r" % sorted(byid))
    st, h, doc = rq("GET", T + "?type=TT&lastN=1&count=true")
    check(h.get("ngsild-results-count") == "3" and len(doc) == 3, "type=TT count %r" % h.get("ngsild-results-count"))
    check(vals(byid[T1]["temp"]) == [40] and "hum" not in byid[T1], "%r" % byid[T1])


def t_query_errors():
    problem(rq("GET", T + "?timerel=after&timeAt=" + at(1)), 400, "BadRequestData")
    problem(rq("GET", T + "?type=TT&limit=5000"), 403, "TooManyResults")
    problem(rq("GET", T + "?type=TT&q=" + urllib.parse.quote("temp==")), 400, "BadRequestData", "q")


def t_query_post():
    body = {"type": "Query", "entities": [{"type": "TT", "id": T1}],
            "temporalQ": {"timerel": "before", "timeAt": at(2)}}
    st, h, doc = rq("POST", "/ngsi-ld/v1/temporal/entityOperations/query", body)
    check(st == 200 and len(doc) == 1 and vals(doc[0]["temp"]) == [10, 21], "%d %r" % (st, doc))
    body["temporalQ"] = {"timerel": "after", "timeAt": at(0), "lastN": 1}
    doc = ok(rq("POST", "/ngsi-ld/v1/temporal/entityOperations/query", body))
    check(vals(doc[0]["temp"]) == [40], "lastN in temporalQ %r" % doc)
    body = {"type": "Query", "entities": [{"type": "TT", "id": T1}], "attrs": ["hum"]}
    doc = ok(rq("POST", "/ngsi-ld/v1/temporal/entityOperations/query", body))
    check("temp" not in doc[0] and vals(doc[0]["hum"]) == [50, 55], "attrs in Query %r" % doc)


def t_query_post_aggr():
    body = {"type": "Query", "entities": [{"id": T1, "type": "TT"}], "attrs": ["temp"]}
    path = "/ngsi-ld/v1/temporal/entityOperations/query?options=aggregatedValues"
    st, h, doc = rq("POST", path + "&aggrMethods=max", body)
    if st != 200:  # the parameters may also be read from the Query's temporalQ
        body["temporalQ"] = {"aggrMethods": ["max"]}
        st, h, doc = rq("POST", path, body)
    check(st == 200, "aggrMethods neither from the URL nor from temporalQ: %d %r" % (st, doc))
    check(doc[0]["temp"]["max"][0][0] == 40, "aggregated via POST %r" % doc)


# ---- two doors: line protocol history ------------------------------------------------------------------

def t_line_protocol_history():
    base = 1704067200000  # 2024-01-01T00:00:00Z
    lines = "\n".join("NoiseLevelObserved,id=urn:ngsi-ld:Noise:7 LAeq=%d %d" % (50 + k, base + k * 60000)
                      for k in range(3))
    st, _, body = S.request("POST", "/write?db=x&precision=ms", lines.encode())
    check(st == 204, "write %d %r" % (st, body))
    doc = hist(T + "/urn:ngsi-ld:Noise:7")
    check(doc["type"] == "NoiseLevelObserved" and vals(doc["LAeq"]) == [50, 51, 52], "%r" % doc)
    doc = hist(T + "/urn:ngsi-ld:Noise:7?options=aggregatedValues&aggrMethods=avg")
    check(doc["LAeq"]["avg"][0][0] == 51, "avg %r" % doc)


def t_partial_content():
    base = 1600000000000
    lines = "\n".join("Big,id=urn:ngsi-ld:Big:1 v=%d %d" % (k, base + k * 1000) for k in range(10050))
    st, _, _ = S.request("POST", "/write?db=x&precision=ms", lines.encode())
    check(st == 204, "write %d" % st)
    st, h, doc = rq("GET", T + "/urn:ngsi-ld:Big:1")
    check(st == 206, "status %d, want 206 for more than 10000 instances" % st)
    check(h.get("content-range", "").startswith("date-time "), "Content-Range %r" % h.get("content-range"))
    check(len(doc["v"]) == 10000 and doc["v"][0]["value"] == 0, "instances %d" % len(doc["v"]))


def t_unknown_tenant():
    problem(rq("GET", T + "/" + T1, headers={"NGSILD-Tenant": "nosuchtenant"}), 404, "NonexistentTenant")


CASES = [
    ("5.7.3 every update appends history", t_every_update_appends),
    ("5.7.3 instances: type, value, observedAt, instanceId, unitCode", t_instance_shape),
    ("5.7.3 timerel=before", t_timerel_before),
    ("5.7.3 timerel=after", t_timerel_after),
    ("5.7.3 timerel=between", t_timerel_between),
    ("5.7.3 lastN", t_lastn),
    ("5.7.3 attrs", t_attrs),
    ("5.7.3 options=temporalValues / format=temporalValues", t_temporal_values),
    ("5.7.3 aggregatedValues whole range", t_aggregated),
    ("5.7.3 aggregatedValues distinctCount, sumsq, stddev", t_aggregated_more),
    ("5.7.3 aggregatedValues aggrPeriodDuration=PT2H", t_aggregated_period),
    ("5.7.3 aggregatedValues errors 400", t_aggregated_errors),
    ("5.7.3 timerel/timeAt/endTimeAt/lastN errors 400", t_timerel_errors),
    ("5.7.3 timeproperty", t_timeproperty),
    ("5.7.3 unknown entity 404, bad id 400", t_retrieve_404),
    ("6.3.6 temporal ld+json has @context", t_retrieve_ld),
    ("5.7.3 history per datasetId", t_datasets),
    ("5.6.11 temporal create 201 + Location, current state = latest", t_temporal_create),
    ("5.6.11 temporal create on existing entity 204 appends", t_temporal_create_again),
    ("5.6.11 temporal create invalid 400", t_temporal_create_bad),
    ("5.6.12 temporal append attributes 204", t_temporal_append),
    ("5.6.12 temporal append to unknown entity 404", t_temporal_append_404),
    ("5.6.14 modify an attribute instance", t_instance_patch),
    ("5.6.14 modify instance errors 400/404", t_instance_patch_errors),
    ("5.6.15 delete an attribute instance (rewrite, aggregates follow, errors)", t_delete_instance),
    ("5.6.13 delete attribute history: datasetId, default, deleteAll, errors", t_delete_attribute),
    ("5.6.16 delete a temporal entity (NGSI-LD and line protocol)", t_delete_entity),
    ("5.6.13 5.6.15 history deletions survive kill -9", t_delete_survives_restart),
    ("5.7.4 temporal query GET", t_query),
    ("5.7.4 temporal query count, lastN, attrs", t_query_all_type),
    ("5.7.4 temporal query errors", t_query_errors),
    ("5.7.4 POST /temporal/entityOperations/query", t_query_post),
    ("5.7.4 POST temporal query aggregatedValues", t_query_post_aggr),
    ("5.7.3 line-protocol points are temporal instances", t_line_protocol_history),
    ("6.3.10 206 Partial Content with Content-Range over 10000 instances", t_partial_content),
    ("4.14 temporal on unknown tenant 404 NonexistentTenant", t_unknown_tenant),
]

if __name__ == "__main__":
    run_suite(globals(), CASES, setup)
