"""Crash test: clients write numbered batches while the server is killed with SIGKILL at random
moments and restarted, many times. Afterwards every acknowledged batch is there in full, and
nothing else: every stored point belongs to a batch that was sent, and batches are atomic."""
import os
import random
import threading
import time

from vigielib import Server, case, check, done

ROUNDS = int(os.environ.get("CRASH_ROUNDS", "12"))
POINTS = 200          # points per batch
T0 = 1700000000000


def batch_body(k):
    # Batch k: POINTS points at ts = T0 + k*1000 + j (j < POINTS), value k, spread on 10 entities.
    return "\n".join("crash,id=e%d v=%di %d" % (j % 10, k, T0 + k * 1000 + j) for j in range(POINTS))


def t_kill9_loop():
    rnd = random.Random(1234)
    s = Server().start()
    acked = set()
    sent = set()
    next_k = [0]
    lock = threading.Lock()
    try:
        for rnd_i in range(ROUNDS):
            stop = threading.Event()

            def writer():
                while not stop.is_set():
                    with lock:
                        k = next_k[0]
                        next_k[0] += 1
                        sent.add(k)
                    try:
                        st, _, _ = s.write(batch_body(k))
                    except OSError:
                        return  # server died: this batch is unacknowledged
                    if st == 204:
                        with lock:
                            acked.add(k)
            threads = [threading.Thread(target=writer) for _ in range(2)]
            for t in threads:
                t.start()
            time.sleep(rnd.uniform(0.05, 0.8))
            s.kill9()
            stop.set()
            for t in threads:
                t.join()
            s.start()
        # verify
        st, _, doc = s.json("GET", "/api/v1/query?type=crash&attr=v&from=0&limit=100000000")
        check(st == 200, "query %d" % st)
        per_batch = {}
        for ser in doc["series"]:
            for ts, v in ser["points"]:
                k = (ts - T0) // 1000
                check(v == k, "point at %d has value %r, want %d (foreign data)" % (ts, v, k))
                check(k in sent, "batch %d was never sent" % k)
                per_batch[k] = per_batch.get(k, 0) + 1
        missing = [k for k in acked if per_batch.get(k, 0) != POINTS]
        check(not missing, "acknowledged batches missing or partial: %r" % missing[:10])
        partial = [k for k, n in per_batch.items() if n != POINTS]
        check(not partial, "partial (non-atomic) batches: %r" % partial[:10])
        check(len(acked) > ROUNDS, "too few acknowledged batches (%d) to mean anything" % len(acked))
        print("  %d rounds, %d batches sent, %d acknowledged, %d present"
              % (ROUNDS, len(sent), len(acked), len(per_batch)))
        check(s.stop() == 0, "clean stop")
    finally:
        s.cleanup()


case("kill9_acknowledged_points_survive", t_kill9_loop)
done()
