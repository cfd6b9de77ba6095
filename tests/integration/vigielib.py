"""tests/integration/vigielib.py: start the real vigie binary on loopback and talk HTTP to it.

Each test file calls case(name, fn) for its cases; every case prints "ok <file> <name>" or
"FAIL <file> <name>: reason" (tests/run.sh counts these lines)."""
import gzip
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

VIGIE = os.environ.get("VIGIE", os.path.join(os.path.dirname(__file__), "..", "..", "vigie"))
SUITE = os.path.splitext(os.path.basename(sys.argv[0]))[0]
FAILED = 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """A vigie process. start() waits for /health; stop() sends SIGTERM and returns the code."""

    def __init__(self, data=None, auth="off", cmd="serve", extra=()):
        self.own_dir = data is None
        self.data = data or tempfile.mkdtemp(prefix="vigie-it-")
        self.auth = auth
        self.cmd = cmd
        self.extra = list(extra)
        self.port = free_port()
        self.proc = None
        self.log_path = os.path.join(self.data + ".log")

    def start(self, timeout=60):
        self.port = free_port()
        args = [VIGIE, self.cmd, "--data", self.data, "--listen", "127.0.0.1:%d" % self.port,
                "--auth", self.auth] + self.extra
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("vigie exited with %s: %s" % (self.proc.returncode, self.tail()))
            try:
                st, _, _ = self.request("GET", "/health", timeout=2)
                if st in (200, 503):
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("vigie did not answer /health: " + self.tail())

    def tail(self, n=3000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def request(self, method, path, body=None, headers=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            h = {}
            for k, v in r.getheaders():  # repeated headers (Link) are joined as HTTP allows
                k = k.lower()
                h[k] = h[k] + ", " + v if k in h else v
            return r.status, h, data
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        st, h, data = self.request(method, path, body, headers)
        try:
            return st, h, json.loads(data) if data else None
        except ValueError:
            raise AssertionError("not JSON (%d): %r" % (st, data[:300]))

    def write(self, lines, key=None, precision="ms", gz=False, headers=None, path="/write"):
        body = lines.encode() if isinstance(lines, str) else lines
        h = dict(headers or {})
        if key:
            h["Authorization"] = "Bearer " + key
        if gz:
            body = gzip.compress(body)
            h["Content-Encoding"] = "gzip"
        return self.request("POST", "%s?db=test&precision=%s" % (path, precision), body, h)

    def stop(self, sig=signal.SIGTERM, timeout=120):
        if not self.proc:
            return None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("vigie did not stop within %ds" % timeout)
        finally:
            self.log.close()
        self.proc = None
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        self.proc = None

    def cleanup(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        if self.own_dir:
            shutil.rmtree(self.data, ignore_errors=True)
            try:
                os.unlink(self.log_path)
            except OSError:
                pass


def cli(*args, data=None, check=True):
    r = subprocess.run([VIGIE] + list(args), capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError("vigie %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))
    return r


def case(name, fn):
    global FAILED
    t0 = time.time()
    try:
        fn()
        print("ok %s %s (%.1fs)" % (SUITE, name, time.time() - t0), flush=True)
    except Exception as e:  # a failing check is an AssertionError; anything else fails too
        FAILED += 1
        print("FAIL %s %s: %s" % (SUITE, name, e), flush=True)
        traceback.print_exc(file=sys.stdout)


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)


def done():
    sys.exit(1 if FAILED else 0)
