#!/usr/bin/env python3
"""bench/send.py: the HTTP line-protocol sender of `make bench` (Python 3 stdlib only).

Reads a line-protocol file, splits it into batches of N lines (read into memory before the clock
starts, so file reading is not measured), then POSTs them in file order over C persistent
connections (one thread each, taking the next batch from a shared counter). Every response must
be 204 (anything else aborts with exit 1). Prints one JSON object on stdout:
  {"values": V, "lines": L, "batches": B, "seconds": S, "values_per_s": V/S}
where V comes from --values (the generator's exact count) and S is the wall time of the sending,
plus "cpu_s": CPU seconds used during the sending by the server (--server-pid), by this sender,
by kernel threads (I/O flushers, mostly on the server's behalf) and by every other process of
the machine (a sign of a noisy measurement). Interrupt time is left out.
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time


def load_batches(path, batch_lines):
    batches, lines = [], 0
    with open(path, 'rb') as f:
        buf = []
        for line in f:
            buf.append(line)
            if len(buf) == batch_lines:
                batches.append(b''.join(buf))
                lines += len(buf)
                buf = []
        if buf:
            batches.append(b''.join(buf))
            lines += len(buf)
    return batches, lines


def cpu_busy_s():
    """CPU seconds spent busy by the whole machine since boot (all cores, /proc/stat)."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user + nice + system: irq, softirq and steal are not other processes' work
    return (v[0] + v[1] + v[2]) / os.sysconf('SC_CLK_TCK')


def kthreads_cpu():
    """{pid: cpu seconds} of the kernel threads (I/O flushers, journal...), children of pid 2."""
    out = {}
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as f:
                fields = f.read().rsplit(')', 1)[1].split()
            if fields[1] == '2' or name == '2':
                out[name] = (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
        except (OSError, ValueError, IndexError):
            pass
    return out


def proc_cpu_s(pid):
    """utime + stime of process PID (all its threads), in seconds; 0 if unknown."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError, IndexError):
        return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--path', default='/write?db=bench&precision=ms')
    ap.add_argument('--file', required=True)
    ap.add_argument('--values', type=int, required=True, help='total field values in the file')
    ap.add_argument('--batch', type=int, default=10000)
    ap.add_argument('--conns', type=int, default=2)
    ap.add_argument('--timeout', type=float, default=300.0)
    ap.add_argument('--server-pid', type=int, default=0,
                    help='to report the CPU time of the server and of other processes')
    a = ap.parse_args()

    batches, lines = load_batches(a.file, a.batch)
    nxt = [0]
    lock = threading.Lock()
    failed = []

    def worker():
        conn = http.client.HTTPConnection(a.host, a.port, timeout=a.timeout)
        hdrs = {'Content-Type': 'text/plain; charset=utf-8', 'Connection': 'keep-alive'}
        try:
            while True:
                with lock:
                    if failed or nxt[0] >= len(batches):
                        return
                    i = nxt[0]
                    nxt[0] += 1
                conn.request('POST', a.path, body=batches[i], headers=hdrs)
                r = conn.getresponse()
                body = r.read()
                if r.status != 204:
                    with lock:
                        failed.append('batch %d: HTTP %d %s' % (i, r.status, body[:300]))
                    return
        except Exception as e:  # connection reset, timeout...
            with lock:
                failed.append('%s: %s' % (type(e).__name__, e))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(a.conns)]
    k0 = kthreads_cpu()
    c0 = (cpu_busy_s(), proc_cpu_s(a.server_pid), sum(os.times()[:2]))
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    c1 = (cpu_busy_s(), proc_cpu_s(a.server_pid), sum(os.times()[:2]))
    k1 = kthreads_cpu()
    busy, server, client = (y - x for x, y in zip(c0, c1))
    kernel = sum(v - k0.get(pid, 0.0) for pid, v in k1.items())
    if failed:
        print('send: ABORT: ' + failed[0], file=sys.stderr)
        return 1
    print(json.dumps({'values': a.values, 'lines': lines, 'batches': len(batches),
                      'seconds': round(secs, 3), 'values_per_s': round(a.values / secs),
                      'cpu_s': {'server': round(server, 2), 'sender': round(client, 2),
                                'kernel_threads': round(kernel, 2),
                                'others': round(max(0.0, busy - server - client - kernel), 2),
                                'cores': os.cpu_count()}}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
