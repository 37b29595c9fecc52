#!/usr/bin/env python3
"""legs.py CAP UAC UAS HOP: per-leg time inside the hop (request a->b,
response c->d), percentiles in us, plus what the hop did just before."""
import pickle, sys
sys.path.insert(0, __file__.rsplit("/", 1)[0])
from e2e_stats import sip_key
cap, uac, uas, hop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
d = pickle.load(open(cap, "rb"))
legs = {}
for ts, sp, dp, pl in d["pkts"]:
    k = sip_key(pl)
    if not k: continue
    cid, m, ok, isreq = k
    if isreq:
        leg = "a" if dp == hop else ("b" if dp == uas else None)
    else:
        leg = "c" if (dp == hop and sp == uas) else ("d" if dp == uac else None)
    if leg: legs.setdefault(cid, {}).setdefault(leg, ts)
req = sorted((t["b"] - t["a"]) * 1e6 for t in legs.values() if "a" in t and "b" in t)
rsp = sorted((t["d"] - t["c"]) * 1e6 for t in legs.values() if "c" in t and "d" in t)
def p(v, q): return v[min(len(v) - 1, int(q / 100 * len(v)))]
for name, v in (("req", req), ("resp", rsp)):
    print("%-4s n=%d p10 %6.0f p50 %6.0f p90 %6.0f p99 %6.0f max %6.0f us; >900us: %.1f%%" % (
        name, len(v), p(v, 10), p(v, 50), p(v, 90), p(v, 99), v[-1], 100 * sum(x > 900 for x in v) / len(v)))
# histogram of the request leg in 100 us buckets
h = {}
for x in req: h[min(int(x // 100), 30)] = h.get(min(int(x // 100), 30), 0) + 1
print("req hist (100us buckets):", " ".join("%d:%d" % (k * 100, h[k]) for k in sorted(h)))
