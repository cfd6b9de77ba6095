"""Imports of business-software exports (docs/imports.md): every real file of ../shared/data
with its shipped mapping (row counts checked against the files, values checked in the store),
the summer-time changes, Windows-1252 accents, decimal commas, a re-import without duplicates,
broken rows quarantined with their reason, mapping errors, and POST /api/v1/imports."""
import csv
import json
import os
import re
import shutil
import tempfile
import urllib.parse

from vigielib import Server, case, check, cli, done

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))
MAPS = os.path.join(ROOT, "examples", "imports")
LAST = re.compile(r"^rows (\d+), stored (\d+), quarantined (\d+)$")

# (file, encoding, delimiter, header rows, rows the mapping quarantines, why)
FILES = {
    "air_quality_occitanie_paris/Mesure_72h_Region_Occitanie_Polluants_Principaux.csv":
        ("utf-8-sig", ",", 1, None, ""),  # None: occitanie_negatives() (schema minimum 0)
    "air_quality_occitanie_paris/PA13_2018.csv": ("utf-8", ";", 2, 0, ""),
    "madrid_noise/EstacionesMedidaOriginal.csv": ("latin-1", ";", 1, 0, ""),
    "madrid_noise/RuidoDiario2021Original.csv": ("utf-8-sig", ";", 1, 0, ""),
    "paris_comptage_velo/comptage-velo-donnees-compteurs.csv": ("utf-8", ";", 1, 0, ""),
    "paris_comptages_routiers/comptages-routiers-permanents-washington.head2000.csv":
        ("utf-8-sig", ";", 1, 0, ""),
    "paris_dansmarue/clustered_data.head2000.csv": ("utf-8", ",", 1, 0, ""),
}


def csv_rows(path, enc, sep, header_rows):
    with open(path, encoding=enc, newline="") as f:
        rows = [r for r in csv.reader(f, delimiter=sep) if r]
    return len(rows) - header_rows


def run_import(data, path, mapping, *extra, ok=True):
    r = cli("import", path, "--mapping", mapping, "--data", data, "--progress", "off", *extra,
            check=False)
    if ok:
        check(r.returncode == 0, "import %s: exit %d: %s" % (path, r.returncode, r.stderr))
        m = LAST.match(r.stdout.strip().splitlines()[-1])
        check(m, "last line %r" % r.stdout)
        return tuple(int(x) for x in m.groups()), r
    return None, r


def query(s, **kw):
    kw.setdefault("from", "1900-01-01T00:00:00Z")
    st, _, doc = s.json("GET", "/api/v1/query?" + urllib.parse.urlencode(kw))
    check(st == 200, "query %r: %d %r" % (kw, st, doc))
    return doc["series"]


def points(s, entity, attr):
    ser = query(s, id=entity, attr=attr)
    check(len(ser) == 1, "series of %s/%s: %r" % (entity, attr, ser))
    return ser[0]["points"]


def ms(iso):
    from datetime import datetime
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def occitanie_negatives(path):
    """Rows the AirQualityObserved schema refuses: a negative concentration (analysers report
    -0.8 ug/m3 around zero) of a pollutant whose schema says minimum 0 (every one but H2S)."""
    n = 0
    with open(path, encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            if r["nom_poll"] != "H2S" and float(r["valeur"]) < 0:
                n += 1
    return n


def t_every_real_file():
    data = tempfile.mkdtemp(prefix="vigie-imp-")
    try:
        for rel, (enc, sep, hdr, quarantined, _) in FILES.items():
            folder = rel.split("/")[0]
            path = os.path.join(SHARED, rel)
            (rows, stored, q), _ = run_import(data, path, os.path.join(MAPS, folder + ".json"))
            want = csv_rows(path, enc, sep, hdr)
            check(rows == want, "%s: rows %d, the file has %d" % (rel, rows, want))
            if quarantined is None:
                quarantined = occitanie_negatives(path)
                check(quarantined > 100, "the sample has negative NO/SO2 values")
            check(q == quarantined and stored + q == rows,
                  "%s: stored %d, quarantined %d of %d" % (rel, stored, q, rows))
        # every shipped mapping serves every file of its folder
        for folder in os.listdir(SHARED):
            if os.path.isdir(os.path.join(SHARED, folder)):
                check(os.path.exists(os.path.join(MAPS, folder + ".json")), "no mapping for " + folder)
        s = Server(data=data).start()
        try:
            st, _, qd = s.json("GET", "/api/v1/quarantine?limit=10000")
            neg = [i for i in qd["items"] if "Occitanie" in i["source"]]
            check(neg and all("below the schema minimum 0 (AirQualityObserved schema)" in i["reason"]
                              for i in neg), "occitanie quarantine reasons %r" % neg[:2])
            p = points(s, "urn:ngsi-ld:TrafficFlowObserved:paris-arc-4264", "intensity")
            check([1034.0] == [v for t, v in p if t == ms("2024-01-04T22:00:00+01:00")], "traffic %r" % p[:3])
            p = points(s, "urn:ngsi-ld:TrafficFlowObserved:paris-arc-4264", "occupancy")
            check(any(t == ms("2024-01-04T22:00:00+01:00") and abs(v - 0.2286333) < 1e-9 for t, v in p),
                  "occupancy scaled to 0..1")
            p = points(s, "urn:ngsi-ld:TrafficFlowObserved:paris-bike-100003096-353242251", "intensity")
            check(len(p) == 21 and p[0] == [ms("2021-09-01T03:00:00+02:00"), 3.0], "bikes %r" % p[:2])
            p = points(s, "urn:ngsi-ld:AirQualityObserved:FR50214", "pm10")
            check([ms("2020-03-16T19:00:00Z"), 17.8] in p, "occitanie pivot %r" % p[:3])
            p = points(s, "urn:ngsi-ld:AirQualityObserved:airparif-PA13", "no2")
            check(p[0] == [ms("2018-01-01T00:00:00Z"), 9.0], "PA13 hour 1 of 01/01 = 00:00Z %r" % p[:2])
            check(p[23][0] == ms("2018-01-01T23:00:00Z"), "PA13 hour 24 = next day 00:00 local %r" % p[23])
            p = points(s, "urn:ngsi-ld:NoiseLevelObserved:madrid-1", "LAeq_T")
            check(p[0] == [ms("2020-12-31T23:00:00Z"), 63.3], "madrid day in Madrid time %r" % p[:2])
            p = points(s, "urn:ngsi-ld:NoiseLevelObserved:madrid-1", "name")
            check(p[0][1] == "P\u00ba Recoletos", "Latin-1 station name %r" % p)
            st, _, e = s.json("GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:NoiseLevelObserved:madrid-1")
            check(st == 200 and e["location"]["value"]["coordinates"] == [-3.6919264, 40.42262], "location %r" % e)
            st, _, h = s.json("GET", "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:AirQualityObserved:FR50214"
                              "?attrs=pm10&lastN=1")
            check(st == 200 and h["pm10"][0].get("unitCode") == "GQ", "unit code %r" % h)
            # Dans Ma Rue: one entity per report
            with open(os.path.join(SHARED, "paris_dansmarue/clustered_data.head2000.csv"), newline="") as f:
                ids = {r["id_dmr"] for r in csv.DictReader(f)}
            st, h, _ = s.json("GET", "/ngsi-ld/v1/entities?type=ServiceRequest&count=true&limit=1")
            check(int(h.get("ngsild-results-count", "-1")) == len(ids), "reports %r vs %d" % (h, len(ids)))
        finally:
            s.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)


def write_case(tmp, name, content, mapping):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(content)
    mpath = os.path.join(tmp, name + ".json")
    with open(mpath, "w") as f:
        json.dump(mapping, f)
    return path, mpath


def t_dst_and_cp1252():
    tmp = tempfile.mkdtemp(prefix="vigie-imp-")
    data = os.path.join(tmp, "data")
    try:
        body = ("capteur;horodatage;niveau;commentaire\r\n"
                "A;31/03/2024 01:30;10,5;Co\u00fbt 12\u20ac \u00e0 l\u2019\u00e9t\u00e9\r\n"
                "A;31/03/2024 02:30;11,5;n'existe pas\r\n"
                "A;31/03/2024 03:30;12,5;\r\n"
                "A;27/10/2024 02:30;13,5;premier passage\r\n"
                "A;27/10/2024 03:30;14,5;\r\n").encode("cp1252")
        mapping = {"files": [{"match": "*.csv", "encoding": "WINDOWS-1252", "delimiter": ";",
                              "decimal": ",", "type": "Sonometre", "id": "urn:ngsi-ld:Sonometre:{capteur}",
                              "time": {"column": "horodatage", "format": "%d/%m/%Y %H:%M", "zone": "Europe/Paris"},
                              "attributes": [{"column": "niveau", "name": "LAeq", "type": "number", "unit": "2N"},
                                             {"column": "commentaire", "name": "note", "type": "string"}]}]}
        path, mpath = write_case(tmp, "dst.csv", body, mapping)
        (rows, stored, q), r = run_import(data, path, mpath)
        check((rows, stored, q) == (5, 4, 1), "counts %r: %s" % ((rows, stored, q), r.stderr))
        check("summer-time gap" in r.stderr, "reason of the gap row: %r" % r.stderr)
        s = Server(data=data).start()
        try:
            p = points(s, "urn:ngsi-ld:Sonometre:A", "LAeq")
            want = [[ms("2024-03-31T00:30:00Z"), 10.5], [ms("2024-03-31T01:30:00Z"), 12.5],
                    [ms("2024-10-27T00:30:00Z"), 13.5], [ms("2024-10-27T02:30:00Z"), 14.5]]
            check(p == want, "DST instants %r" % p)
            p = points(s, "urn:ngsi-ld:Sonometre:A", "note")
            check(p[0][1] == "Co\u00fbt 12\u20ac \u00e0 l\u2019\u00e9t\u00e9", "Windows-1252 text %r" % p[0])
            st, _, qd = s.json("GET", "/api/v1/quarantine")
            text = json.dumps(qd)
            check("import:dst.csv" in text and "02:30" in text, "quarantine lists the row %r" % qd)
        finally:
            s.stop()
        # the later occurrence on request
        mapping["files"][0]["time"]["later"] = True
        path, mpath = write_case(tmp, "dst2.csv", body, mapping)
        data2 = os.path.join(tmp, "data2")
        run_import(data2, path, mpath)
        s = Server(data=data2).start()
        try:
            p = points(s, "urn:ngsi-ld:Sonometre:A", "LAeq")
            check([ms("2024-10-27T01:30:00Z"), 13.5] in p, "later occurrence %r" % p)
        finally:
            s.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def t_reimport_no_duplicates():
    data = tempfile.mkdtemp(prefix="vigie-imp-")
    try:
        path = os.path.join(SHARED, "paris_comptage_velo/comptage-velo-donnees-compteurs.csv")
        mp = os.path.join(MAPS, "paris_comptage_velo.json")
        first, _ = run_import(data, path, mp)
        again, _ = run_import(data, path, mp)
        check(first == again == (21, 21, 0), "counts %r %r" % (first, again))
        s = Server(data=data).start()
        try:
            p = points(s, "urn:ngsi-ld:TrafficFlowObserved:paris-bike-100003096-353242251", "intensity")
            check(len(p) == 21, "points after two imports: %d" % len(p))
        finally:
            s.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)


def t_broken_rows():
    tmp = tempfile.mkdtemp(prefix="vigie-imp-")
    data = os.path.join(tmp, "data")
    try:
        body = (b"id,t,v\n"
                b"a,2024-01-01T00:00:00Z,1\n"
                b"b,2024-01-01T00:00:00Z,not-a-number\n"
                b",2024-01-01T00:00:00Z,3\n"
                b"c,yesterday,4\n"
                b"d,2024-01-01T00:00:00Z,\"5\"x\n"
                b"e,2024-01-01T00:00:00Z,6\n")
        mapping = {"files": [{"match": "*.csv", "type": "Probe", "id": "urn:ngsi-ld:Probe:{id}",
                              "time": {"column": "t"}, "attributes": [{"column": "v", "type": "number"}]}]}
        path, mpath = write_case(tmp, "broken.csv", body, mapping)
        (rows, stored, q), r = run_import(data, path, mpath)
        check((rows, stored, q) == (6, 2, 4), "counts %r" % ((rows, stored, q),))
        for reason in ("not a number", "id", "does not match", "malformed CSV"):
            check(reason in r.stderr, "reason %r missing from %r" % (reason, r.stderr))
        s = Server(data=data).start()
        try:
            st, _, qd = s.json("GET", "/api/v1/quarantine?source=import:broken.csv")
            text = json.dumps(qd)
            check(st == 200 and "not-a-number" in text and "yesterday" in text, "quarantine %r" % qd)
        finally:
            s.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def t_mapping_errors():
    tmp = tempfile.mkdtemp(prefix="vigie-imp-")
    try:
        path, mpath = write_case(tmp, "x.csv", b"a,b\n1,2\n", {"files": []})
        with open(mpath, "w") as f:
            f.write('{"files": [ {"match": "*.csv",, } ]}')
        _, r = run_import(os.path.join(tmp, "d"), path, mpath, ok=False)
        check(r.returncode == 2 and "line 1" in r.stderr, "invalid JSON: %d %r" % (r.returncode, r.stderr))
        mapping = {"files": [{"match": "*.csv", "type": "T", "id": "urn:x:{nosuch}", "time": {"column": "a"},
                              "attributes": [{"column": "b"}]}]}
        path, mpath = write_case(tmp, "x.csv", b"a,b\n1,2\n", mapping)
        _, r = run_import(os.path.join(tmp, "d"), path, mpath, ok=False)
        check(r.returncode == 2 and "nosuch" in r.stderr, "missing column: %d %r" % (r.returncode, r.stderr))
        mapping["files"][0]["match"] = "*.txt"
        path, mpath = write_case(tmp, "x.csv", b"a,b\n1,2\n", mapping)
        _, r = run_import(os.path.join(tmp, "d"), path, mpath, ok=False)
        check(r.returncode == 2 and "matches" in r.stderr, "no section: %d %r" % (r.returncode, r.stderr))
        mapping = {"files": [{"match": "*.csv", "type": "T", "id": "{a}", "time": {"column": "a"},
                              "attributes": [{"column": "b", "type": "float"}]}]}
        path, mpath = write_case(tmp, "x.csv", b"a,b\n1,2\n", mapping)
        _, r = run_import(os.path.join(tmp, "d"), path, mpath, ok=False)
        check(r.returncode == 2 and "attributes[0].type" in r.stderr, "bad type: %r" % r.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def t_http_upload():
    s = Server(extra=["--mappings", MAPS]).start()
    try:
        path = os.path.join(SHARED, "madrid_noise/RuidoDiario2021Original.csv")
        with open(path, "rb") as f:
            body = f.read()
        st, _, doc = s.json("POST", "/api/v1/imports?mapping=madrid_noise&filename=RuidoDiario2021Original.csv",
                            body, {"Content-Type": "text/csv"})
        check(st == 200 and doc["rows"] == 3587 and doc["stored"] == 3587 and doc["quarantined"] == 0,
              "upload %d %r" % (st, doc))
        check(len(points(s, "urn:ngsi-ld:NoiseLevelObserved:madrid-1", "LAeq_T")) == 31, "January days")
        st, h, doc = s.json("POST", "/api/v1/imports?mapping=nosuch&filename=a.csv", b"x")
        check(st == 404 and h.get("content-type", "").startswith("application/problem+json"), "404 %r" % doc)
        st, _, doc = s.json("POST", "/api/v1/imports?mapping=madrid_noise&filename=other.csv", b"x")
        check(st == 422 and "other.csv" in doc.get("detail", ""), "422 %r" % doc)
        st, _, doc = s.json("POST", "/api/v1/imports?mapping=../etc&filename=a.csv", b"x")
        check(st == 400, "path in the mapping name %d" % st)
    finally:
        s.stop()
        s.cleanup()


def t_replay_after_mapping_fix():
    """A row quarantined by a mapping that types a column wrongly is stored once the mapping
    is fixed and the quarantine replayed on the running server (POST /api/v1/quarantine/replay);
    a row that still fails stays, with its new reason."""
    maps = tempfile.mkdtemp(prefix="vigie-maps-")
    s = Server(extra=["--mappings", maps])
    try:
        def mapping(name, typ):
            with open(os.path.join(maps, name + ".json"), "w") as f:
                json.dump({"files": [{"match": "*.csv", "delimiter": ";", "type": "WaterMeter",
                                      "id": "urn:ngsi-ld:WaterMeter:{meter}",
                                      "time": {"column": "t", "format": "iso8601"},
                                      "attributes": [{"column": "v", "name": "volume",
                                                      "type": typ}]}]}, f)
        mapping("meters_v1", "integer")
        mapping("meters_v2", "number")
        s.start()
        body = ("meter;t;v\nm1;2026-01-01T00:00:00Z;12\nm2;2026-01-01T00:00:00Z;12.5\n"
                "m3;2026-01-01T00:00:00Z;lots\n").encode()
        st, _, doc = s.json("POST", "/api/v1/imports?mapping=meters_v1&filename=m.csv", body)
        check(st == 200 and doc["stored"] == 1 and doc["quarantined"] == 2, "import %r" % doc)
        st, _, doc = s.json("POST", "/api/v1/quarantine/replay?mapping=meters_v2")
        check(st == 200 and doc["replayed"] == 2 and doc["stored"] == 1
              and doc["quarantined"] == 1, "replay %d %r" % (st, doc))
        check(points(s, "urn:ngsi-ld:WaterMeter:m2", "volume") == [[ms("2026-01-01T00:00:00Z"), 12.5]],
              "replayed row stored")
        st, _, q = s.json("GET", "/api/v1/quarantine")
        check(q["total"] == 1 and "lots" in q["items"][0]["raw"], "one row left %r" % q)
        st, _, doc = s.json("POST", "/api/v1/quarantine/replay?mapping=../x")
        check(st == 400, "path in the mapping name %d" % st)
    finally:
        s.stop()
        s.cleanup()
        shutil.rmtree(maps, ignore_errors=True)


case("every file of ../shared/data with its shipped mapping: rows and values", t_every_real_file)
case("summer-time gap quarantined, overlap first/later, Windows-1252, decimal comma", t_dst_and_cp1252)
case("re-importing a file stores no duplicates", t_reimport_no_duplicates)
case("broken rows quarantined with their reason, good rows kept", t_broken_rows)
case("mapping errors: invalid JSON, unknown column, no section, bad type", t_mapping_errors)
case("POST /api/v1/imports: upload, 404, 422, 400", t_http_upload)
case("replay after the mapping is fixed (POST /api/v1/quarantine/replay)", t_replay_after_mapping_fix)
done()
