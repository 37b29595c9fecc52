#!/usr/bin/env python3
"""Helpers for bench/e2e.sh (Python standard library only).

  e2e_stats.py stat FILE           SIPp -trace_stat CSV (last row) -> key=value
  e2e_stats.py rtt FILE...         SIPp -trace_rtt CSV(s) -> n/mean/p50/p99 (ms)
  e2e_stats.py capture OUT READY   record UDP packets on lo (AF_PACKET, kernel
                                   timestamps) until SIGTERM/SIGINT, pickle them
  e2e_stats.py latency CAP --uac P --uas P [--hop P]
                                   per-transaction round trip seen at the UAC
                                   port (and time spent inside the hop) in ms
  e2e_stats.py table RESULTS       results file (key<TAB>value) -> markdown

key=value output is meant for `eval` in bash: values are plain numbers or
simple words, never quoted strings.
"""
import os
import pickle
import signal
import socket
import struct
import sys


def pct(sorted_vals, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_vals:
        return float("nan")
    k = max(1, -(-len(sorted_vals) * p // 100))  # ceil(n*p/100), at least 1
    return sorted_vals[int(k) - 1]


# --------------------------------------------------------------------- stat
def epoch_of(field):
    # "2026-11-25<TAB>00:05:18.971805<TAB>1795565118.971805"
    return float(field.split("\t")[-1])


def cmd_stat(path):
    with open(path, encoding="latin-1") as f:
        rows = [ln.rstrip("\n") for ln in f if ln.strip()]
    if len(rows) < 2:
        print("stat_ok=0")
        return
    head = rows[0].split(";")
    last = rows[-1].split(";")
    col = {name: i for i, name in enumerate(head)}

    def num(name):
        try:
            return int(float(last[col[name]]))
        except (KeyError, ValueError, IndexError):
            return 0

    start = epoch_of(last[col["StartTime"]])
    now = epoch_of(last[col["CurrentTime"]])
    elapsed = max(now - start, 1e-6)
    created = num("OutgoingCall(C)") + num("IncomingCall(C)")
    success = num("SuccessfulCall(C)")
    failed = num("FailedCall(C)")
    out = {
        "stat_ok": 1,
        "created": created,
        "success": success,
        "failed": failed,
        "retrans": num("Retransmissions(C)"),
        "maxudpretrans": num("FailedMaxUDPRetrans(C)"),
        "unexpected": num("FailedUnexpectedMessage(C)"),
        "deadmsgs": num("DeadCallMsgs(C)"),
        "outofcall": num("OutOfCallMsgs(C)"),
        "elapsed": "%.3f" % elapsed,
        "rate": "%.1f" % (success / elapsed),
    }
    for k, v in out.items():
        print("%s=%s" % (k, v))


# ---------------------------------------------------------------------- rtt
def cmd_rtt(paths):
    vals = []
    for p in paths:
        with open(p, encoding="latin-1") as f:
            for ln in f:
                parts = ln.strip().split(";")
                if len(parts) < 2:
                    continue
                try:
                    vals.append(float(parts[1]))
                except ValueError:
                    pass  # header
    vals.sort()
    n = len(vals)
    mean = sum(vals) / n if n else float("nan")
    print("rtt_n=%d" % n)
    print("rtt_mean=%.3f" % mean)
    print("rtt_p50=%.0f" % pct(vals, 50))
    print("rtt_p99=%.0f" % pct(vals, 99))
    print("rtt_max=%.0f" % (vals[-1] if vals else float("nan")))


# ------------------------------------------------------------------ capture
ETH_P_IP = 0x0800
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
SOL_PACKET = 263
PACKET_STATISTICS = 6


def cmd_capture(out, ready):
    # SOCK_DGRAM + ETH_P_IP on lo: every looped packet is seen once (on its
    # receive path), starting at the IPv4 header, with a kernel timestamp.
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    s.bind(("lo", 0))
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 256 << 20)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 << 20)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    s.settimeout(0.2)
    pkts = []
    app = pkts.append
    unpack = struct.unpack_from
    with open(ready, "w") as f:
        f.write("ready\n")
    while not stop:
        try:
            data, anc, _fl, _addr = s.recvmsg(4096, 64)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        if len(data) < 28 or data[9] != 17:  # UDP only
            continue
        ts = 0.0
        for _lvl, typ, cdata in anc:
            if typ == SO_TIMESTAMPNS:
                sec, nsec = unpack("qq", cdata)
                ts = sec + nsec * 1e-9
        ihl = (data[0] & 15) * 4
        sport, dport = unpack("!HH", data, ihl)
        app((ts, sport, dport, data[ihl + 8:ihl + 8 + 1500]))
    packets, drops = struct.unpack("II", s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    with open(out, "wb") as f:
        pickle.dump({"pkts": pkts, "kernel_packets": packets, "kernel_drops": drops}, f)


def sip_key(payload):
    """(Call-ID, CSeq method, is_2xx_response, is_request) or None."""
    try:
        head = payload.split(b"\r\n\r\n", 1)[0]
    except Exception:
        return None
    lines = head.split(b"\r\n")
    first = lines[0]
    callid = cseq = None
    for ln in lines[1:]:
        low = ln[:8].lower()
        if low.startswith(b"call-id:") or low.startswith(b"i:"):
            callid = ln.split(b":", 1)[1].strip()
        elif low.startswith(b"cseq:"):
            cseq = ln.split(b":", 1)[1].strip().split()[-1]
    if callid is None or cseq is None:
        return None
    if first.startswith(b"SIP/2.0 "):
        return callid, cseq, first[8:9] == b"2", False
    return callid, cseq, False, True


def cmd_latency(cap, uac, uas, hop):
    with open(cap, "rb") as f:
        d = pickle.load(f)
    # first timestamp of each leg per transaction (retransmissions ignored)
    legs = {}  # (callid, method) -> {leg: ts}
    for ts, sport, dport, payload in d["pkts"]:
        k = sip_key(payload)
        if k is None:
            continue
        callid, method, ok2xx, is_req = k
        if is_req:
            if hop and dport == hop:
                leg = "a"  # UAC -> hop
            elif dport == uas:
                leg = "b"  # (hop|UAC) -> UAS
            else:
                continue
        else:
            if not ok2xx:
                continue
            if hop and dport == hop and sport == uas:
                leg = "c"  # UAS -> hop
            elif dport == uac:
                leg = "d"  # (hop|UAS) -> UAC
            else:
                continue
        t = legs.setdefault((callid, method), {})
        if leg not in t:
            t[leg] = ts
    rtt, res = [], []
    first = "a" if hop else "b"
    for t in legs.values():
        if first in t and "d" in t:
            rtt.append((t["d"] - t[first]) * 1e3)
            if hop and "b" in t and "c" in t:
                res.append(((t["b"] - t["a"]) + (t["d"] - t["c"])) * 1e3)
    rtt.sort()
    res.sort()
    print("cap_pkts=%d" % len(d["pkts"]))
    print("cap_drops=%d" % d["kernel_drops"])
    print("cap_n=%d" % len(rtt))
    print("cap_mean=%.3f" % (sum(rtt) / len(rtt) if rtt else float("nan")))
    print("cap_p50=%.3f" % pct(rtt, 50))
    print("cap_p99=%.3f" % pct(rtt, 99))
    if hop:
        print("cap_res_n=%d" % len(res))
        print("cap_res_p50=%.3f" % pct(res, 50))
        print("cap_res_p99=%.3f" % pct(res, 99))


# -------------------------------------------------------------------- table
def count_label(n):
    """100000 -> 100k, 1000000 -> 1M (the long run's checkpoints)."""
    try:
        n = int(n)
    except ValueError:
        return n
    if n % 1000000 == 0:
        return "%dM" % (n // 1000000)
    if n % 1000 == 0:
        return "%dk" % (n // 1000)
    return str(n)


def long_rows(r, g, fnum):
    """(measure, sipwarden) rows of the long run (e2e.sh part 5)."""
    n1, n = count_label(g("long_n1", "100000")), count_label(g("long_n", "1000000"))
    return [
        ("long run @ %s msg/s, sipwarden RSS: start / %s / %s / %s + %s s idle (MB)" % (
            g("long_rate"), n1, n, n, g("long_idle_s")),
         "%s / %s / %s / %s" % (
            fnum("long_rss_start_mb", "%.1f"), fnum("long_rss_100k_mb", "%.1f"),
            fnum("long_rss_1m_mb", "%.1f"), fnum("long_rss_idle_mb", "%.1f"))),
        ("long run: sipwarden peak RSS (VmHWM, MB)", fnum("long_hwm_mb", "%.1f")),
        ("long run: successful / failed (retransmissions)", "%s / %s (%s)" % (
            g("long_success"), g("long_failed"), g("long_retrans"))),
        ("long run: sipwarden CPU us / MESSAGE", fnum("long_cpu_us")),
    ]


def cmd_table(path):
    r = {}
    with open(path) as f:
        for ln in f:
            ln = ln.rstrip("\n")
            if "\t" in ln:
                k, v = ln.split("\t", 1)
                r[k] = v

    def g(k, default="n/a"):
        return r.get(k, default)

    def fnum(k, fmt="%.2f"):
        try:
            return fmt % float(r[k])
        except (KeyError, ValueError):
            return "n/a"

    def ratio(a, b, fmt="%.2f"):
        try:
            return fmt % (float(r[a]) / float(r[b]))
        except (KeyError, ValueError, ZeroDivisionError):
            return "n/a"

    def sys_ticks(who, sc):
        try:
            return str(int(r["%s_%s_ticks" % (who, sc)]) - int(r["%s_%s_uticks" % (who, sc)]))
        except (KeyError, ValueError):
            return "n/a"

    out = []
    w = out.append
    if r.get("rss_only") == "1":
        # e2e.sh --rss-only: the long run alone, sipwarden only
        w("| measure | sipwarden |")
        w("| --- | ---: |")
        for row in long_rows(r, g, fnum):
            w("| %s | %s |" % row)
        print("\n".join(out))
        print()
        print("Long run, sipwarden RSS over time (s:MB): " + g("long_series"))
        return
    w("| measure | sipwarden | Kamailio | sipwarden / Kamailio |")
    w("| --- | ---: | ---: | ---: |")
    for sc, label in (("msg", "MESSAGE"), ("inv", "INVITE+BYE")):
        rate = g("%s_rate" % sc)
        count = g("%s_count" % sc)
        unit = "msg/s" if sc == "msg" else "calls/s"
        w("| %s @ %s %s x %s: CPU us / transaction | %s | %s | %s |" % (
            label, rate, unit, count,
            fnum("sw_%s_cpu_us" % sc), fnum("kam_%s_cpu_us" % sc),
            ratio("sw_%s_cpu_us" % sc, "kam_%s_cpu_us" % sc)))
        w("| %s: CPU ticks total (user / sys) | %s (%s / %s) | %s (%s / %s) | |" % (
            label, g("sw_%s_ticks" % sc), g("sw_%s_uticks" % sc), sys_ticks("sw", sc),
            g("kam_%s_ticks" % sc), g("kam_%s_uticks" % sc), sys_ticks("kam", sc)))
        w("| %s: successful / failed calls (retransmissions) | %s / %s (%s) | %s / %s (%s) | |" % (
            label,
            g("sw_%s_success" % sc), g("sw_%s_failed" % sc), g("sw_%s_retrans" % sc),
            g("kam_%s_success" % sc), g("kam_%s_failed" % sc), g("kam_%s_retrans" % sc)))
        w("| %s: hop memory after the run (MB) | %s | %s | |" % (
            label, fnum("sw_%s_rss_mb" % sc, "%.1f"), fnum("kam_%s_pss_mb" % sc, "%.1f")))
    w("| highest sustained MESSAGE rate (msg/s), direct UAC->UAS ceiling: %s | %s | %s | %s |" % (
        g("direct_max_rate"), g("sw_max_rate"), g("kam_max_rate"),
        ratio("sw_max_rate", "kam_max_rate")))
    lat_rate = g("lat_rate")
    w("| added latency @ %s msg/s, SIPp rtt (1 ms resolution): p50 / p99 (ms) | %s / %s | %s / %s | |" % (
        lat_rate, fnum("sw_lat_sipp_add_p50", "%.0f"), fnum("sw_lat_sipp_add_p99", "%.0f"),
        fnum("kam_lat_sipp_add_p50", "%.0f"), fnum("kam_lat_sipp_add_p99", "%.0f")))
    w("| added latency @ %s msg/s, SIPp rtt mean (ms) | %s | %s | |" % (
        lat_rate, fnum("sw_lat_sipp_add_mean", "%.3f"), fnum("kam_lat_sipp_add_mean", "%.3f")))
    w("| response time @ %s msg/s, SIPp rtt: p50 / p99 / mean (ms); direct UAC->UAS: %s / %s / %s | %s / %s / %s | %s / %s / %s | |" % (
        lat_rate, g("direct_lat_sipp_p50"), g("direct_lat_sipp_p99"), fnum("direct_lat_sipp_mean", "%.3f"),
        g("sw_lat_sipp_p50"), g("sw_lat_sipp_p99"), fnum("sw_lat_sipp_mean", "%.3f"),
        g("kam_lat_sipp_p50"), g("kam_lat_sipp_p99"), fnum("kam_lat_sipp_mean", "%.3f")))
    w("| response time @ %s msg/s, packet timestamps: p50 / p99 (ms); direct UAC->UAS: %s / %s | %s / %s | %s / %s | |" % (
        lat_rate, fnum("direct_lat_cap_p50"), fnum("direct_lat_cap_p99"),
        fnum("sw_lat_cap_p50"), fnum("sw_lat_cap_p99"),
        fnum("kam_lat_cap_p50"), fnum("kam_lat_cap_p99")))
    w("| added latency @ %s msg/s, packet timestamps: p50 / p99 (ms) | %s / %s | %s / %s | |" % (
        lat_rate, fnum("sw_lat_cap_add_p50"), fnum("sw_lat_cap_add_p99"),
        fnum("kam_lat_cap_add_p50"), fnum("kam_lat_cap_add_p99")))
    w("| time inside the hop (request + response), packet timestamps: p50 / p99 (ms) | %s / %s | %s / %s | |" % (
        fnum("sw_lat_cap_res_p50"), fnum("sw_lat_cap_res_p99"),
        fnum("kam_lat_cap_res_p50"), fnum("kam_lat_cap_res_p99")))
    w("| sipwarden RSS at start (MB) | %s | | |" % fnum("sw_rss_start_mb", "%.1f"))
    if "long_rss_start_mb" in r:
        for row in long_rows(r, g, fnum):
            w("| %s | %s | | |" % row)
    print("\n".join(out))
    steps = g("steps", "")
    if steps:
        print()
        print("Rate steps (successful/failed, achieved msg/s, retransmissions; PASS = 0 failed,")
        print("no timeout, achieved >= 95% of target):")
        print()
        print("| target msg/s | direct | sipwarden | Kamailio |")
        print("| ---: | --- | --- | --- |")
        for rate in steps.split():
            cells = []
            for who in ("direct", "sw", "kam"):
                k = "step_%s_%s" % (who, rate)
                cells.append(r.get(k, "-"))
            print("| %s | %s |" % (rate, " | ".join(cells)))
    if "long_series" in r:
        print()
        print("Long run, sipwarden RSS over time (s:MB): " + r["long_series"])


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd = argv[1]
    if cmd == "stat":
        cmd_stat(argv[2])
    elif cmd == "rtt":
        cmd_rtt(argv[2:])
    elif cmd == "capture":
        cmd_capture(argv[2], argv[3])
    elif cmd == "latency":
        args = argv[3:]
        opts = {"--uac": 0, "--uas": 0, "--hop": 0}
        for i in range(0, len(args), 2):
            opts[args[i]] = int(args[i + 1])
        cmd_latency(argv[2], opts["--uac"], opts["--uas"], opts["--hop"])
    elif cmd == "table":
        cmd_table(argv[2])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
