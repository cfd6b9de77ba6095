"""Retention per tenant and per entity type (config file): whole partitions older than the limit
are dropped, other types and tenants keep theirs."""
import os
import time

from vigielib import Server, case, check, done

DAY = 86400000


def t_retention():
    s = Server()
    conf = s.data + ".conf"
    with open(conf, "w") as f:
        f.write("# test config\nretention = default noise 3\nretention = default * 30\n")
    s.extra = ["--config", conf]
    try:
        s.start()
        now = int(time.time() * 1000)
        lines = []
        for d in (1, 2, 5, 10, 40):
            ts = now - d * DAY
            lines.append("noise,id=n1 laeq=%d %d" % (d, ts))
            lines.append("air,id=a1 pm25=%d %d" % (d, ts))
        check(s.write("\n".join(lines))[0] == 204, "write")
        s.write("noise,id=n1 laeq=0 %d" % now, headers={"NGSILD-Tenant": "other"})
        s.write("noise,id=n1 laeq=9 %d" % (now - 9 * DAY), headers={"NGSILD-Tenant": "other"})
        check(s.stop() == 0, "stop")  # blocks written at clean stop
        s.start()  # retention rules applied to the existing groups at start
        deadline = time.time() + 20
        want_noise, want_air = [2, 1], [10, 5, 2, 1]
        while time.time() < deadline:
            st, _, n = s.json("GET", "/api/v1/query?type=noise&id=n1&attr=laeq&from=0")
            st, _, a = s.json("GET", "/api/v1/query?type=air&id=a1&attr=pm25&from=0")
            noise = [p[1] for p in n["series"][0]["points"]]
            air = [p[1] for p in a["series"][0]["points"]]
            if noise == want_noise and air == want_air:
                break
            time.sleep(0.5)
        check(noise == want_noise, "noise kept 3 days: %r" % noise)
        check(air == want_air, "air kept 30 days: %r" % air)
        st, _, o = s.json("GET", "/api/v1/query?type=noise&id=n1&attr=laeq&from=0",
                          headers={"NGSILD-Tenant": "other"})
        check([p[1] for p in o["series"][0]["points"]] == [9, 0], "other tenant untouched %r" % o)
        check(s.stop() == 0, "stop")
    finally:
        s.cleanup()
        os.unlink(conf)


case("retention_per_tenant_and_type", t_retention)
done()
