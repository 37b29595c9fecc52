#!/usr/bin/env bash
# latload.sh LABEL BIN|direct [RATE] [COUNT] [extra hop args...]
# One latency run like bench/e2e.sh phase 4, for one hop only: SIPp UAS,
# the hop, an AF_PACKET capture on lo, SIPp UAC at RATE x COUNT. Prints
# e2e_stats.py latency figures (cap_res_* = time inside the hop).
set -u
LABEL=$1; BIN=$2; RATE=${3:-5000}; COUNT=${4:-10000}; shift 4 || shift $#
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATS=${CAP_STATS:-$ROOT/bench/e2e_stats.py}; SCN=$ROOT/tests/sipp
B=${LAT_BASE:-36000}; UAS=$((B+91)); UAC=$((B+92)); HOP=$((B+60))
W=$(mktemp -d /tmp/latload.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.3; }
trap cleanup EXIT
(cd "$W" && exec sipp -sf "$SCN/uas_message.xml" -i 127.0.0.1 -p $UAS -nostdin > uas.out 2>&1) & pids+=($!)
port=$UAS; hopport=0
if [ "$BIN" = kamailio ]; then
    kamailio -f "$ROOT/bench/kamailio/kamailio.cfg" -DD -E -A "SW_PORT=$HOP" -A "SW_DST=\"sip:127.0.0.1:$UAS\"" \
        -A "SW_CHILDREN=${KAM_CHILDREN:-4}" -w "$W" > "$W/hop.log" 2>&1 &
    pids+=($!); HOP_PID=$!; port=$HOP; hopport=$HOP
elif [ "$BIN" != direct ]; then
    SW_LATTRACE=${SW_LATTRACE_OUT:-} "$BIN" run --listen udp:127.0.0.1:$HOP --upstream 127.0.0.1:$UAS --log-level warning "$@" > "$W/hop.log" 2>&1 &
    pids+=($!); HOP_PID=$!; port=$HOP; hopport=$HOP
fi
sleep 1
python3 "$STATS" capture "$W/cap.pkl" "$W/cap.ready" 2> "$W/cap.err" & CAP=$!; pids+=($CAP)
for _ in $(seq 50); do [ -f "$W/cap.ready" ] && break; sleep 0.1; done
if [ -n "${PERF_SCHED:-}" ]; then perf sched record -a -o "$PERF_SCHED" > "$W/perf.out" 2>&1 & PERFP=$!; pids+=($PERFP); sleep 0.5; fi
if [ -n "${PERF_REC:-}" ]; then perf record -g -p $HOP_PID -o "$PERF_REC" > "$W/perfrec.out" 2>&1 & PERFR=$!; pids+=($PERFR); sleep 0.5; fi
[ "$BIN" != direct ] && t0=$(awk '{print $14+$15}' /proc/$HOP_PID/stat)
c0=$(awk '{print $14+$15}' /proc/$CAP/stat); u0=$(awk '{print $14+$15}' /proc/${pids[0]}/stat)
(cd "$W" && timeout $((COUNT / RATE + 30)) sipp -sf "$SCN/uac_message.xml" 127.0.0.1:$port -i 127.0.0.1 -p $UAC -s bob \
    -m $COUNT -r $RATE -rp 1000 -timeout $((COUNT / RATE + 20))s -nostdin -trace_stat -stf stat.csv > uac.out 2>&1)
[ "$BIN" != direct ] && t1=$(awk '{print $14+$15}' /proc/$HOP_PID/stat)
c1=$(awk '{print $14+$15}' /proc/$CAP/stat); u1=$(awk '{print $14+$15}' /proc/${pids[0]}/stat)
[ -n "${PERF_SCHED:-}" ] && { kill -INT $PERFP; wait $PERFP; }
[ -n "${PERF_REC:-}" ] && { kill -INT $PERFR; wait $PERFR; }
[ -n "${HOP_PID:-}" ] && echo "hop pid $HOP_PID"
sleep 0.3; kill -TERM $CAP; wait $CAP 2>/dev/null
[ -n "${SW_LATTRACE_OUT:-}" ] && { kill -TERM $HOP_PID; wait $HOP_PID 2>/dev/null; }
echo "== $LABEL rate=$RATE count=$COUNT load=$(cut -d' ' -f1 /proc/loadavg) ${t0:+hop_cpu_ticks=$((t1 - t0))} capture_ticks=$((c1 - c0)) uas_ticks=$((u1 - u0))"
python3 "$STATS" latency "$W/cap.pkl" --uac $UAC --uas $UAS --hop $hopport | tr '\n' ' '; echo
[ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"
