"""Full disk: the server refuses writes with 507 (and Retry-After), keeps serving reads, and
accepts writes again when space returns; nothing acknowledged is lost. The disk is simulated by
the fault-injecting VFS (test hook VIGIE_TEST_FAULT_CTL, see docs/testing.md)."""
import os
import time

from vigielib import Server, case, check, done

T0 = 1700000000000


def t_enospc():
    s = Server()
    ctl = s.data + ".full"
    os.environ["VIGIE_TEST_FAULT_CTL"] = ctl
    try:
        s.start()
        check(s.write("disk,id=a v=1 %d" % T0)[0] == 204, "first write")
        open(ctl, "w").close()
        time.sleep(0.5)
        st, h, body = s.write("disk,id=a v=2 %d" % (T0 + 1000))
        check(st == 507, "want 507 on a full disk, got %d %r" % (st, body))
        check(h.get("content-type", "").startswith("application/problem+json"), "problem doc")
        check("retry-after" in h, "Retry-After missing")
        st, _, doc = s.json("GET", "/api/v1/query?type=disk&id=a&attr=v&from=0")
        check(st == 200 and doc["series"][0]["points"][0] == [T0, 1], "reads during full disk")
        st, _, doc = s.json("GET", "/health")
        check(st == 503 and doc["status"] == "degraded", "health during full disk %r" % doc)
        os.unlink(ctl)
        time.sleep(0.5)
        ok = False
        for _ in range(20):
            st, _, _ = s.write("disk,id=a v=3 %d" % (T0 + 2000))
            if st == 204:
                ok = True
                break
            time.sleep(0.2)
        check(ok, "writes did not recover after space returned (last %d)" % st)
        check(s.json("GET", "/health")[0] == 200, "health back to ok")
        check(s.stop() == 0, "clean stop")
        del os.environ["VIGIE_TEST_FAULT_CTL"]
        s.start()
        st, _, doc = s.json("GET", "/api/v1/query?type=disk&id=a&attr=v&from=0")
        vals = [p[1] for p in doc["series"][0]["points"]]
        # v=2 was refused (not acknowledged); a retry of it would be idempotent. 1 and 3 must be there.
        check(vals[0] == 1 and vals[-1] == 3 and len(vals) in (2, 3), "after restart %r" % vals)
    finally:
        os.environ.pop("VIGIE_TEST_FAULT_CTL", None)
        s.cleanup()
        if os.path.exists(ctl):
            os.unlink(ctl)


case("enospc_507_reads_recover", t_enospc)
done()
