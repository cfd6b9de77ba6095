#!/usr/bin/env python3
"""bench/ngsild_load.py: client side of `make bench-ngsild` (Python 3 stdlib only).

Subcommands, each printing one JSON object on stdout (errors on stderr, exit status 1):

  upsert    POST /ngsi-ld/v1/entityOperations/upsert: N city entities in batches of --batch,
            from --procs client processes. Every body is generated (and JSON-encoded) before
            the clock starts; the processes start together on a barrier and each sends the
            batches p, p+P, p+2P... over one persistent connection. Two passes over the same
            bodies: "create" (every entity new: 201 + the array of created ids) and "replace"
            (every entity exists: 204). Writes the AirQualityObserved ids to --ids-out (one a
            line, for the wrk Lua script).
  temporal  POST /write?db=ngsild&precision=ms: one LAeq value every --step s for --days days
            for the T NoiseLevelObserved entities of the upsert (same ids: the line-protocol
            `id` tag names the NGSI-LD entity), lines in time order, batches of --batch lines
            pre-generated before the clock starts, --procs processes. Writes the exact hourly
            averages of entity n0000 to --expect-out.
  query     GET one path --warmup + --runs times over one persistent connection; client-side
            latency (request sent -> whole body read). Checks the status and the answer
            (--check: entities=N | entities-max=N | temporal-one | temporal-all).

The entity set (index i in [0, N)): every (N/T)-th entity is NoiseLevelObserved n<k:04d>
(k = i / (N/T), T = --noise), then by i % 5: 0-2 AirQualityObserved aq<i:06d>, 3-4
TrafficFlowObserved tf<i:06d>. Locations are uniform in Paris' box (48.80-48.90 N,
2.25-2.42 E); NO2 is uniform in [5, 80) (so NO2>40 matches about 53 %). All observedAt of the
upsert are on 2024-02-01, after the temporal window (2024-01-01 + --days).
"""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import time

LD = '/ngsi-ld/v1'
T0_MS = 1704067200000  # 2024-01-01T00:00:00Z: start of the temporal history
UPSERT_DAY = '2024-02-01'


# ---- entities -------------------------------------------------------------------------------
def entity(i, n, noise, rnd):
    """The i-th entity (normalized NGSI-LD, default context)."""
    every = max(1, n // noise) if noise else 0
    sec = i % 86400
    obs = '%sT%02d:%02d:%02dZ' % (UPSERT_DAY, sec // 3600, sec // 60 % 60, sec % 60)
    lon = round(2.25 + rnd.random() * 0.17, 6)
    lat = round(48.80 + rnd.random() * 0.10, 6)
    loc = {'type': 'GeoProperty', 'value': {'type': 'Point', 'coordinates': [lon, lat]}}
    addr = {'type': 'Property', 'value': {'addressLocality': 'Paris', 'addressCountry': 'FR',
                                          'postalCode': '750%02d' % (1 + i % 20)}}
    date = {'type': 'Property', 'value': {'@type': 'DateTime', '@value': obs}}

    def num(v, unit):
        return {'type': 'Property', 'value': round(v, 1), 'unitCode': unit, 'observedAt': obs}
    if every and i % every == 0 and i // every < noise:
        return {'id': 'urn:ngsi-ld:NoiseLevelObserved:n%04d' % (i // every),
                'type': 'NoiseLevelObserved', 'dateObserved': date,
                'LAeq': num(45 + rnd.random() * 30, '2N'), 'LAmax': num(60 + rnd.random() * 30, '2N'),
                'LA90': num(35 + rnd.random() * 20, '2N'), 'location': loc, 'address': addr}
    if i % 5 < 3:
        return {'id': 'urn:ngsi-ld:AirQualityObserved:aq%06d' % i, 'type': 'AirQualityObserved',
                'dateObserved': date, 'NO2': num(5 + rnd.random() * 75, 'GQ'),
                'PM10': num(5 + rnd.random() * 60, 'GQ'), 'PM2_5': num(2 + rnd.random() * 40, 'GQ'),
                'O3': num(10 + rnd.random() * 100, 'GQ'), 'temperature': num(-5 + rnd.random() * 35, 'CEL'),
                'location': loc, 'address': addr}
    return {'id': 'urn:ngsi-ld:TrafficFlowObserved:tf%06d' % i, 'type': 'TrafficFlowObserved',
            'dateObserved': date, 'intensity': num(rnd.random() * 120, 'E50'),
            'averageVehicleSpeed': num(10 + rnd.random() * 50, 'KMH'),
            'occupancy': num(rnd.random(), 'C62'),
            'laneId': {'type': 'Property', 'value': 1 + i % 4}, 'location': loc, 'address': addr}


def make_upsert_bodies(args, p):
    """The bodies of process p: batches p, p+P, ... (deterministic: one RNG per batch)."""
    out = []
    nb = (args.entities + args.batch - 1) // args.batch
    for b in range(p, nb, args.procs):
        rnd = random.Random(args.seed * 1000003 + b)
        lo, hi = b * args.batch, min(args.entities, (b + 1) * args.batch)
        ents = [entity(i, args.entities, args.noise, rnd) for i in range(lo, hi)]
        out.append((hi - lo, json.dumps(ents, separators=(',', ':')).encode()))
    return out


# ---- sending --------------------------------------------------------------------------------
def post_all(args, bodies, path, ctype, ok_status, check_created, barrier, q):
    """Worker: waits on the barrier, POSTs its bodies, puts (start, end, error|None, statuses)."""
    conn = http.client.HTTPConnection('127.0.0.1', args.port, timeout=600)
    conn.connect()
    hdrs = {'Content-Type': ctype, 'Connection': 'keep-alive'}
    statuses, err = {}, None
    barrier.wait()
    t0 = time.time()
    try:
        for count, body in bodies:
            conn.request('POST', path, body=body, headers=hdrs)
            r = conn.getresponse()
            rb = r.read()
            statuses[r.status] = statuses.get(r.status, 0) + 1
            if r.status not in ok_status:
                err = 'HTTP %d (expected %s): %s' % (r.status, '/'.join(map(str, ok_status)),
                                                     rb[:400].decode('utf-8', 'replace'))
                break
            if check_created and r.status == 201:
                ids = json.loads(rb)
                if not isinstance(ids, list) or len(ids) != count:
                    err = '201 body lists %s ids, batch has %d entities: %s' % (
                        len(ids) if isinstance(ids, list) else 'no', count, rb[:200])
                    break
    except Exception as e:  # connection reset, timeout...
        err = '%s: %s' % (type(e).__name__, e)
    t1 = time.time()
    conn.close()
    q.put((t0, t1, err, statuses))


def proc_cpu_s(pid):
    """utime + stime of process PID (all its threads), in seconds; 0 if unknown."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError, IndexError):
        return 0.0


def run_pass(args, per_proc, path, ctype, ok_status, check_created=False):
    """Sends per_proc[p] from process p; returns (seconds, errors, statuses, server cpu s)."""
    ctx = mp.get_context('fork')
    barrier, q = ctx.Barrier(len(per_proc) + 1), ctx.Queue()  # + this process
    ps = [ctx.Process(target=post_all, args=(args, b, path, ctype, ok_status, check_created,
                                             barrier, q)) for b in per_proc]
    for p in ps:
        p.start()
    cpu0 = proc_cpu_s(args.server_pid)
    barrier.wait()
    res = [q.get() for _ in ps]
    cpu = proc_cpu_s(args.server_pid) - cpu0
    for p in ps:
        p.join()
    secs = max(r[1] for r in res) - min(r[0] for r in res)
    errors = [r[2] for r in res if r[2]]
    statuses = {}
    for r in res:
        for k, v in r[3].items():
            statuses[str(k)] = statuses.get(str(k), 0) + v
    return secs, errors, statuses, cpu


def gen_in_procs(fn, args):
    """Runs fn(args, p) for p in range(procs) in parallel processes; returns the results."""
    with mp.get_context('fork').Pool(args.procs) as pool:
        return pool.starmap(fn, [(args, p) for p in range(args.procs)])


def cmd_upsert(args):
    g0 = time.perf_counter()
    per_proc = gen_in_procs(make_upsert_bodies, args)
    gen_s = time.perf_counter() - g0
    nbytes = sum(len(b) for pp in per_proc for _, b in pp)
    if args.ids_out:  # AirQualityObserved ids, for wrk
        with open(args.ids_out, 'w') as f:
            for pp in per_proc:
                for _, body in pp:
                    for e in json.loads(body):
                        if e['type'] == 'AirQualityObserved':
                            f.write(e['id'] + '\n')
    out = {'entities': args.entities, 'batch': args.batch, 'procs': args.procs,
           'body_mb': round(nbytes / 1e6, 1), 'generate_s': round(gen_s, 2)}
    rc = 0
    for name, ok in (('create', (201,)), ('replace', (204,))):
        secs, errors, statuses, cpu = run_pass(args, per_proc, LD + '/entityOperations/upsert',
                                               'application/json', ok, check_created=True)
        out[name] = {'seconds': round(secs, 3), 'entities_per_s': round(args.entities / secs),
                     'server_cpu_s': round(cpu, 2), 'statuses': statuses, 'errors': errors}
        if errors:
            print('ngsild_load: upsert %s: %s' % (name, errors[0]), file=sys.stderr)
            rc = 1
    print(json.dumps(out))
    return rc


# ---- temporal history -----------------------------------------------------------------------
def deci_db(e, k):
    """LAeq of entity e at step k, in tenths of dB: a per-entity level, a daily cycle, jitter."""
    steps_day = 288
    h = (k % steps_day) * 24.0 / steps_day
    daily = 0 if h < 6 else (60 if h < 20 else 20)
    return 500 + (e * 37) % 150 + daily + ((e * 131 + k * 7919) % 97) - 48


def make_lp_batches(args, p):
    steps = args.days * 86400 // args.step
    prefix = [('NoiseLevelObserved,id=urn:ngsi-ld:NoiseLevelObserved:n%04d LAeq=' % e).encode()
              for e in range(args.noise)]
    val = [('%d.%d' % (d // 10, d % 10)).encode() for d in range(2000)]
    out = []
    per_step = args.noise
    total = steps * per_step
    # batch b holds lines [b*batch, (b+1)*batch) of the time-ordered file
    nbatches = (total + args.batch - 1) // args.batch
    for b in range(p, nbatches, args.procs):
        lo, hi = b * args.batch, min(total, (b + 1) * args.batch)
        buf = []
        for j in range(lo, hi):
            k, e = divmod(j, per_step)
            buf.append(b'%s%s %d\n' % (prefix[e], val[deci_db(e, k)], T0_MS + k * args.step * 1000))
        out.append((hi - lo, b''.join(buf)))
    return out


def cmd_temporal(args):
    g0 = time.perf_counter()
    per_proc = gen_in_procs(make_lp_batches, args)
    gen_s = time.perf_counter() - g0
    points = sum(c for pp in per_proc for c, _ in pp)
    secs, errors, statuses, cpu = run_pass(args, per_proc, '/write?db=ngsild&precision=ms',
                                           'text/plain; charset=utf-8', (204,))
    # exact hourly averages of n0000 (what the aggregated query must answer)
    per_hour = 3600 // args.step
    steps = args.days * 86400 // args.step
    hours = [sum(deci_db(0, k) for k in range(h * per_hour, (h + 1) * per_hour)) / 10.0 / per_hour
             for h in range(steps // per_hour)]
    with open(args.expect_out, 'w') as f:
        json.dump({'entity': 'urn:ngsi-ld:NoiseLevelObserved:n0000', 'entities': args.noise,
                   'start_ms': T0_MS, 'hourly_avg': hours}, f)
    out = {'points': points, 'entities': args.noise, 'days': args.days,
           'body_mb': round(sum(len(b) for pp in per_proc for _, b in pp) / 1e6, 1),
           'generate_s': round(gen_s, 2), 'seconds': round(secs, 3),
           'points_per_s': round(points / secs), 'server_cpu_s': round(cpu, 2),
           'statuses': statuses, 'errors': errors}
    print(json.dumps(out))
    if errors:
        print('ngsild_load: temporal: %s' % errors[0], file=sys.stderr)
        return 1
    return 0


# ---- queries --------------------------------------------------------------------------------
def check_temporal_entity(e, exp, name):
    """Problems of one aggregated temporal entity against the expected hourly buckets."""
    attr = e.get('LAeq')
    if not isinstance(attr, dict) or not isinstance(attr.get('avg'), list):
        return 'no LAeq.avg in %s' % json.dumps(e)[:200]
    avg = attr['avg']
    if len(avg) != len(exp['hourly_avg']):
        return '%s: %d buckets, expected %d' % (name, len(avg), len(exp['hourly_avg']))
    if e.get('id') != exp['entity']:
        return None  # only the bucket count is known for the other entities
    for h, (got, want) in enumerate(zip(avg, exp['hourly_avg'])):
        if not isinstance(got, list) or abs(got[0] - want) > 1e-6 * max(1.0, abs(want)):
            return '%s: bucket %d is %s, expected %.6f' % (name, h, json.dumps(got), want)
    return None


def check_answer(kind, body, exp):
    try:
        doc = json.loads(body)
    except ValueError:
        return 'body is not JSON: %r' % body[:200]
    if kind.startswith('entities'):
        want = int(kind.split('=')[1])
        if not isinstance(doc, list):
            return 'not an array: %r' % body[:200]
        if kind.startswith('entities=') and len(doc) != want:
            return '%d entities, expected %d' % (len(doc), want)
        if len(doc) > want:
            return '%d entities, expected at most %d' % (len(doc), want)
        return None
    if kind == 'temporal-one':
        if not isinstance(doc, dict):
            return 'not an object: %r' % body[:200]
        return check_temporal_entity(doc, exp, doc.get('id'))
    if kind == 'temporal-all':
        if not isinstance(doc, list) or len(doc) != exp['entities']:
            return '%s entities, expected %d' % (len(doc) if isinstance(doc, list) else 'no',
                                                 exp['entities'])
        ids = set()
        for e in doc:
            ids.add(e.get('id'))
            err = check_temporal_entity(e, exp, e.get('id'))
            if err:
                return err
        if exp['entity'] not in ids:
            return '%s missing from the answer' % exp['entity']
        return None
    return None


def cmd_query(args):
    exp = None
    if args.expect:
        with open(args.expect) as f:
            exp = json.load(f)
    conn = http.client.HTTPConnection('127.0.0.1', args.port, timeout=120)
    times, status, body = [], None, b''
    for i in range(args.warmup + args.runs):
        t0 = time.perf_counter()
        conn.request('GET', args.path, headers={'Connection': 'keep-alive'})
        r = conn.getresponse()
        body = r.read()
        dt = time.perf_counter() - t0
        status = r.status
        if status != args.status:
            print('ngsild_load: %s: HTTP %d (expected %d): %s' % (
                args.name, status, args.status, body[:400].decode('utf-8', 'replace')),
                file=sys.stderr)
            print(json.dumps({'name': args.name, 'path': args.path, 'status': status,
                              'error': 'HTTP %d' % status}))
            return 1
        if i >= args.warmup:
            times.append(dt * 1000.0)
    err = check_answer(args.check, body, exp) if args.check else None
    n = None
    try:
        doc = json.loads(body)
        n = len(doc) if isinstance(doc, list) else 1
    except ValueError:
        pass
    times.sort()
    out = {'name': args.name, 'path': args.path, 'status': status, 'runs': args.runs,
           'p50_ms': round(statistics.median(times), 3),
           'p90_ms': round(times[min(len(times) - 1, int(len(times) * 0.9))], 3),
           'min_ms': round(times[0], 3), 'results': n, 'bytes': len(body), 'error': err}
    print(json.dumps(out))
    if err:
        print('ngsild_load: %s: wrong answer: %s' % (args.name, err), file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    for name in ('upsert', 'temporal', 'query'):
        s = sub.add_parser(name)
        s.add_argument('--port', type=int, required=True)
        if name != 'query':
            s.add_argument('--entities', type=int, default=100000)
            s.add_argument('--noise', type=int, default=1000, help='NoiseLevelObserved entities')
            s.add_argument('--procs', type=int, default=2)
            s.add_argument('--seed', type=int, default=42)
            s.add_argument('--server-pid', type=int, default=0, help='to report its CPU time')
    s = sub.choices['upsert']
    s.add_argument('--batch', type=int, default=1000)
    s.add_argument('--ids-out')
    s = sub.choices['temporal']
    s.add_argument('--batch', type=int, default=10000)
    s.add_argument('--days', type=int, default=30)
    s.add_argument('--step', type=int, default=300, help='seconds between points')
    s.add_argument('--expect-out', required=True)
    s = sub.choices['query']
    s.add_argument('--name', required=True)
    s.add_argument('--path', required=True)
    s.add_argument('--runs', type=int, default=50)
    s.add_argument('--warmup', type=int, default=5)
    s.add_argument('--status', type=int, default=200)
    s.add_argument('--check', help='entities=N, entities-max=N, temporal-one, temporal-all')
    s.add_argument('--expect', help='the JSON written by `temporal --expect-out`')
    a = ap.parse_args()
    return {'upsert': cmd_upsert, 'temporal': cmd_temporal, 'query': cmd_query}[a.cmd](a)


if __name__ == '__main__':
    sys.exit(main())
