#!/usr/bin/env python3
"""bench/rules_http.py: what 10,000 rules cost the server's ingest, end to end (`make bench-rules`,
after bench/rules_bench.c). Python 3 stdlib only.

Starts two `vigie serve --auth off` on fresh data directories under --work, creates one
threshold rule per sensor of the data file in the second (POST /api/v1/rules, the same rules as
`rules_bench --city`), then POSTs every batch of --batch lines to /write of both servers in turn
(the order alternating from batch to batch, so that both see the same machine), each answer a
204 (durable). Prints, per server, the values/s of its own requests (wall time of the POSTs)
and the CPU seconds the server process used meanwhile (/proc: all its threads, the fsync
waits excluded), and the rules' cost as the ratio of the two.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

from send import load_batches, proc_cpu_s  # bench/send.py, the core benchmark's sender

# The same rules as bench/rules_bench.c city_rules: type, attr, op, raise, clear, for.
CITY_RULES = {
    'noise': ('laeq', '>', 68, 65, '10m'),
    'air': ('pm25', '>', 25, 20, '30m'),
    'traffic': ('count', '>', 50, 40, '15m'),
    'temperature': ('celsius', '<', 0.5, 1.5, '1h'),
    'energy': ('kwh', '>', 2.0, 1.8, '30m'),
}


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, vigie, work, name, extra):
        self.dir = os.path.join(work, 'rules-http-' + name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.port = free_port()
        self.log = open(os.path.join(self.dir, 'server.log'), 'wb')
        self.proc = subprocess.Popen([vigie, 'serve', '--data', os.path.join(self.dir, 'data'),
                                      '--listen', '127.0.0.1:%d' % self.port, '--auth', 'off'] + extra,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                c = http.client.HTTPConnection('127.0.0.1', self.port, timeout=5)
                c.request('GET', '/health')
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            self.proc.kill()
            sys.exit('vigie did not start, see %s/server.log' % self.dir)
        self.conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=300)
        self.wall = 0.0

    def post(self, path, body, ctype, want):
        self.conn.request('POST', path, body=body, headers={'Content-Type': ctype})
        r = self.conn.getresponse()
        text = r.read()
        if r.status != want:
            sys.exit('%s: %d %s' % (path, r.status, text[:300]))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--vigie', required=True)
    ap.add_argument('--file', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--batch', type=int, default=10000)
    ap.add_argument('--unreachable', action='store_true',
                    help='the same rules with levels no value reaches: evaluation without alerts')
    ap.add_argument('--control', action='store_true',
                    help='no rule in either server: the noise of the method')
    ap.add_argument('--server-arg', action='append', default=[],
                    help='an argument for both servers (repeatable), e.g. --config FILE')
    a = ap.parse_args()
    batches, lines = load_batches(a.file, a.batch)
    # the sensors and their kinds, from the first hour (gen.c: each sensor once a minute)
    kinds = {}
    sensor = re.compile(rb'^(\w+),.*?\bid=(s\d+)')
    first, done = None, False
    for body in batches:
        for line in body.split(b'\n'):
            ts = line.rsplit(b' ', 1)[-1]
            if not ts.isdigit():
                continue
            first = first or int(ts)
            done = int(ts) > first + 3600000
            if done:
                break
            m = sensor.match(line)
            if m:
                kinds.setdefault(m.group(2), m.group(1).decode())
        if done:
            break
    servers = []
    try:
        plain = Server(a.vigie, a.work, 'none', a.server_arg)
        servers.append(plain)
        ruled = Server(a.vigie, a.work, 'rules', a.server_arg)
        servers.append(ruled)
        t0 = time.monotonic()
        for sid, kind in sorted(kinds.items()):
            if kind not in CITY_RULES or a.control:
                continue
            attr, op, up, down, dur = CITY_RULES[kind]
            if a.unreachable:
                up, down = (1e9, 1e9 - 1) if op == '>' else (-1e9, -1e9 + 1)
            rule = {'id': '%s-%s' % (kind, sid.decode()), 'kind': 'threshold',
                    'target': {'type': kind, 'attr': attr, 'ids': [sid.decode()]},
                    'condition': {'op': op, 'raise': up, 'clear': down, 'for': dur}}
            ruled.post('/api/v1/rules', json.dumps(rule), 'application/json', 201)
        rules_s = time.monotonic() - t0
        nrules = 0 if a.control else sum(1 for k in kinds.values() if k in CITY_RULES)
        servers = (plain, ruled)
        cpu0 = [proc_cpu_s(s.proc.pid) for s in servers]
        for i, body in enumerate(batches):
            for k in range(2):
                s = servers[(i + k) % 2]
                t = time.monotonic()
                s.post('/write?db=bench&precision=ms', body, 'text/plain', 204)
                s.wall += time.monotonic() - t
        cpu = [proc_cpu_s(s.proc.pid) - c for s, c in zip(servers, cpu0)]
        c = http.client.HTTPConnection('127.0.0.1', ruled.port, timeout=30)
        c.request('GET', '/metrics')
        m = c.getresponse().read().decode()
        ev = re.search(r'^vigie_rule_evaluations_total (\d+)', m, re.M)
        st = re.search(r'^vigie_rule_values_settled_total (\d+)', m, re.M)
        print('rules_http: %s: %d lines in %d POSTs of %d lines to each of two servers in turn; '
              '%d rules created through the API in %.1f s' %
              (a.file, lines, len(batches), a.batch, nrules, rules_s))
        for name, s, cs in (('without rules', plain, cpu[0]), ('with %d rules' % nrules, ruled,
                                                               cpu[1])):
            print('server %s: %.0f lines/s (wall of its POSTs), %.1f CPU seconds' %
                  (name, lines / s.wall, cs))
        print('rules in the server: %s evaluations (%s values settled by their band); '
              'rule cost: %.1f %% more server CPU, %.1f %% more wall time per POST' %
              (ev.group(1) if ev else '?', st.group(1) if st else '?',
               100.0 * (cpu[1] / cpu[0] - 1.0), 100.0 * (ruled.wall / plain.wall - 1.0)))
    finally:
        for s in servers:
            s.stop()


if __name__ == '__main__':
    main()
