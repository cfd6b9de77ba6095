#!/usr/bin/env python3
"""bench/query.py: query latency and answer check of `make bench` (Python 3 stdlib only).

For one system (vigie, influxdb or victoriametrics) runs the three benchmark queries over one
persistent HTTP connection, each --warmup times then --runs times, and reports the median
client-side latency (request sent -> whole body read; JSON decoding is not timed):
  (a) hourly average of one noise sensor over the whole range,
  (b) hourly average of every noise sensor of one district, one series per sensor,
  (c) latest value of every series.
The answers of the last run are normalised and compared with the exact answers computed by
bench/gen.c (--expect): one "WARNING" line on stderr for each mismatch. Writes a JSON object
{"a_ms","b_ms","c_ms","checks":{...},"warnings":[...]} to --out. --queries selects a subset
(the 30-day phase runs only "a": 720 hourly buckets over the whole range of its data file).
"""
import argparse
import http.client
import json
import statistics
import sys
import time
import urllib.parse

REL_TOL = 1e-6   # averages of the same decimal values: only float summation order differs
ABS_TOL = 1e-9


def close(x, y):
    return abs(x - y) <= max(ABS_TOL, REL_TOL * max(abs(x), abs(y)))


class Client:
    def __init__(self, port, timeout):
        self.port, self.timeout = port, timeout
        self.conn = None

    def get(self, path):
        """Returns (seconds, status, body). Reconnects once if the server closed the socket."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection('127.0.0.1', self.port,
                                                       timeout=self.timeout)
            try:
                t0 = time.perf_counter()
                self.conn.request('GET', path, headers={'Connection': 'keep-alive'})
                r = self.conn.getresponse()
                body = r.read()
                dt = time.perf_counter() - t0
                if r.getheader('Connection', '').lower() == 'close':
                    self.conn.close()
                    self.conn = None
                return dt, r.status, body
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError('unreachable')


# ---- per-system query text and answer normalisation ---------------------------------------
# Normalised answers:  a -> [v0, v1, ...] (one per hour, None if missing)
#                      b -> {id: [v0, v1, ...]}
#                      c -> {(id, attr): value}

def q_influx(e):
    s, t, sid, dist = e['start_ms'], e['end_ms'], e['sensor'], e['district']
    rng = 'time >= %dms AND time < %dms' % (s, t)
    qs = {
        'a': 'SELECT mean("laeq") FROM "noise" WHERE "id"=\'%s\' AND %s GROUP BY time(1h)'
             % (sid, rng),
        'b': 'SELECT mean("laeq") FROM "noise" WHERE "district"=\'%s\' AND %s '
             'GROUP BY time(1h), "id"' % (dist, rng),
        'c': 'SELECT last(*) FROM /.*/ GROUP BY *',
    }
    return {k: '/query?' + urllib.parse.urlencode({'db': 'bench', 'epoch': 'ms', 'q': v})
            for k, v in qs.items()}


def influx_series(doc):
    res = doc.get('results', [{}])[0]
    if 'error' in res:
        raise ValueError(res['error'])
    return res.get('series', [])


def n_influx(kind, doc):
    ser = influx_series(doc)
    if kind == 'a':
        return [row[1] for row in ser[0]['values']] if ser else []
    if kind == 'b':
        return {s['tags']['id']: [row[1] for row in s['values']] for s in ser}
    out = {}
    for s in ser:
        sid = s.get('tags', {}).get('id')
        row = s['values'][-1]
        for col, v in zip(s['columns'][1:], row[1:]):
            if v is not None:
                out[(sid, col[5:] if col.startswith('last_') else col)] = v
    return out


def q_vm(e):
    s, t, sid, dist = e['start_ms'], e['end_ms'], e['sensor'], e['district']
    # avg_over_time(m[1h]) at T covers (T-1h, T]; with T = hour end - 1 ms and ms timestamps
    # that is exactly [hour start, hour end), the same buckets as GROUP BY time(1h).
    rng = {'start': '%.3f' % ((s + 3600000 - 1) / 1000.0), 'end': '%.3f' % ((t - 1) / 1000.0),
           'step': '3600', 'nocache': '1'}

    def qr(expr):
        d = dict(rng)
        d['query'] = expr
        return '/api/v1/query_range?' + urllib.parse.urlencode(d)
    return {
        'a': qr('avg_over_time(noise_laeq{id="%s"}[1h])' % sid),
        'b': qr('avg_over_time(noise_laeq{district="%s"}[1h])' % dist),
        'c': '/api/v1/query?' + urllib.parse.urlencode(
            {'query': 'last_over_time({__name__=~".+"}[1d])', 'time': '%.3f' % (t / 1000.0),
             'nocache': '1'}),
    }


def vm_result(doc):
    if doc.get('status') != 'success':
        raise ValueError(doc.get('error', 'status %s' % doc.get('status')))
    return doc['data']['result']


def n_vm(kind, doc):
    res = vm_result(doc)
    if kind == 'a':
        return [float(v) for _, v in res[0]['values']] if res else []
    if kind == 'b':
        return {r['metric'].get('id'): [float(v) for _, v in r['values']] for r in res}
    out = {}
    for r in res:
        m = r['metric']
        name = m.get('__name__', '')
        attr = name.split('_', 1)[1] if '_' in name else name
        out[(m.get('id'), attr)] = float(r['value'][1])
    return out


def q_vigie(e):
    s, t, sid, dist = e['start_ms'], e['end_ms'], e['sensor'], e['district']
    base = {'type': 'noise', 'attr': 'laeq', 'from': str(s), 'to': str(t), 'agg': 'avg',
            'every': '1h'}
    a = dict(base, id=sid)
    b = dict(base, where='district:%s' % dist)
    return {'a': '/api/v1/query?' + urllib.parse.urlencode(a),
            'b': '/api/v1/query?' + urllib.parse.urlencode(b),
            'c': '/api/v1/latest'}


def num(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def n_vigie(kind, doc):
    ser = doc.get('series', [])
    if kind == 'a':
        return [num(p[1]) for p in ser[0]['points']] if ser else []
    if kind == 'b':
        return {s.get('id'): [num(p[1]) for p in s['points']] for s in ser}
    out = {}
    for s in ser:
        # /api/v1/latest answers {"id","type","attr","tags","ts","value"} per series
        pts = [[s.get('ts'), s['value']]] if 'value' in s else (s.get('points') or [])
        if pts:
            v = pts[-1][1]
            if isinstance(v, dict):         # geo value, e.g. {"lat":..,"lon":..}
                for k in ('lat', 'lon'):
                    if num(v.get(k)) is not None:
                        out[(s.get('id'), k)] = float(v[k])
            elif isinstance(v, list) and len(v) == 2:   # [lat, lon]
                out[(s.get('id'), 'lat')], out[(s.get('id'), 'lon')] = num(v[0]), num(v[1])
            else:
                out[(s.get('id'), s.get('attr'))] = num(v)
    return out


SYSTEMS = {'influxdb': (q_influx, n_influx), 'victoriametrics': (q_vm, n_vm),
           'vigie': (q_vigie, n_vigie)}


# ---- checks --------------------------------------------------------------------------------

def check(kind, got, e, warn):
    """Compares a normalised answer with the generator's exact one; returns a summary."""
    if kind == 'a':
        exp = e['a']
        if len(got) != len(exp):
            warn('(a) %d points, expected %d' % (len(got), len(exp)))
        bad = sum(1 for g, x in zip(got, exp) if g is None or not close(g, x))
        if bad:
            warn('(a) %d of %d hourly averages differ from the expected ones' % (bad, len(exp)))
        return {'points': len(got), 'expected_points': len(exp), 'mismatches': bad}
    if kind == 'b':
        exp = e['b']
        if set(got) != set(exp):
            warn('(b) %d series, expected %d (missing %s, extra %s)' % (
                len(got), len(exp), sorted(set(exp) - set(got))[:5],
                sorted(set(got) - set(exp))[:5]))
        bad = 0
        for sid, xs in exp.items():
            gs = got.get(sid)
            if gs is None:
                continue
            if len(gs) != len(xs) or any(g is None or not close(g, x) for g, x in zip(gs, xs)):
                bad += 1
        if bad:
            warn('(b) %d of %d series differ from the expected averages' % (bad, len(exp)))
        return {'series': len(got), 'expected_series': len(exp), 'mismatches': bad}
    exp = {(sid, v[1]): v[2] for sid, v in e['c'].items()}
    for tid, (lat, lon, load) in e['ct'].items():
        exp[(tid, 'lat')], exp[(tid, 'lon')], exp[(tid, 'load')] = lat, lon, load
    missing = [k for k in exp if k not in got]
    bad = [k for k in exp if k in got and (got[k] is None or not close(got[k], exp[k]))]
    sensors_found = sum(1 for sid, v in e['c'].items() if (sid, v[1]) in got)
    if sensors_found != len(e['c']):
        warn('(c) latest value of %d sensors found, expected %d (e.g. missing %s)' % (
            sensors_found, len(e['c']), missing[:3]))
    if bad:
        warn('(c) %d latest values differ from the expected ones (e.g. %s: got %s, want %s)' % (
            len(bad), bad[0], got[bad[0]], exp[bad[0]]))
    return {'series': len(got), 'sensors_found': sensors_found, 'expected_sensors': len(e['c']),
            'truck_values_found': sum(1 for k in exp if k[0][0] == 't' and k in got),
            'mismatches': len(bad)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--system', required=True, choices=sorted(SYSTEMS))
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--expect', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--runs', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--timeout', type=float, default=120.0)
    ap.add_argument('--queries', default='abc', help='subset of "abc" to run (default all)')
    a = ap.parse_args()
    kinds = [k for k in 'abc' if k in a.queries]
    if not kinds or set(a.queries) - set('abc'):
        ap.error('--queries: letters among a, b, c')

    with open(a.expect) as f:
        e = json.load(f)
    qfun, nfun = SYSTEMS[a.system]
    queries = {k: v for k, v in qfun(e).items() if k in kinds}
    cl = Client(a.port, a.timeout)
    result = {'system': a.system, 'queries': queries, 'checks': {}, 'warnings': []}

    def warn(msg):
        line = 'WARNING: %s: %s' % (a.system, msg)
        result['warnings'].append(line)
        print(line, file=sys.stderr)

    for kind in kinds:
        times, body = [], b''
        try:
            for i in range(a.warmup + a.runs):
                dt, status, body = cl.get(queries[kind])
                if status != 200:
                    raise ValueError('HTTP %d: %s' % (status, body[:300]))
                if i >= a.warmup:
                    times.append(dt)
            result['%s_ms' % kind] = round(statistics.median(times) * 1000.0, 3)
            result['%s_bytes' % kind] = len(body)
            got = nfun(kind, json.loads(body))
            result['checks'][kind] = check(kind, got, e, warn)
        except Exception as ex:  # keep going: report the failure in the table
            result['%s_ms' % kind] = None
            warn('(%s) query failed: %s: %s' % (kind, type(ex).__name__, str(ex)[:300]))
    with open(a.out, 'w') as f:
        json.dump(result, f, indent=1)
    print('%s: %s  checks %s' % (
        a.system, '  '.join('(%s) %s ms' % (k, result['%s_ms' % k]) for k in kinds),
        json.dumps(result['checks'])))
    return 0


if __name__ == '__main__':
    sys.exit(main())
