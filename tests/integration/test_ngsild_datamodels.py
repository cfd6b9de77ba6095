"""NGSI-LD with the real Smart Data Models examples (../shared/datamodels/<Model>/): every
example (normalized and keyValues/concise), sent with each of the two @context URL forms the
server preloads (raw.githubusercontent.com and smart-data-models.github.io), is created,
retrieved normalized / concise / keyValues and with the core context only, queried by type, q
and geo, and its concise rendering re-created losslessly. The examples that break the spec are
refused with the precise error. The files are read, never edited: only the copies sent change.
Drives the real ./vigie binary."""
import datetime
import json
import os
import re
import subprocess
import urllib.parse

import vigielib

from vigielib import Server, case, check, done

E = "/ngsi-ld/v1/entities"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"
HERE = os.path.dirname(os.path.abspath(__file__))
DM = os.path.abspath(os.path.join(HERE, "..", "..", "..", "shared", "datamodels"))
SDM = os.path.join(DM, "_shared", "contexts")
SDM_NS = "https://smartdatamodels.org/"

RAW = "https://raw.githubusercontent.com/smart-data-models/dataModel.%s/master/context.jsonld"
GH = "https://smart-data-models.github.io/dataModel.%s/context.jsonld"
FORMS = (("raw", RAW), ("gh", GH))
URL_RE = re.compile(r"https://(?:raw\.githubusercontent\.com/smart-data-models/"
                    r"dataModel\.([A-Za-z]+)/master/context\.jsonld|"
                    r"smart-data-models\.github\.io/dataModel\.([A-Za-z]+)/context\.jsonld)")
FILES = (("normalized", "example-normalized.jsonld"), ("keyValues", "example.jsonld"))

KINDS = {"Property": "value", "Relationship": "object", "GeoProperty": "value",
         "LanguageProperty": "languageMap", "ListProperty": "valueList", "JsonProperty": "json",
         "VocabProperty": "vocab", "ListRelationship": "objectList"}
VALUE_KEYS = (("value", "Property"), ("object", "Relationship"),
              ("languageMap", "LanguageProperty"),
              ("valueList", "ListProperty"), ("objectList", "ListRelationship"),
              ("json", "JsonProperty"), ("vocab", "VocabProperty"))
GEOMS = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
         "GeometryCollection")
META = ("observedAt", "unitCode", "datasetId")
TOP = ("id", "type", "@context", "scope", "createdAt", "modifiedAt")
DT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")

# Examples that break the spec: (model, variant) -> (error type, member the detail must name).
BROKEN = {
    # "address" has "values" (no "value") and "location" is typed "Geoproperty"; the detail
    # names the first defect met. The Geoproperty alone is checked on a copy with address fixed.
    ("ConsumptionPoint", "normalized"): ("BadRequestData", ("address", "location")),
    # "dateObserved" is a Relationship whose object is a date, not a URI (RFC 3986 scheme).
    ("WaterObserved", "normalized"): ("BadRequestData", ("dateObserved",)),
}

S = None


# ---- helpers -----------------------------------------------------------------------------------

def link(url, extra=None):
    h = {"Link": '<%s>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
         % url}
    h.update(extra or {})
    return h


def problem(r, status, typ, members=None):
    """An NGSI-LD error: status, ProblemDetails with the type URI, detail naming a member."""
    st, h, doc = r
    check(st == status, "status %d, want %d: %r" % (st, status, doc))
    check(h.get("content-type", "").startswith("application/json"),
          "error content-type %r" % h.get("content-type"))
    check(isinstance(doc, dict) and doc.get("type") == ERR + typ,
          "error type %r, want %s" % (doc, typ))
    check(isinstance(doc.get("detail"), str), "problem lacks detail: %r" % doc)
    if members:
        check(any(re.search(r"(^|\W)%s(\W|$)" % re.escape(m), doc["detail"]) for m in members),
              "detail %r names none of %r" % (doc["detail"], members))
    return doc


def rewrite(text, form):
    """The @context URLs of a model in the given URL form (the other form rewritten)."""
    return URL_RE.sub(lambda m: form % (m.group(1) or m.group(2)), text)


def subject(ctx):
    for u in ctx if isinstance(ctx, list) else [ctx]:
        m = URL_RE.fullmatch(u) if isinstance(u, str) else None
        if m:
            return m.group(1) or m.group(2)
    raise AssertionError("no Smart Data Models context URL in %r" % ctx)


def is_geom(v):
    return isinstance(v, dict) and v.get("type") in GEOMS and (
        "coordinates" in v or "geometries" in v)


def interp(v):
    """An attribute written normalized or concise, as {kind, payload, meta, subs} (cl. 4.5)."""
    if isinstance(v, dict):
        t = v.get("type")
        key = None
        if isinstance(t, str) and t in KINDS:
            kind, key = t, KINDS[t]
        elif is_geom(v):
            return {"kind": "GeoProperty", "payload": v, "meta": {}, "subs": {}}
        elif t is None:
            for k, kd in VALUE_KEYS:
                if k in v:
                    key, kind = k, kd
                    if kd == "Property" and is_geom(v[k]):
                        kind = "GeoProperty"
                    break
        if key is None:  # compound value (e.g. {"type": "PostalAddress", ...})
            return {"kind": "Property", "payload": v, "meta": {}, "subs": {}}
        return {"kind": kind, "payload": v.get(key),
                "meta": dict((k, v[k]) for k in META if k in v),
                "subs": dict((k, interp(x)) for k, x in v.items()
                             if k not in ("type", key, "createdAt", "modifiedAt") + META)}
    return {"kind": "Property", "payload": v, "meta": {}, "subs": {}}


def instant(s):
    if not isinstance(s, str) or not DT_RE.match(s):
        return None
    try:
        d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d


def diff(a, b, path="$"):
    """None when a and b are the same value (numbers as floats, date-times as instants),
    else where and how they differ."""
    if isinstance(a, bool) or isinstance(b, bool):
        return None if a is b else "%s: %r != %r" % (path, a, b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return None if float(a) == float(b) else "%s: %r != %r" % (path, a, b)
    if isinstance(a, str) and isinstance(b, str):
        if a == b:
            return None
        ia, ib = instant(a), instant(b)
        return None if ia is not None and ia == ib else "%s: %r != %r" % (path, a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return "%s: members %r != %r" % (path, sorted(a), sorted(b))
        for k in a:
            d = diff(a[k], b[k], "%s.%s" % (path, k))
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return "%s: %d items != %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    return None if a == b and type(a) == type(b) else "%s: %r != %r" % (path, a, b)


def attr_diff(want, got, path):
    """Compare two interpreted attributes: kind, value/object, unitCode/observedAt, sub-attrs."""
    if want["kind"] != got["kind"]:
        return "%s: kind %s, want %s" % (path, got["kind"], want["kind"])
    d = diff(want["payload"], got["payload"], path)
    if d:
        return d
    d = diff(want["meta"], got["meta"], path)
    if d:
        return d
    if set(want["subs"]) != set(got["subs"]):
        return "%s: sub-attributes %r, want %r" % (path, sorted(got["subs"]), sorted(want["subs"]))
    for k in want["subs"]:
        d = attr_diff(want["subs"][k], got["subs"][k], path + "." + k)
        if d:
            return d
    return None


def attrs_of(e):
    return [k for k in e if k not in TOP]


def qpath(eid):
    return E + "/" + urllib.parse.quote(eid, safe=":")


class Ex:
    """One example file sent in one @context URL form."""

    def __init__(self, model, variant, fname, fname_form, form):
        self.model, self.variant, self.form = model, variant, form
        self.path = os.path.join(DM, model, fname)
        with open(self.path, "rb") as f:
            self.raw = f.read()
        self.text = rewrite(self.raw.decode("utf-8"), form)
        self.tenant = "dm-%s-%s" % (fname_form, "n" if variant == "normalized" else "kv")
        try:
            self.doc = json.loads(self.text)
        except ValueError:
            self.doc = None
        self.created = False

    def name(self, step):
        return "%s %s %s: %s" % (self.model, self.variant,
                                 "raw" if self.form == RAW else "github.io", step)

    def hdr(self, extra=None):
        h = {"NGSILD-Tenant": self.tenant}
        h.update(extra or {})
        return h

    @property
    def url(self):
        return self.form % subject(self.doc["@context"])

    def want(self):
        return dict((k, interp(self.doc[k])) for k in attrs_of(self.doc))

    def get(self, query="", eid=None):
        h = self.hdr(link(self.url, {"Accept": "application/ld+json"}))
        st, hh, doc = S.json("GET", qpath(eid or self.doc["id"]) + query, None, h)
        check(st == 200, "GET %s: status %d %r" % (query, st, doc))
        check(hh.get("content-type", "").startswith("application/ld+json"),
              "content-type %r" % hh.get("content-type"))
        check(isinstance(doc, dict) and "@context" in doc, "ld+json body lacks @context: %r" % doc)
        return doc

    def need(self):
        check(self.created, "not created (see the create case)")

    def query(self, params):
        qs = "&".join("%s=%s" % (k, urllib.parse.quote(v, safe="")) for k, v in params)
        st, h, doc = S.json("GET", E + "?" + qs, None, self.hdr(link(self.url)))
        check(st == 200 and isinstance(doc, list), "query %s: %d %r" % (qs, st, doc))
        return qs, doc


# ---- steps -------------------------------------------------------------------------------------

def t_create(x):
    sub = subject(x.doc["@context"])
    other = (GH if x.form == RAW else RAW) % sub
    check(x.form % sub in x.text and other not in x.text, "the copy sent keeps %s" % other)
    body = json.dumps(x.doc)
    st, h, doc = S.json("POST", E, body, x.hdr({"Content-Type": "application/ld+json"}))
    check(st == 201, "status %d, want 201: %r" % (st, doc))
    check(h.get("location") == qpath(x.doc["id"]) or
          urllib.parse.unquote(h.get("location", "")) == E + "/" + x.doc["id"],
          "Location %r" % h.get("location"))
    x.created = True


def compare_entity(x, got, interpret, what):
    check(got.get("id") == x.doc["id"], "%s id %r, want %r" % (what, got.get("id"), x.doc["id"]))
    check(got.get("type") == x.doc["type"], "%s type %r, want %r" % (what, got.get("type"),
                                                                     x.doc["type"]))
    want = x.want()
    check(set(attrs_of(got)) == set(want), "%s attributes: missing %r, extra %r" % (
        what, sorted(set(want) - set(attrs_of(got))), sorted(set(attrs_of(got)) - set(want))))
    for k, w in want.items():
        d = interpret(w, got[k], k)
        check(d is None, "%s %s" % (what, d))


def t_normalized(x):
    x.need()
    got = x.get()

    def norm(w, g, k):
        if not (isinstance(g, dict) and g.get("type") in KINDS):
            return "%s: not a normalized attribute: %r" % (k, g)
        return attr_diff(w, interp(g), k)
    compare_entity(x, got, norm, "normalized")


def t_concise(x):
    x.need()
    got = x.get("?format=concise")
    compare_entity(x, got, lambda w, g, k: attr_diff(w, interp(g), k), "concise")


def t_keyvalues(x):
    x.need()
    got = x.get("?options=keyValues")
    compare_entity(x, got, lambda w, g, k: diff(w["payload"], g, k), "keyValues")


def t_lossless(x):
    x.need()
    concise = x.get("?format=concise")
    copy_id = x.doc["id"] + "-copy"
    concise["id"] = copy_id
    st, h, doc = S.json("POST", E, json.dumps(concise),
                        x.hdr({"Content-Type": "application/ld+json"}))
    check(st == 201, "re-POST of the concise rendering: %d %r" % (st, doc))
    try:
        a = x.get()
        b = x.get(eid=copy_id)
        check(b.pop("id") == copy_id, "copy id")
        a.pop("id")
        for k in sorted(set(a) | set(b)):
            check(a.get(k) == b.get(k), "concise round trip changed %s: %r -> %r"
                  % (k, a.get(k), b.get(k)))
    finally:
        S.request("DELETE", qpath(copy_id), None, x.hdr())


def t_core_names(x):
    """No Link header: the core context alone; SDM terms come back as full IRIs (attribute,
    sub-attribute and type names), terms the SDM context does not define as they were."""
    x.need()
    st, h, got = S.json("GET", qpath(x.doc["id"]), None, x.hdr())
    check(st == 200, "GET without Link: %d %r" % (st, got))
    sub = subject(x.doc["@context"])
    with open(os.path.join(SDM, "dataModel.%s.context.jsonld" % sub)) as f:
        terms = json.load(f)["@context"]

    def names(term):
        """The names term may come back under with the core context only, most likely first."""
        v = terms.get(term)
        i = v.get("@id") if isinstance(v, dict) else v
        if i is None:  # not in the SDM context: default vocabulary, compacts back to the term
            return [term]
        if i.startswith(SDM_NS):
            return [i]
        # ETSI or Dublin Core IRIs: a core-context term, or the IRI
        return [term, i, "ngsi-ld:" + i[len("https://uri.etsi.org/ngsi-ld/"):]]

    def rename(a, g):
        """a (interpreted, original names) with its sub-attributes named as in g."""
        out = dict(a)
        out["subs"] = {}
        for k, v in a["subs"].items():
            n = ([n for n in names(k) if n in g["subs"]] or names(k))[0]
            out["subs"][n] = rename(v, g["subs"].get(n, {"subs": {}}))
        return out
    keys = set(attrs_of(got))
    expanded = 0
    for k in attrs_of(x.doc):
        cand = names(k)
        found = [n for n in cand if n in keys]
        check(len(found) == 1, "%s should come back as one of %r: %r" % (k, cand, sorted(keys)))
        expanded += found[0].startswith(SDM_NS)
        g = interp(got[found[0]])
        d = attr_diff(rename(interp(x.doc[k]), g), g, found[0])
        check(d is None, d)
    check(len(keys) == len(attrs_of(x.doc)), "%d attributes, want %d: %r" % (
        len(keys), len(attrs_of(x.doc)), sorted(keys)))
    want_type = names(x.doc["type"])[0]
    check(got.get("type") == want_type, "type %r, want %r" % (got.get("type"), want_type))
    if x.model == "AirQualityObserved":
        check(expanded > 0 and SDM_NS + "dataModel.Environment/no2" in keys,
              "no attribute expanded to a full Smart Data Models IRI: %r" % sorted(keys))


def t_query_type(x):
    x.need()
    qs, res = x.query([("type", x.doc["type"])])
    ids = [e.get("id") for e in res]
    check(x.doc["id"] in ids, "%s: %r lacks %s" % (qs, ids, x.doc["id"]))
    check(all(e.get("type") == x.doc["type"] for e in res), "%s: other types %r" % (
        qs, [e.get("type") for e in res]))


def pick_scalar(x):
    for k in attrs_of(x.doc):
        a = interp(x.doc[k])
        v = a["payload"]
        if a["kind"] != "Property" or isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            return k, repr(v)
        if isinstance(v, str) and '"' not in v and "\\" not in v:
            return k, '"%s"' % v
    return None, None


def t_query_q(x):
    x.need()
    k, lit = pick_scalar(x)
    check(k is not None, "no attribute with a scalar value")
    qs, res = x.query([("type", x.doc["type"]), ("q", "%s==%s" % (k, lit))])
    ids = [e.get("id") for e in res]
    check(x.doc["id"] in ids, "%s: %r lacks %s" % (qs, ids, x.doc["id"]))
    # the same attribute with another value must not match
    other = "%s==%s" % (k, repr(float(lit) + 1) if lit[0] != '"' else '"%s-not"' % lit[1:-1])
    qs, res = x.query([("type", x.doc["type"]), ("q", other)])
    check(x.doc["id"] not in [e.get("id") for e in res], "%s matched the entity" % qs)


def shift(geom, dlon, dlat):
    def mv(c):
        if c and isinstance(c[0], (int, float)):
            return [c[0] + dlon, c[1] + dlat] + list(c[2:])
        return [mv(y) for y in c]
    return {"type": geom["type"], "coordinates": mv(geom["coordinates"])}


def first_point(c):
    while c and not isinstance(c[0], (int, float)):
        c = c[0]
    return c


def t_query_geo(x):
    x.need()
    loc = interp(x.doc["location"]) if "location" in x.doc else None
    if loc is None or loc["kind"] != "GeoProperty":
        # no GeoProperty location: a geo-query right at the geometry a plain Property "location"
        # holds (DeviceMeasurement), or else covering the whole Earth, must not select it
        if loc and is_geom(loc["payload"]):
            p, dist = first_point(loc["payload"]["coordinates"])[:2], 1000
        else:
            p, dist = [0, 0], 20000000
        qs, res = x.query([("type", x.doc["type"]), ("georel", "near;maxDistance==%d" % dist),
                           ("geometry", "Point"), ("coordinates", json.dumps(p))])
        check(x.doc["id"] not in [e.get("id") for e in res],
              "%s selected an entity without a GeoProperty location" % qs)
        return
    g = loc["payload"]
    if g["type"] == "Polygon":
        near = [("georel", "intersects"), ("geometry", "Polygon"),
                ("coordinates", json.dumps(g["coordinates"]))]
        far = [("georel", "intersects"), ("geometry", "Polygon"),
               ("coordinates", json.dumps(shift(g, 10, 10)["coordinates"]))]
    else:
        p = first_point(g["coordinates"])
        near = [("georel", "near;maxDistance==1000"), ("geometry", "Point"),
                ("coordinates", json.dumps(p[:2]))]
        far = [("georel", "near;maxDistance==1000"), ("geometry", "Point"),
               ("coordinates", json.dumps([p[0], p[1] + 1 if p[1] < 80 else p[1] - 1]))]
    qs, res = x.query([("type", x.doc["type"])] + near)
    check(x.doc["id"] in [e.get("id") for e in res], "%s: %r lacks %s" % (
        qs, [e.get("id") for e in res], x.doc["id"]))
    qs, res = x.query([("type", x.doc["type"])] + far)
    check(x.doc["id"] not in [e.get("id") for e in res], "%s (1 degree / 10 degrees away) "
          "selected it" % qs)


def t_stays_property(x):
    """DeviceMeasurement: location and refDevice are plain Properties in the example."""
    x.need()
    got = x.get()
    for k in ("location", "refDevice"):
        check(x.doc[k]["type"] == "Property", "example changed? %s %r" % (k, x.doc[k]))
        check(got[k].get("type") == "Property" and diff(got[k]["value"], x.doc[k]["value"]) is None,
              "%s came back as %r, want %r" % (k, got[k], x.doc[k]))
    c = x.get("?format=concise")
    check(interp(c["location"])["kind"] == "Property",
          "concise location %r reads back as a GeoProperty" % c["location"])


def t_refused(x, typ, members):
    if x.doc is None:
        body = x.text.encode("utf-8")
    else:
        body = json.dumps(x.doc)
    problem(S.json("POST", E, body, x.hdr({"Content-Type": "application/ld+json"})), 400, typ,
            members)
    eid = x.doc["id"] if x.doc is not None else re.search(r'"id"\s*:\s*"([^"]+)"', x.text).group(1)
    st, _, doc = S.json("GET", qpath(eid), None, x.hdr())
    check(st == 404, "refused entity %s is stored: %d %r" % (eid, st, doc))


def t_geoproperty_case(x):
    """ConsumptionPoint normalized with only its "address" repaired (values -> value): the
    "Geoproperty" spelling alone is refused, naming location."""
    d = json.loads(json.dumps(x.doc))
    check(d["location"]["type"] == "Geoproperty" and "values" in d["address"], "example changed?")
    d["address"]["value"] = d["address"].pop("values")
    problem(S.json("POST", E, json.dumps(d), x.hdr({"Content-Type": "application/ld+json"})),
            400, "BadRequestData", ("location",))
    st, _, doc = S.json("GET", qpath(d["id"]), None, x.hdr(link(x.url)))
    check(st == 404, "refused entity is stored: %d %r" % (st, doc))


# ---- driver ------------------------------------------------------------------------------------

def cases():
    out = []
    models = sorted(m for m in os.listdir(DM)
                    if not m.startswith("_") and os.path.isdir(os.path.join(DM, m)))
    for model in models:
        for variant, fname in FILES:
            path = os.path.join(DM, model, fname)
            if not os.path.exists(path):
                out.append(("%s %s: example file" % (model, variant),
                            lambda p=path: check(False, "%s is missing" % p)))
                continue
            for tag, form in FORMS:
                x = Ex(model, variant, fname, tag, form)
                if x.doc is None:  # PointOfInterest/example.jsonld: a comma is missing
                    out.append((x.name("invalid JSON refused (400 InvalidRequest)"),
                                lambda x=x: t_refused(x, "InvalidRequest", None)))
                    continue
                if (model, variant) in BROKEN:
                    typ, members = BROKEN[(model, variant)]
                    out.append((x.name("refused (400 %s naming %s)" % (typ, "/".join(members))),
                                lambda x=x, t=typ, m=members: t_refused(x, t, m)))
                    if model == "ConsumptionPoint":
                        out.append((x.name("Geoproperty refused (400 naming location)"),
                                    lambda x=x: t_geoproperty_case(x)))
                    continue
                steps = [("create 201", t_create), ("retrieve normalized", t_normalized),
                         ("retrieve concise", t_concise), ("retrieve keyValues", t_keyvalues),
                         ("concise re-created losslessly", t_lossless),
                         ("core context only: full IRIs", t_core_names),
                         ("query type", t_query_type), ("query q", t_query_q),
                         ("query geo", t_query_geo)]
                if model == "DeviceMeasurement" and variant == "normalized":
                    steps.append(("location/refDevice stay Property", t_stays_property))
                for step, fn in steps:
                    out.append((x.name(step), lambda x=x, fn=fn: fn(x)))
    return out


if __name__ == "__main__":
    S = Server(extra=["--sdm-contexts", SDM]).start()
    try:
        for name, fn in cases():
            failed = vigielib.FAILED
            case(name, fn)
            if vigielib.FAILED > failed and S.proc:
                try:
                    S.proc.wait(0.3)  # a crash may still be under way
                except subprocess.TimeoutExpired:
                    pass
            if S.proc and S.proc.poll() is not None:  # a crash fails its case; go on
                print("# vigie died (%s), restarting on the same data:\n%s"
                      % (S.proc.returncode, S.tail(2000)))
                S.log.close()
                S.proc = None
                S.start()
    finally:
        S.cleanup()
    done()
