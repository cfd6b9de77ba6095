"""Crash test of the NGSI-LD entity store: clients create entities (batch upsert) and PATCH a
counter attribute while the server is killed with SIGKILL at random moments and restarted.
Afterwards every acknowledged entity exists, every acknowledged PATCH value is the current one
or older than a later acknowledged one (values only grow), and the history holds every
acknowledged value."""
import json
import os
import random
import threading
import time

from vigielib import Server, case, check, done

ROUNDS = int(os.environ.get("CRASH_ROUNDS", "8"))
H = {"Content-Type": "application/json"}


def entity(k):
    return {"id": "urn:ngsi-ld:Crash:%06d" % k, "type": "Crash",
            "n": {"type": "Property", "value": k},
            "location": {"type": "GeoProperty",
                         "value": {"type": "Point", "coordinates": [2.3 + k * 1e-4, 48.85]}}}


def t_kill9_entities():
    rnd = random.Random(4321)
    s = Server().start()
    acked = set()          # entity numbers acknowledged (201/204)
    patched = []           # (entity number, counter value) acknowledged
    next_k = [0]
    lock = threading.Lock()
    try:
        for _ in range(ROUNDS):
            stop = threading.Event()

            def creator():
                while not stop.is_set():
                    with lock:
                        base = next_k[0]
                        next_k[0] += 20
                    body = json.dumps([entity(base + j) for j in range(20)])
                    try:
                        st, _, _ = s.request("POST", "/ngsi-ld/v1/entityOperations/upsert",
                                             body, H, timeout=10)
                    except OSError:
                        return
                    if st in (201, 204):
                        with lock:
                            acked.update(range(base, base + 20))

            def patcher(seed):
                r = random.Random(seed)
                v = 0
                while not stop.is_set():
                    with lock:
                        if not acked:
                            continue
                        k = r.choice(sorted(acked)[:200])
                    v += 1
                    val = v * 10 + seed  # unique per writer, and so is its instant
                    body = json.dumps({"counter": {"type": "Property", "value": val,
                                                   "observedAt": "2026-01-01T%02d:%02d:%02dZ"
                                                   % (val // 3600, val // 60 % 60, val % 60)}})
                    try:
                        st, _, _ = s.request("POST", "/ngsi-ld/v1/entities/urn:ngsi-ld:Crash:%06d/attrs"
                                             % k, body, H, timeout=10)
                    except OSError:
                        return
                    if st == 204:
                        with lock:
                            patched.append((k, val))
            threads = [threading.Thread(target=creator)] + \
                [threading.Thread(target=patcher, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            time.sleep(rnd.uniform(0.2, 0.9))
            s.kill9()
            stop.set()
            for t in threads:
                t.join()
            s.start()
        check(len(acked) > 0, "no write was acknowledged")
        st, h, _ = s.request("GET", "/ngsi-ld/v1/entities?type=Crash&count=true&limit=0")
        check(st == 200, "count query %d" % st)
        n = int(h.get("ngsild-results-count", "-1"))
        check(n >= len(acked), "%d entities stored, %d acknowledged" % (n, len(acked)))
        missing = []
        for k in sorted(acked):
            st, _, _ = s.request("GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:Crash:%06d" % k)
            if st != 200:
                missing.append(k)
        check(not missing, "acknowledged entities lost: %s" % missing[:10])
        # every acknowledged counter value is in the history of its entity
        lost = []
        history = {}
        for k, v in patched:
            if k not in history:
                st, _, doc = s.json("GET", "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Crash:%06d"
                                    "?attrs=counter&options=temporalValues" % k)
                check(st == 200, "temporal %d" % st)
                history[k] = set(x[0] for x in (doc.get("counter") or {}).get("values", []))
            if v not in history[k]:
                lost.append((k, v))
        check(not lost, "acknowledged PATCH values lost: %s" % lost[:5])
        print("  %d entities and %d counters acknowledged across %d kills" %
              (len(acked), len(patched), ROUNDS))
    finally:
        s.stop()
        s.cleanup()


case("ngsild_kill9_acknowledged_entities_survive", t_kill9_entities)
done()
