"""tests/integration/ldlib.py: helpers shared by the NGSI-LD conformance suites
(test_ngsild_*.py): headers, context URLs, NGSI-LD problem checks, attribute builders and the
server start with the Smart Data Models contexts."""
import os
import subprocess

import vigielib
from vigielib import Server, case, check, done

H = {"Content-Type": "application/json"}
LDH = {"Content-Type": "application/ld+json"}
E = "/ngsi-ld/v1/entities"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
SDM = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                   "shared", "datamodels", "_shared", "contexts"))


def link(url, extra=None):
    h = {"Link": '<%s>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
         % url}
    h.update(extra or {})
    return h


def problem(r, status, typ, detail=None):
    """An NGSI-LD error: status, application/json, ProblemDetails with the type URI."""
    st, h, doc = r
    check(st == status, "status %d, want %d: %r" % (st, status, doc))
    check(h.get("content-type", "").startswith("application/json"),
          "error content-type %r" % h.get("content-type"))
    check(isinstance(doc, dict) and doc.get("type") == ERR + typ,
          "error type %r, want %s" % (doc, typ))
    check(isinstance(doc.get("title"), str) and isinstance(doc.get("detail"), str),
          "problem lacks title/detail: %r" % doc)
    check("link" not in h, "an error carries a Link header: %r" % h.get("link"))
    if detail:
        check(detail in doc["detail"], "detail %r lacks %r" % (doc["detail"], detail))
    return doc


def ok(r, status=200):
    st, h, doc = r
    check(st == status, "status %d, want %d: %r" % (st, status, doc))
    return doc


def prop(v, **kw):
    d = {"type": "Property", "value": v}
    d.update(kw)
    return d


def rel(o, **kw):
    d = {"type": "Relationship", "object": o}
    d.update(kw)
    return d


def point(lon, lat):
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def start_server(data=None):
    extra = ["--sdm-contexts", SDM] if os.path.isdir(SDM) else []
    return Server(data=data, extra=extra).start()


def run_suite(g, cases, setup=None):
    """Run the cases of a suite module against one server kept in g["S"] (its globals). A crash
    fails its case; the server is restarted on the same data and the suite goes on."""
    g["S"] = start_server()
    try:
        if setup:
            setup()
        for name, fn in cases:
            failed = vigielib.FAILED
            case(name, fn)
            S = g["S"]
            if vigielib.FAILED > failed and S.proc:
                try:
                    S.proc.wait(1)  # a crash may still be under way
                except subprocess.TimeoutExpired:
                    pass
            if S.proc and S.proc.poll() is not None:
                print("# vigie died (%s), restarting on the same data:\n%s"
                      % (S.proc.returncode, S.tail(2000)))
                S.log.close()
                S.proc = None
                S.start()
    finally:
        g["S"].cleanup()
    done()
