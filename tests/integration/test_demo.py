"""vigie demo: the demo city is created through the ingest path, with seven days of history,
live data every 10 s, the real open-data samples, and nothing quarantined."""
import os
import re
import time

from vigielib import Server, case, check, done

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data")


def metric(s, name):
    st, _, body = s.request("GET", "/metrics")
    m = re.search(r"^%s (\d+)" % name, body.decode(), re.M)
    return int(m.group(1)) if m else None


def t_demo():
    extra = ["--samples", SAMPLES] if os.path.isdir(SAMPLES) else ["--samples", "/nonexistent"]
    s = Server(cmd="demo", extra=extra).start()
    try:
        deadline = time.time() + 240
        while time.time() < deadline and "values in" not in s.tail(10**6):
            time.sleep(0.5)
        check("values in" in s.tail(10**6), "backfill did not finish: " + s.tail())
        check(metric(s, "vigie_ingest_bad_lines_total") == 0, "demo lines were quarantined")
        counts = {}
        st, _, doc = s.json("GET", "/api/v1/latest?attr=location")
        for ser in doc["series"]:
            counts[ser["type"]] = counts.get(ser["type"], 0) + 1
        st, _, doc = s.json("GET", "/api/v1/latest?type=HeatingPlant&attr=supplyTemperature")
        check(len(doc["series"]) == 1200, "heating plants: %d" % len(doc["series"]))
        st, _, doc = s.json("GET", "/api/v1/latest?type=NoiseLevelObserved&attr=LAeq&where=kind:noise")
        nation = [x for x in doc["series"] if ":nation-" in x["id"]]
        check(len(nation) == 20, "noise meters at Nation: %d" % len(nation))
        check(all(30 < x["value"] < 110 for x in nation), "noise values")
        check(counts.get("WasteContainer") == 300, "bins with a location: %r" % counts)
        # seven days of history, hourly
        now = int(time.time() * 1000)
        sid = nation[0]["id"]
        st, _, doc = s.json("GET", "/api/v1/query?type=NoiseLevelObserved&id=%s&attr=LAeq&agg=avg"
                            "&every=1h&from=%d&to=%d" % (sid, now - 7 * 86400000, now))
        pts = doc["series"][0]["points"]
        check(len(pts) >= 7 * 24 - 8, "hourly points over 7 days: %d" % len(pts))
        # the README's example: without from/to an aggregate covers the last day
        st, _, doc = s.json("GET", "/api/v1/query?type=NoiseLevelObserved&attr=LAeq&agg=avg&every=1h")
        nat = [x for x in doc["series"] if ":nation-" in x["id"]]
        check(len(nat) == 20 and all(len(x["points"]) >= 23 for x in nat),
              "default range: %r" % [len(x["points"]) for x in nat])
        # trucks are geo points that move
        st, _, doc = s.json("GET", "/api/v1/query?type=Vehicle&attr=location&where=vehicleType:lorry"
                            "&from=%d&to=%d&limit=50" % (now - 7 * 86400000, now))
        check(len(doc["series"]) == 20, "trucks %d" % len(doc["series"]))
        p = doc["series"][0]["points"]
        check(len(p) == 50 and p[0][1] != p[-1][1] and 48.8 < p[0][1]["lat"] < 48.91, "truck moves")
        if os.path.isdir(SAMPLES):
            st, _, doc = s.json("GET", "/api/v1/query?type=AirQualityObserved"
                                "&id=urn:ngsi-ld:AirQualityObserved:FR50214&from=0")
            check(len(doc["series"]) >= 1 and doc["series"][0]["points"], "real Occitanie sample %r" % doc)
        # live: a new measurement within the next 25 s
        before = metric(s, "vigie_ingest_points_total")
        time.sleep(22)
        check(metric(s, "vigie_ingest_points_total") > before, "no live data after 22 s")
        check(s.stop() == 0, "clean stop")
    finally:
        s.cleanup()


case("demo_city_backfill_live_samples", t_demo)
done()
