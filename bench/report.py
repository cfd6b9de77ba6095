#!/usr/bin/env python3
"""bench/report.py: the tables of `make bench` (Python 3 stdlib only).

Reads the row.json files written by bench/run.sh for one phase (one file per system) and prints
a Markdown section for it: a table
  day:   system | ingest values/s | bytes/value | (a) ms | (b) ms | (c) ms | peak RSS MB
  month: system | ingest values/s | bytes/value | (a30) ms | peak RSS MB
then the ratios Vigie/VictoriaMetrics and Vigie/InfluxDB for each column, the warnings of the
answer checks and the CPU use of each ingest. Writes the same text to --out (--append: added to
it; otherwise the file starts with the title and host line). Exit status 1 if a system failed or
an answer check warned, so a broken run is visible in CI logs.
"""
import argparse
import json
import platform
import sys
import time


def q(key):
    return lambda r: r.get('query', {}).get(key)


INGEST = ('ingest values/s', lambda r: r.get('send', {}).get('values_per_s'), '{:,.0f}')
BPV = ('bytes/value', lambda r: r.get('bytes_per_value') if r.get('send') else None, '{:.3f}')
RSS = ('peak RSS MB', lambda r: r.get('peak_rss_mb') or None, '{:.0f}')
PHASES = {
    'day': {
        'title': lambda e, span: 'Phase "day": a city for %s' % span,
        'cols': [INGEST, BPV, ('(a) ms', q('a_ms'), '{:.2f}'), ('(b) ms', q('b_ms'), '{:.2f}'),
                 ('(c) ms', q('c_ms'), '{:.1f}'), RSS],
        'queries': '(a), (b) and (c)',
    },
    'month': {
        'title': lambda e, span: 'Phase "month": %d sensors for %s' % (e['sensors'], span),
        'cols': [INGEST, BPV, ('(a30) ms', q('a_ms'), '{:.2f}'), RSS],
        'queries': '(a30)',
    },
}
NAMES = {'vigie': 'Vigie', 'influxdb': 'InfluxDB 1.6', 'victoriametrics': 'VictoriaMetrics 1.79'}


def fmt(v, f):
    return '-' if v is None else f.format(v)


def span_of(e):
    if e['hours'] % 24 == 0 and e['hours'] > 24:
        return '%d days' % (e['hours'] // 24)
    return 'one day' if e['hours'] == 24 else '%d h' % e['hours']


def workload(phase, e):
    span = span_of(e)
    trucks = ', %d GPS trucks (every 10 s)' % e['trucks'] if e['trucks'] else ''
    text = ('Workload: %d sensors (1 reading/min)%s, %s, seed %d: %s lines, %s values' % (
        e['sensors'], trucks, span, e['seed'], '{:,}'.format(e['lines']),
        '{:,}'.format(e['values'])))
    if e['values_geo'] != e['values']:
        text += ' (%s with lat+lon counted as one geo value)' % '{:,}'.format(e['values_geo'])
    text += '.'
    if phase == 'month':
        text += (' Query (a30): hourly average of sensor %s (noise laeq, district %s) over the '
                 'whole %s: %d buckets.' % (e['sensor'], e['district'], span, len(e['a'])))
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--expect', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--phase', default='day', choices=sorted(PHASES))
    ap.add_argument('--append', action='store_true')
    ap.add_argument('rows', nargs='+')
    a = ap.parse_args()
    ph = PHASES[a.phase]
    cols = ph['cols']
    with open(a.expect) as f:
        e = json.load(f)
    rows = []
    for p in a.rows:
        with open(p) as f:
            rows.append(json.load(f))
    L = []
    if not a.append:
        L.append('# Vigie benchmark, %s' % time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))
        L.append('')
        L.append('Host: %s, %s.' % (platform.node(), platform.platform()))
        L.append('')
    else:
        L.append('')
    L.append('## %s' % ph['title'](e, span_of(e)))
    L.append('')
    L.append(workload(a.phase, e))
    L.append('')
    L.append('| system | ' + ' | '.join(c[0] for c in cols) + ' |')
    L.append('|---|' + '---:|' * len(cols))
    by = {}
    for r in rows:
        name = NAMES.get(r['system'], r['system'])
        if not r.get('ok') and not r.get('send'):
            L.append('| %s | not run: %s |' % (name, r.get('note', '')) + ' |' * (len(cols) - 1))
            continue
        by[r['system']] = r
        cells = [fmt(c[1](r), c[2]) for c in cols]
        L.append('| %s%s | ' % (name, '' if r.get('ok') else ' (FAILED: %s)' % r.get('note'))
                 + ' | '.join(cells) + ' |')
    L.append('')
    if 'vigie' in by and ('victoriametrics' in by or 'influxdb' in by):
        L.append('| ratio | ' + ' | '.join(c[0] for c in cols) + ' |')
        L.append('|---|' + '---:|' * len(cols))
        for other in ('victoriametrics', 'influxdb'):
            if other not in by:
                continue
            cells = []
            for c in cols:
                x, y = c[1](by['vigie']), c[1](by[other])
                cells.append('-' if not x or not y else '%.3gx' % (x / y))
            L.append('| Vigie / %s | ' % NAMES[other] + ' | '.join(cells) + ' |')
        L.append('')
        L.append('Ratios: ingest above 1 means Vigie is faster; the other columns above 1 mean '
                 'Vigie uses more bytes, time or memory.')
        L.append('')
    warnings = [w for r in rows for w in r.get('query', {}).get('warnings', [])]
    failed = [r['system'] for r in rows if not r.get('ok')]
    if warnings:
        L.append('Answer checks:')
        L.extend('- ' + w for w in warnings)
    elif by:
        L.append('Answer checks: every system returned the exact expected answers for %s.'
                 % ph['queries'])
    L.append('')
    for r in rows:
        if r.get('send'):
            cpu = r['send'].get('cpu_s', {})
            L.append('- %s: ingest %.1f s using %s CPU-s in the server (%s us/value), %s in the '
                     'sender, %s in kernel threads, %s in other processes%s; stop %.1f s; %s bytes on '
                     'disk%s' % (
                         NAMES.get(r['system'], r['system']), r['send']['seconds'],
                         cpu.get('server', '-'),
                         '%.2f' % (cpu['server'] * 1e6 / r['send']['values'])
                         if cpu.get('server') else '-',
                         cpu.get('sender', '-'), cpu.get('kernel_threads', '-'),
                         cpu.get('others', '-'),
                         ' (NOISY: other processes were busy)'
                         if cpu.get('others', 0) > 0.1 * r['send']['seconds'] else '',
                         r.get('stop_seconds', 0), '{:,}'.format(r.get('disk_bytes', 0)),
                         ', note: ' + r['note'] if r.get('note') else ''))
    L.append('')
    text = '\n'.join(L)
    sys.stdout.write(text)
    with open(a.out, 'a' if a.append else 'w') as f:
        f.write(text)
    return 1 if (warnings or failed) else 0


if __name__ == '__main__':
    sys.exit(main())
