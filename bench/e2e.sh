#!/usr/bin/env bash
# End-to-end benchmark: SIPp UAC -> hop -> SIPp UAS, over UDP on 127.0.0.1,
# with sipwarden and with Kamailio (bench/kamailio/kamailio.cfg, stateless)
# as the hop, in the same run so that their figures are comparable.
#
#   bench/e2e.sh [--quick] [--long | --rss-only]
#
#   --quick     small counts, a smoke run (< 60 s)
#   --long      also sipwarden RSS over 1,000,000 MESSAGEs at 5000/s (~250 s)
#   --rss-only  only that long run (part 5), without Kamailio (~250 s;
#               with --quick 30,000 MESSAGEs)
#
# Measures, for each hop:
#   1. MESSAGE at a fixed rate: hop CPU microseconds per transaction (delta of
#      utime+stime from /proc/PID/stat, summed over every Kamailio process),
#      successful/failed calls, hop memory at the end.
#   2. The same for INVITE/ACK/BYE calls (-d 0); one call = 2 transactions
#      (INVITE and BYE; the ACK is forwarded too but is not a transaction).
#   3. Highest sustained MESSAGE rate: steps of about 5 s of traffic; a step
#      passes with 0 failed calls, no SIPp timeout and an achieved rate of at
#      least 95% of the target. The direct UAC->UAS maximum is the ceiling
#      (SIPp's own limit).
#   4. Added latency at 5000 msg/s: response time through the hop minus the
#      response time with the UAC talking directly to the UAS, (a) from SIPp
#      -trace_rtt (SIPp's clock has 1 ms resolution) and (b) from kernel
#      timestamps of the packets on lo (AF_PACKET capture, needs root).
#   5. (--long, --rss-only) a fresh sipwarden (defaults, no plugins): RSS at
#      start, after 100k and after 1M MESSAGEs and after LONG_IDLE s idle,
#      sampled every 10 s in between; failed calls; CPU us per MESSAGE.
#
# Environment overrides: SIPWARDEN_BIN, KAMAILIO_BIN, SIPP_BIN, E2E_PORT_BASE
# (default 25000), KAM_CHILDREN (default: the cfg's 4).
# Raw SIPp output stays in a work directory under /tmp (printed at the end).

set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CMDLINE="bench/e2e.sh${*:+ $*}"
QUICK=0
LONG=0
RSS_ONLY=0
for a in "$@"; do
    case "$a" in
        --quick) QUICK=1 ;;
        --long) LONG=1 ;;
        --rss-only) LONG=1; RSS_ONLY=1 ;;
        -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
        *) echo "e2e.sh: unknown option: $a" >&2; exit 2 ;;
    esac
done

SCRIPT_NAME=e2e.sh
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"

if [ "$RSS_ONLY" = 1 ]; then find_tools; else find_tools kamailio; fi
KAM_CFG=$ROOT/bench/kamailio/kamailio.cfg

command -v python3 >/dev/null || die "python3 not found"
command -v ss >/dev/null || die "ss (iproute2) not found"
for f in "$KAM_CFG" "$STATS" "$SCN/uac_message.xml" "$SCN/uas_message.xml" \
         "$SCN/uac_invite.xml" "$SCN/uas_invite.xml"; do
    [ -f "$f" ] || die "missing file: $f"
done
CLK_TCK=$(getconf CLK_TCK) || die "getconf CLK_TCK failed"
CAPTURE=0
[ "$(id -u)" = 0 ] && CAPTURE=1

# ---------------------------------------------------------------- parameters
BASE=${E2E_PORT_BASE:-25000}
UAS_PORT=$((BASE + 91))
UAC_PORT=$((BASE + 92))
SW_PORT=$((BASE + 60))
KAM_PORT=$((BASE + 70))
LONG_SW_PORT=$((BASE + 62))

if [ "$QUICK" = 1 ]; then
    MSG_RATE=2000;  MSG_COUNT=4000;  ROUNDS=1
    INV_RATE=500;   INV_COUNT=1000
    LAT_RATE=5000;  LAT_COUNT=5000
    STEPS="2000 8000"; STEP_SECS=1; DRAIN=0
    LONG_RATE=5000; LONG_N1=10000; LONG_N=30000; LONG_IDLE=5
else
    MSG_RATE=2000;  MSG_COUNT=20000; ROUNDS=2
    INV_RATE=1000;  INV_COUNT=10000          # calls/s: 2000 transactions/s
    LAT_RATE=5000;  LAT_COUNT=25000
    STEPS="1000 2000 4000 6000 8000 10000 12000 14000 16000 20000 24000"; STEP_SECS=5
    # sipwarden keeps a completed UDP non-INVITE server transaction for
    # Timer J = 64*T1 = 32 s and refuses new requests (503) past
    # max_transactions (default 100000); so that every phase and rate step
    # starts from an empty table, each hop is left idle DRAIN s in between.
    DRAIN=35
    LONG_RATE=5000; LONG_N1=100000; LONG_N=1000000; LONG_IDLE=40
fi

WORK=$(mktemp -d /tmp/sipwarden-e2e.XXXXXX) || die "mktemp failed"
# Run a private copy: a rebuild during the run must not swap the binary.
cp "$SW_BIN" "$WORK/sipwarden" || die "cannot copy $SW_BIN"
SW_SHA=$(sha256sum "$SW_BIN" | cut -c1-12)
SW_MTIME=$(date -u -r "$SW_BIN" '+%Y-%m-%d %H:%M:%S UTC')
SW_RUN=$WORK/sipwarden
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
# Other work on this small machine distorts every figure: say so up front.
awk '{exit !($1 > 1.0)}' /proc/loadavg &&
    echo "e2e.sh: warning: load average is $LOAD_START before the run; figures will be noisy" >&2
RES=$WORK/results.tsv
: > "$RES"

# ------------------------------------------------------- process bookkeeping
UAS_PID="" SW_PID="" KAM_PID="" UAC_PID="" CAP_PID="" SAMPLER_PID="" LSW_PID=""
KAM_PIDS=""


cleanup() {
    local p
    trap - EXIT INT TERM
    stop_pid "$SAMPLER_PID"; stop_pid "$CAP_PID"; stop_pid "$UAC_PID"
    stop_pid "$UAS_PID"; stop_pid "$SW_PID"; stop_pid "$LSW_PID"; stop_pid "$KAM_PID"
    # Kamailio's children exit with their parent; make sure of it.
    sleep 0.5
    for p in $KAM_PIDS; do
        if kill -0 "$p" 2>/dev/null && grep -q kamailio "/proc/$p/cmdline" 2>/dev/null; then
            kill -KILL "$p" 2>/dev/null
        fi
    done
}
trap cleanup EXIT
trap 'echo "e2e.sh: interrupted" >&2; exit 130' INT TERM


port_free() {  # fail early when a port we need is taken
    local port=$1
    [ -z "$(ss -Hlnut "sport = :$port" 2>/dev/null)" ] || die "port $port is in use (set E2E_PORT_BASE)"
}

alive() {  # alive PID NAME
    kill -0 "$1" 2>/dev/null || die "$2 (pid $1) is gone; see $WORK"
}


uticks() {  # utime only (the rest of ticks() is stime: syscalls, page faults)
    local p total=0 t
    for p in "$@"; do
        t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12}')
        total=$((total + ${t:-0}))
    done
    echo "$total"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
pss_kb() {  # sum of Pss over pids (shared memory counted once)
    local p total=0 v
    for p in "$@"; do
        v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

descendants() {  # all descendants of a pid, via /proc/*/stat ppid
    local parent=$1 p kids
    kids=$(for s in /proc/[0-9]*/stat; do
               sed -n 's/^\([0-9]*\) .*) [A-Za-z] \([0-9]*\) .*/\1 \2/p' "$s" 2>/dev/null
           done | awk -v pp="$parent" '$2 == pp {print $1}')
    for p in $kids; do
        echo "$p"
        descendants "$p"
    done
}

# -------------------------------------------------------------- the actors
start_uas() {  # start_uas message|invite
    stop_pid "$UAS_PID"; UAS_PID=""
    mkdir -p "$WORK/uas-$1"
    (cd "$WORK/uas-$1" && exec "$SIPP_BIN" -sf "$SCN/uas_$1.xml" -i 127.0.0.1 -p "$UAS_PORT" \
        -nostdin -trace_err > sipp.out 2>&1) &
    UAS_PID=$!
    wait_port udp "$UAS_PORT" "$UAS_PID"
}

start_sipwarden() {  # start_sipwarden VAR PORT LOGNAME: pid into VAR
    "$SW_RUN" run --listen "udp:127.0.0.1:$2" --listen "tcp:127.0.0.1:$2" \
        --upstream "127.0.0.1:$UAS_PORT" --log-level warning > "$WORK/$3" 2>&1 &
    printf -v "$1" '%s' "$!"
}

# run_uac NAME SCENARIO PORT RATE COUNT [extra sipp args...]
# Runs one bounded SIPp UAC; leaves created/success/failed/retrans/elapsed/
# rate (achieved successful calls/s) and uac_rc in the caller's variables.
run_uac() {
    local name=$1 scen=$2 port=$3 tgt=$4 count=$5
    shift 5
    local dir=$WORK/$name tmo
    tmo=$(( count / tgt + 30 ))
    mkdir -p "$dir"
    (cd "$dir" && exec "$SIPP_BIN" -sf "$SCN/uac_$scen.xml" "127.0.0.1:$port" -i 127.0.0.1 \
        -p "$UAC_PORT" -s bob -m "$count" -r "$tgt" -rp 1000 -timeout "${tmo}s" -timeout_error \
        -nostdin -trace_stat -stf stat.csv -fd 1 -trace_err "$@" > sipp.out 2>&1) &
    UAC_PID=$!
    wait "$UAC_PID"
    uac_rc=$?
    UAC_PID=""
    stat_ok=0
    eval "$(python3 "$STATS" stat "$dir/stat.csv" 2>/dev/null)"
    if [ "$stat_ok" != 1 ]; then
        created=0 success=0 failed=$count retrans=0 elapsed=0 rate=0
    fi
    printf '%s\n' "rc=$uac_rc created=$created success=$success failed=$failed retrans=$retrans elapsed=$elapsed rate=$rate" > "$dir/summary"
    log "  $name: rc=$uac_rc success=$success failed=$failed retrans=$retrans rate=$rate/s"
}

# long_run: part 5, a fresh sipwarden (defaults: no config, no plugins) fed
# LONG_N MESSAGEs at LONG_RATE/s; RSS at start, after LONG_N1, after LONG_N
# and after LONG_IDLE s idle, sampled every 10 s in between.
long_run() {
    local s1 f1 r1 t0 t1
    log "5. long run: fresh sipwarden, $LONG_N MESSAGEs at ${LONG_RATE}/s"
    start_sipwarden LSW_PID "$LONG_SW_PORT" sipwarden-long.log
    wait_port udp "$LONG_SW_PORT" "$LSW_PID"
    sleep 1
    put long_rate "$LONG_RATE"
    put long_idle_s "$LONG_IDLE"
    put long_n1 "$LONG_N1"; put long_n "$LONG_N"
    put long_rss_start_mb "$(mb "$(rss_kb "$LSW_PID")")"
    ( t=0; while kill -0 "$LSW_PID" 2>/dev/null; do
          echo "$t $(rss_kb "$LSW_PID")"; sleep 10; t=$((t + 10)); done ) > "$WORK/long-rss.txt" &
    SAMPLER_PID=$!
    t0=$(ticks "$LSW_PID")
    run_uac long-1 message "$LONG_SW_PORT" "$LONG_RATE" "$LONG_N1"
    s1=$success f1=$failed r1=$retrans
    put long_rss_100k_mb "$(mb "$(rss_kb "$LSW_PID")")"
    alive "$LSW_PID" "sipwarden (long)"
    run_uac long-2 message "$LONG_SW_PORT" "$LONG_RATE" "$((LONG_N - LONG_N1))"
    t1=$(ticks "$LSW_PID")
    put long_rss_1m_mb "$(mb "$(rss_kb "$LSW_PID")")"
    put long_success "$((s1 + success))"; put long_failed "$((f1 + failed))"
    put long_retrans "$((r1 + retrans))"
    put long_cpu_us "$(awk -v t="$((t1 - t0))" -v c="$CLK_TCK" -v s="$((s1 + success))" \
        'BEGIN { if (s > 0) printf "%.2f", t * 1e6 / c / s; else print "n/a" }')"
    alive "$LSW_PID" "sipwarden (long)"
    sleep "$LONG_IDLE"
    put long_rss_idle_mb "$(mb "$(rss_kb "$LSW_PID")")"
    put long_hwm_mb "$(mb "$(awk '/^VmHWM:/ {print $2}' "/proc/$LSW_PID/status" 2>/dev/null)")"
    stop_pid "$SAMPLER_PID"; SAMPLER_PID=""
    put long_series "$(awk '{printf "%s%d:%.1f", (NR > 1 ? " " : ""), $1, $2 / 1024}' "$WORK/long-rss.txt")"
    put long_log_lines "$(wc -l < "$WORK/sipwarden-long.log")"
}


report() {
    {
        echo "Command: \`$CMDLINE\`"
        echo
        echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(uname -r); $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "Load average at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "sipwarden binary: $SW_BIN (sha256 $SW_SHA..., built $SW_MTIME)"
        if [ "$RSS_ONLY" = 1 ]; then
            echo "Versions: $("$SW_RUN" --version 2>&1 | head -1); $("$SIPP_BIN" -v 2>&1 | grep -m1 SIPp | sed 's/^ *//'); CLK_TCK=$CLK_TCK"
        else
            echo "Versions: $("$SW_RUN" --version 2>&1 | head -1); $("$KAM_BIN" -v 2>&1 | head -1 | sed 's/^version: //'); $("$SIPP_BIN" -v 2>&1 | grep -m1 SIPp | sed 's/^ *//')"
            echo "Kamailio: $(getv kam_nproc) processes (children=${KAM_CHILDREN:-4} UDP workers); CLK_TCK=$CLK_TCK;" \
                 "idle CPU over 2 s: sipwarden $(getv sw_idle_ticks_2s) ticks, Kamailio $(getv kam_idle_ticks_2s) ticks"
        fi
        echo
        python3 "$STATS" table "$RES"
        echo
        if [ "$RSS_ONLY" = 1 ]; then
            echo "sipwarden log lines (warning+): $(getv long_log_lines)"
        else
            echo "sipwarden log lines (warning+): $(getv sw_log_lines); kamailio log lines: $(getv kam_log_lines);" \
                 "sipwarden RSS after the rate steps: $(getv sw_rss_after_steps_mb) MB"
        fi
        echo "Raw output: $WORK"
    } | tee "$WORK/report.md"
}

# ------------------------------------------------------------------ start up
log "work directory: $WORK"
if [ "$RSS_ONLY" = 1 ]; then
    for p in $UAS_PORT $UAC_PORT $LONG_SW_PORT; do port_free "$p"; done
    put rss_only 1
    start_uas message
    long_run
    report
    exit 0
fi

for p in $UAS_PORT $UAC_PORT $SW_PORT $KAM_PORT; do port_free "$p"; done
[ "$LONG" = 1 ] && port_free "$LONG_SW_PORT"

start_uas message
start_sipwarden SW_PID "$SW_PORT" sipwarden.log
wait_port udp "$SW_PORT" "$SW_PID"
wait_port tcp "$SW_PORT" "$SW_PID"

KAM_ARGS=(-f "$KAM_CFG" -DD -E -A "SW_PORT=$KAM_PORT" -A "SW_DST=\"sip:127.0.0.1:$UAS_PORT\"")
[ -n "${KAM_CHILDREN:-}" ] && KAM_ARGS+=(-A "SW_CHILDREN=$KAM_CHILDREN")
"$KAM_BIN" "${KAM_ARGS[@]}" > "$WORK/kamailio.log" 2>&1 &
KAM_PID=$!
wait_port udp "$KAM_PORT" "$KAM_PID"
wait_port tcp "$KAM_PORT" "$KAM_PID"
sleep 1
KAM_PIDS="$KAM_PID $(descendants "$KAM_PID" | tr '\n' ' ')"
log "sipwarden pid $SW_PID; kamailio pids: $KAM_PIDS"
put sw_rss_start_mb "$(mb "$(rss_kb "$SW_PID")")"
put kam_pss_start_mb "$(mb "$(pss_kb $KAM_PIDS)")"
put kam_nproc "$(echo $KAM_PIDS | wc -w)"

# 1 s of idle CPU, to show the background cost included in the deltas
t0s=$(ticks "$SW_PID"); t0k=$(ticks $KAM_PIDS); sleep 2
put sw_idle_ticks_2s $(( $(ticks "$SW_PID") - t0s ))
put kam_idle_ticks_2s $(( $(ticks $KAM_PIDS) - t0k ))

# ------------------------------------------------ 1 + 2: CPU per transaction
# cpu_phase TAG SCEN RATE COUNT TX_PER_CALL [sipp args]: ROUNDS x (sw, kam)
cpu_phase() {
    local tag=$1 scen=$2 r=$3 n=$4 tpc=$5 i who pids port t0 t1
    shift 5
    local sw_t=0 sw_s=0 sw_f=0 sw_r=0 kam_t=0 kam_s=0 kam_f=0 kam_r=0 sw_u=0 kam_u=0 u0 u1
    for i in $(seq "$ROUNDS"); do
        for who in sw kam; do
            if [ "$who" = sw ]; then pids=$SW_PID; port=$SW_PORT; else pids=$KAM_PIDS; port=$KAM_PORT; fi
            t0=$(ticks $pids); u0=$(uticks $pids)
            run_uac "${tag}-${who}-$i" "$scen" "$port" "$r" "$n" "$@"
            t1=$(ticks $pids); u1=$(uticks $pids)
            eval "${who}_u=\$(( ${who}_u + u1 - u0 ))"
            eval "${who}_t=\$(( ${who}_t + t1 - t0 )); ${who}_s=\$(( ${who}_s + success ))"
            eval "${who}_f=\$(( ${who}_f + failed )); ${who}_r=\$(( ${who}_r + retrans ))"
            alive "$SW_PID" sipwarden; alive "$KAM_PID" kamailio
            sleep 1
        done
    done
    for who in sw kam; do
        eval "local t=\$${who}_t s=\$${who}_s f=\$${who}_f rr=\$${who}_r"
        put "${who}_${tag}_ticks" "$t"
        eval "put ${who}_${tag}_uticks \$${who}_u"
        put "${who}_${tag}_cpu_us" "$(awk -v t="$t" -v c="$CLK_TCK" -v s="$s" -v k="$tpc" \
            'BEGIN { if (s > 0) printf "%.2f", t * 1e6 / c / (s * k); else print "n/a" }')"
        put "${who}_${tag}_success" "$s"
        put "${who}_${tag}_failed" "$f"
        put "${who}_${tag}_retrans" "$rr"
    done
    put "sw_${tag}_rss_mb" "$(mb "$(rss_kb "$SW_PID")")"
    put "kam_${tag}_pss_mb" "$(mb "$(pss_kb $KAM_PIDS)")"
    put "${tag}_rate" "$r"
    put "${tag}_count" "$((n * ROUNDS))"
}

log "1. MESSAGE ${MSG_RATE}/s x $MSG_COUNT, $ROUNDS round(s) per hop"
cpu_phase msg message "$MSG_RATE" "$MSG_COUNT" 1

drain() { [ "$DRAIN" -gt 0 ] && { log "  idle ${DRAIN} s (transactions expire)"; sleep "$DRAIN"; }; return 0; }
drain
log "2. INVITE+BYE ${INV_RATE} calls/s x $INV_COUNT (2 transactions per call)"
start_uas invite
# Kamailio's UDP workers may relay the 180 after the 200 (reordering); by
# default SIPp aborts a call on such a late 180, so both hops are run with
# "-default_behaviors all,-abortunexp" (a late provisional is then ignored).
cpu_phase inv invite "$INV_RATE" "$INV_COUNT" 2 -d 0 -default_behaviors all,-abortunexp
start_uas message

# ------------------------------------------------------------ 4: latency
# lat_run WHO PORT: two runs at LAT_RATE, one with -trace_rtt (SIPp alone),
# then one with the packet capture running (it takes some CPU itself)
lat_run() {
    local who=$1 port=$2 dir=$WORK/latcap-$1 hopport=0
    [ "$who" != direct ] && hopport=$port
    run_uac "lat-$who" message "$port" "$LAT_RATE" "$LAT_COUNT" -trace_rtt -rtt_freq 1000
    put "${who}_lat_success" "$success"; put "${who}_lat_failed" "$failed"
    eval "$(python3 "$STATS" rtt "$WORK/lat-$who"/*_rtt.csv)"
    put "${who}_lat_sipp_p50" "$rtt_p50"; put "${who}_lat_sipp_p99" "$rtt_p99"
    put "${who}_lat_sipp_mean" "$rtt_mean"
    sleep 1
    [ "$CAPTURE" = 1 ] || return 0
    mkdir -p "$dir"
    python3 "$STATS" capture "$dir/cap.pkl" "$dir/cap.ready" 2> "$dir/cap.err" &
    CAP_PID=$!
    for _ in $(seq 50); do [ -f "$dir/cap.ready" ] && break; sleep 0.1; done
    if [ ! -f "$dir/cap.ready" ]; then
        log "capture did not start (see $dir/cap.err)"; stop_pid "$CAP_PID"; CAP_PID=""; return 0
    fi
    run_uac "latcap-$who" message "$port" "$LAT_RATE" "$LAT_COUNT"
    put "${who}_latcap_success" "$success"; put "${who}_latcap_failed" "$failed"
    sleep 0.3
    stop_pid "$CAP_PID"; CAP_PID=""
    [ -f "$dir/cap.pkl" ] || { log "capture wrote nothing (see $dir/cap.err)"; return 0; }
    eval "$(python3 "$STATS" latency "$dir/cap.pkl" --uac "$UAC_PORT" --uas "$UAS_PORT" --hop "$hopport")"
    put "${who}_lat_cap_n" "$cap_n"; put "${who}_lat_cap_drops" "$cap_drops"
    put "${who}_lat_cap_p50" "$cap_p50"; put "${who}_lat_cap_p99" "$cap_p99"
    put "${who}_lat_cap_mean" "$cap_mean"
    if [ "$who" != direct ]; then
        put "${who}_lat_cap_res_p50" "$cap_res_p50"; put "${who}_lat_cap_res_p99" "$cap_res_p99"
    fi
    sleep 1
}

drain
log "4. latency at ${LAT_RATE} msg/s x $LAT_COUNT (capture: $CAPTURE)"
lat_run direct "$UAS_PORT"
lat_run sw "$SW_PORT"
lat_run kam "$KAM_PORT"
alive "$SW_PID" sipwarden
for who in sw kam; do
    for m in sipp_p50 sipp_p99 sipp_mean cap_p50 cap_p99; do
        h=$(getv "${who}_lat_$m"); d=$(getv "direct_lat_$m")
        [ -n "$h" ] && [ -n "$d" ] && put "${who}_lat_${m/_/_add_}" \
            "$(awk -v h="$h" -v d="$d" 'BEGIN {printf "%.3f", h - d}')"
    done
done
put lat_rate "$LAT_RATE"

# --------------------------------------------------------- 3: rate steps
log "3. rate steps: $STEPS (${STEP_SECS} s each, each hop idle >= ${DRAIN} s before a step)"
put steps "$STEPS"
declare -A FAILED=() MAXR=([direct]=0 [sw]=0 [kam]=0) LAST=([direct]=0 [sw]=0 [kam]=0)
now=$(date +%s); LAST[sw]=$now; LAST[kam]=$now
for r in $STEPS; do
    n=$(( r * STEP_SECS ))
    for who in direct sw kam; do
        [ -n "${FAILED[$who]:-}" ] && continue
        wait_s=$(( LAST[$who] + DRAIN - $(date +%s) ))
        [ "$wait_s" -gt 0 ] && sleep "$wait_s"
        case $who in direct) port=$UAS_PORT ;; sw) port=$SW_PORT ;; kam) port=$KAM_PORT ;; esac
        run_uac "step-$who-$r" message "$port" "$r" "$n"
        verdict=FAIL
        if [ "$uac_rc" = 0 ] && [ "$failed" = 0 ] && [ "$success" = "$n" ] &&
           awk -v a="$rate" -v t="$r" 'BEGIN {exit !(a >= 0.95 * t)}'; then
            verdict=PASS
            MAXR[$who]=$r
        else
            FAILED[$who]=1
        fi
        put "step_${who}_$r" "$verdict $success/$failed, $(printf '%.0f' "$rate")/s, r$retrans"
        LAST[$who]=$(date +%s)
        sleep 1
    done
    alive "$SW_PID" sipwarden
    [ ${#FAILED[@]} = 3 ] && break
done
put direct_max_rate "${MAXR[direct]}"
put sw_max_rate "${MAXR[sw]}"
put kam_max_rate "${MAXR[kam]}"
put sw_rss_after_steps_mb "$(mb "$(rss_kb "$SW_PID")")"

# ------------------------------------------------------------- 5: long run
[ "$LONG" = 1 ] && long_run

put sw_log_lines "$(wc -l < "$WORK/sipwarden.log")"
put kam_log_lines "$(wc -l < "$WORK/kamailio.log")"

report
exit 0
