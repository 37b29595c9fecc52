#!/usr/bin/env bash
# PostgreSQL archive (issue 9): sipwarden hops archiving into one PostgreSQL
# 15 server (scripts/pg-test-server.sh with PG_FSYNC=on, so every COMMIT is
# flushed), SIPp MESSAGE load over UDP on 127.0.0.1, in the same run:
#
#   (a) committed rows per second, archive plugin in `deliver` mode (the
#       writer archives behind, so the load is not held back by commits):
#       SIPp at a fixed rate for a bounded time into one hop, then into two
#       hops at once (the same rate into each); max(messages.id) sampled
#       every 0.5 s, and each hop's sipwarden_archive_committed_total /
#       _refused_total from its admin /metrics. Hop CPU us per message.
#   (b) end to end in `reject` mode (archive before forward), one hop
#       against two hops, the SIPp load split evenly over the two hops
#       directly (no Kamailio in front; examples/cluster has that set-up):
#       CPU per transaction of the sipwarden processes and of the PostgreSQL
#       server processes at a fixed rate, then the highest rate with no
#       failure (steps of STEP_SECS; a step passes with 0 failed, every call
#       successful and an achieved rate >= 95% of the target).
#
#   bench/pg_archive.sh [--quick]
#
# Hops run the archive plugin only (batch_rows 500, batch_ms 20, the
# defaults), max_transactions 1,000,000 so completed transactions kept for
# Timer J never refuse a step. Environment: SIPWARDEN_BIN, SIPP_BIN,
# PG_PORT_BASE (27000), PG_ROWS_RATE (part (a)'s rate into each hop), WARMUP (1: see "warm-up" below), PARTS ("a b": which parts run), UAC_SCENARIO (the
# SIPp UAC scenario, tests/sipp/uac_message.xml: every MESSAGE between the
# same two participants, so one pager conversation). Raw output stays in a
# work directory under /tmp.

set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CMDLINE="bench/pg_archive.sh${*:+ $*}"
SCRIPT_NAME=pg_archive.sh
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
parse_quick_option "$@"

find_tools
command -v psql > /dev/null || die "psql not found (apt-get install -y postgresql)"
command -v curl > /dev/null || die "curl not found"
CLK_TCK=$(getconf CLK_TCK)

BASE=${PG_PORT_BASE:-27000}
UAS_PORT=$((BASE + 91))
declare -A HOP_PORT=([1]=$((BASE + 61)) [2]=$((BASE + 62)))
declare -A ADMIN_PORT=([1]=$((BASE + 81)) [2]=$((BASE + 82)))
declare -A UAC_PORT=([1]=$((BASE + 71)) [2]=$((BASE + 72)))
TOKEN=bench-metrics-token-0123456789

if [ "$QUICK" = 1 ]; then
    ROWS_RATE=2000; ROWS_SECS=4; DRAIN_SECS=40; CPU_RATE=300; CPU_SECS=4; STEPS="250 500 1000"; STEP_SECS=3
else
    ROWS_RATE=2000; ROWS_SECS=8; DRAIN_SECS=90; CPU_RATE=300; CPU_SECS=8
    STEPS="250 500 750 1000 1500 2000 3000 4000"; STEP_SECS=5
fi
ROWS_RATE=${PG_ROWS_RATE:-$ROWS_RATE}
PARTS=${PARTS:-a b}
UAC_SCN=${UAC_SCENARIO:-$SCN/uac_message.xml}

make_work_dir pg-archive

declare -A HOP_PID=()
UAS_PID="" PG_DIR="" SAMPLER_PID=""
declare -a UAC_PIDS=()

cleanup() {
    local p
    trap - EXIT INT TERM
    stop_pid "$SAMPLER_PID"
    for p in "${UAC_PIDS[@]}"; do stop_pid "$p"; done
    stop_pid "${HOP_PID[1]:-}"; stop_pid "${HOP_PID[2]:-}"
    stop_pid "$UAS_PID"
    if [ -n "$PG_DIR" ]; then
        "$ROOT/scripts/pg-test-server.sh" stop "$PG_DIR"
        rm -rf "$PG_DIR"
    fi
}
trap cleanup EXIT
trap 'echo "pg_archive.sh: interrupted" >&2; exit 130' INT TERM

pg_pids() {  # the postmaster and its children (backends, WAL writer, checkpointer...)
    local pm
    pm=$(head -1 "$PG_DIR/data/postmaster.pid" 2>/dev/null) || return 0
    echo "$pm" $(ps --ppid "$pm" -o pid= 2>/dev/null)
}
sql() { psql "$URL" -Atqc "$1" 2>/dev/null; }
max_id() { sql "SELECT coalesce(max(id), 0) FROM messages"; }
metric() {  # metric HOP NAME: a sample of the hop's /metrics (0 if absent)
    curl -s -m 2 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:${ADMIN_PORT[$1]}/metrics" |
        awk -v n="$2" '$1 == n {v = $2} END {print v + 0}'
}
per_msg_us() {  # per_msg_us TICKS MESSAGES
    awk -v t="$1" -v c="$CLK_TCK" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", t * 1e6 / c / s; else print "n/a" }'
}

start_hops() {  # start_hops MODE COUNT: COUNT hops with the archive plugin in MODE
    local mode=$1 count=$2 h
    for h in $(seq "$count"); do
        cat > "$WORK/hop$h-$mode.json" <<JSON
{"listen": ["udp:127.0.0.1:${HOP_PORT[$h]}"], "upstreams": ["127.0.0.1:$UAS_PORT"],
 "log_level": "warning", "max_transactions": 1000000,
 "admin": {"listen": "127.0.0.1:${ADMIN_PORT[$h]}",
           "tokens": [{"name": "bench", "role": "metrics", "token": "$TOKEN"}]},
 "archive": {"url": "$URL", "hop_id": "bench-hop$h", "batch_rows": 500, "batch_ms": 20},
 "plugins": [{"plugin": "archive", "on_archive_failure": "$mode"}]}
JSON
        "$WORK/sipwarden" run --config "$WORK/hop$h-$mode.json" >> "$WORK/hop$h-$mode.log" 2>&1 &
        HOP_PID[$h]=$!
    done
    for h in $(seq "$count"); do wait_port udp "${HOP_PORT[$h]}" "${HOP_PID[$h]}"; done
    sleep 0.5
}
stop_hops() { stop_pid "${HOP_PID[1]:-}"; stop_pid "${HOP_PID[2]:-}"; HOP_PID=(); }

# run_uacs NAME RATE SECS HOPS: one SIPp UAC per hop (1 or 2) at RATE/HOPS
# each for SECS seconds, in parallel; sets ok (all succeeded at >= 95% of the
# rate), success, failed, rate (summed).
run_uacs() {
    local name=$1 tgt=$2 secs=$3 nh=$4 h each count tmo dir
    each=$((tgt / nh)); count=$((each * secs)); tmo=$((secs + 30))
    UAC_PIDS=()
    for h in $(seq "$nh"); do
        dir=$WORK/$name-h$h; mkdir -p "$dir"
        (cd "$dir" && exec "$SIPP_BIN" -sf "$UAC_SCN" "127.0.0.1:${HOP_PORT[$h]}" -i 127.0.0.1 \
            -p "${UAC_PORT[$h]}" -s bob -m "$count" -r "$each" -rp 1000 -timeout "${tmo}s" -timeout_error \
            -nostdin -trace_stat -stf stat.csv -fd 1 -trace_err > sipp.out 2>&1) &
        UAC_PIDS+=($!)
    done
    local rcs=0
    for h in $(seq "$nh"); do wait "${UAC_PIDS[$((h - 1))]}" || rcs=1; done
    UAC_PIDS=()
    local s_sum=0 f_sum=0 r_sum=0
    ok=1
    for h in $(seq "$nh"); do
        stat_ok=0
        eval "$(python3 "$STATS" stat "$WORK/$name-h$h/stat.csv" 2>/dev/null)"
        [ "$stat_ok" = 1 ] || { success=0 failed=$count rate=0; }
        s_sum=$((s_sum + success)); f_sum=$((f_sum + failed))
        r_sum=$(awk -v a="$r_sum" -v b="$rate" 'BEGIN {printf "%.0f", a + b}')
        { [ "$failed" = 0 ] && [ "$success" = "$count" ] &&
          awk -v a="$rate" -v t="$each" 'BEGIN {exit !(a >= 0.95 * t)}'; } || ok=0
    done
    [ "$rcs" = 0 ] || ok=0
    success=$s_sum failed=$f_sum rate=$r_sum
    log "  $name: success=$success failed=$failed rate=$rate/s ok=$ok"
}

# ------------------------------------------------------------------ start up
log "work directory: $WORK"
PG_DIR=$(mktemp -d /tmp/sipwarden-pg-archive-db.XXXXXX) || die "mktemp failed"
URL=$(PG_FSYNC=on "$ROOT/scripts/pg-test-server.sh" start "$PG_DIR") || die "PostgreSQL did not start"
log "PostgreSQL (fsync on): $URL"
(cd "$WORK" && exec "$SIPP_BIN" -sf "$SCN/uas_message.xml" -i 127.0.0.1 -p "$UAS_PORT" -nostdin \
    -trace_err > uas.out 2>&1) &
UAS_PID=$!
wait_port udp "$UAS_PORT" "$UAS_PID"

# ------------------------------------------------------------------ warm-up
# On a new, never analyzed archive the writer's prepared statements get
# generic plans from empty tables. On c26ceae that made the final-code
# UPDATE search the messages_sender index (every row of one sender) instead
# of the UNIQUE (call_id, cseq, sender) one, O(rows) per message
# (bench/RESULTS.md, "Cold archive"). WARMUP=1 (default) archives a few
# thousand rows, runs ANALYZE and starts the measured hops afresh, so the
# figures are the steady state; WARMUP=0 measures the cold archive.
if [ "${WARMUP:-1}" = 1 ]; then
    log "warm-up: 2000 MESSAGEs, then ANALYZE"
    start_hops deliver 1
    run_uacs warmup 1000 2 1
    sleep 2
    stop_hops
    sql "ANALYZE" > /dev/null
fi
put warmup "${WARMUP:-1}"

# ---------------------------------------- (a) committed rows / s, deliver
# rows_run NAME HOPS: ROWS_RATE into each hop for ROWS_SECS while a sampler
# records max(messages.id) every 0.5 s; after SIPp, waits (20 s at most)
# until no row came for 2 s.
rows_run() {
    local name=$1 nh=$2 h id0 c0=0 r0=0 c1=0 r1=0 i samples=$WORK/$1.samples
    start_hops deliver "$nh"
    id0=$(max_id)
    for h in $(seq "$nh"); do
        c0=$((c0 + $(metric "$h" sipwarden_archive_committed_total)))
        r0=$((r0 + $(metric "$h" sipwarden_archive_refused_total)))
    done
    local hop_pids="" pgp th0 tp0 th1 tp1
    for h in $(seq "$nh"); do hop_pids="$hop_pids ${HOP_PID[$h]}"; done
    pgp=$(pg_pids); th0=$(ticks $hop_pids); tp0=$(ticks $pgp)
    echo "$(date +%s.%N) $id0" > "$samples"
    (for i in $(seq $(( (ROWS_SECS + 90) * 2 ))); do
         [ -e "$samples.stop" ] && exit 0
         sleep 0.5
         echo "$(date +%s.%N) $(max_id)" >> "$samples"
     done) &
    SAMPLER_PID=$!
    run_uacs "$name" $((ROWS_RATE * nh)) "$ROWS_SECS" "$nh"
    # Drained: every hop's writer queue empty (DRAIN_SECS at most; a writer
    # that has not caught up by then keeps its rows out of the figures).
    for i in $(seq $((DRAIN_SECS * 2))); do
        local depth=0
        for h in $(seq "$nh"); do depth=$((depth + $(metric "$h" sipwarden_archive_queue_depth))); done
        [ "$depth" = 0 ] && break
        sleep 0.5
    done
    put "${name}_left" "$depth"
    sleep 1
    touch "$samples.stop"; wait "$SAMPLER_PID"; SAMPLER_PID=""
    th1=$(ticks $hop_pids); tp1=$(ticks $pgp)
    for h in $(seq "$nh"); do
        c1=$((c1 + $(metric "$h" sipwarden_archive_committed_total)))
        r1=$((r1 + $(metric "$h" sipwarden_archive_refused_total)))
    done
    # rows/s from the first sample to the sample where the last row arrived;
    # peak: the largest growth between two samples, per second.
    eval "$(awk 'NR == 1 {t0 = $1; id0 = $2; prev = $2; pt = $1; next}
                 { if ($2 != prev) {tl = $1; il = $2}
                   d = ($2 - prev) / ($1 - pt); if (d > peak) peak = d; prev = $2; pt = $1 }
                 END { r = il - id0; printf "rows=%d rps=%.0f peak=%.0f\n", r, (tl > t0) ? r / (tl - t0) : 0, peak }' "$samples")"
    put "${name}_offered" "$((ROWS_RATE * nh))"
    put "${name}_sipp" "$success/$failed $rate/s"
    put "${name}_rows" "$rows"
    put "${name}_committed" "$((c1 - c0))"
    put "${name}_refused" "$((r1 - r0))"
    put "${name}_rows_per_s" "$rps"
    put "${name}_peak" "$peak"
    put "${name}_hop_us" "$(per_msg_us $((th1 - th0)) "$success")"
    put "${name}_pg_us" "$(per_msg_us $((tp1 - tp0)) "$rows")"
    log "  $name: rows=$rows committed=$((c1 - c0)) refused=$((r1 - r0)) $rps rows/s, peak $peak"
    stop_hops
}
if [[ " $PARTS " == *" a "* ]]; then
    log "(a) deliver mode, ${ROWS_RATE}/s into each hop for ${ROWS_SECS} s"
    rows_run rows1 1
    rows_run rows2 2
fi

# ------------------------------------------------- (b) reject mode, 1 vs 2
declare -A MAXR=()
[[ " $PARTS " == *" b "* ]] && B_HOPS="1 2" || B_HOPS=""
for nh in $B_HOPS; do
    log "(b) reject mode, $nh hop(s): CPU at ${CPU_RATE}/s, then steps $STEPS"
    start_hops reject "$nh"
    hop_pids=""; for h in $(seq "$nh"); do hop_pids="$hop_pids ${HOP_PID[$h]}"; done
    pgp=$(pg_pids)
    id0=$(max_id); th0=$(ticks $hop_pids); tp0=$(ticks $pgp)
    run_uacs "cpu$nh" "$CPU_RATE" "$CPU_SECS" "$nh"
    sleep 1
    th1=$(ticks $hop_pids); tp1=$(ticks $pgp); id1=$(max_id)
    put "cpu${nh}_sipp" "$success/$failed $rate/s"
    put "cpu${nh}_rows" "$((id1 - id0))"
    put "cpu${nh}_hop_us" "$(per_msg_us $((th1 - th0)) "$success")"
    put "cpu${nh}_pg_us" "$(per_msg_us $((tp1 - tp0)) "$success")"
    MAXR[$nh]=0
    for r in $STEPS; do
        sleep 1
        run_uacs "step$nh-$r" "$r" "$STEP_SECS" "$nh"
        put "step${nh}_$r" "$success/$failed $rate/s"
        [ "$ok" = 1 ] || break
        MAXR[$nh]=$r
    done
    put "max${nh}" "${MAXR[$nh]}"
    stop_hops
done
sleep 1
put verify "$("$WORK/sipwarden" archive verify --db "$URL" 2>&1 | head -1)"
put total_rows "$(sql "SELECT count(*) FROM messages")"
put distinct_rows "$(sql "SELECT count(DISTINCT (call_id, cseq, sender)) FROM messages")"

# ---------------------------------------------------------------- report
{
    echo "Command: \`$CMDLINE\`"
    echo
    echo "Machine: $(nproc) CPUs, $(uname -r); $(date -u '+%Y-%m-%d %H:%M UTC'); load at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "sipwarden sha256 $SW_SHA...; $(psql --version | head -1), server fsync=on, synchronous_commit=on; CLK_TCK=$CLK_TCK; warm-up and ANALYZE first: $([ "$(getv warmup)" = 1 ] && echo yes || echo no)"
    echo
    echo "(a) deliver mode, SIPp ${ROWS_RATE} MESSAGE/s into each hop for ${ROWS_SECS} s:"
    echo
    echo "| hops | offered (msg/s) | SIPp successful / failed, achieved | rows | committed (metrics) / refused / still queued | rows/s, load start to last row | peak rows/s (0.5 s) | hop CPU us / msg | PostgreSQL CPU us / row |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for nh in 1 2; do
        n=rows$nh
        echo "| $nh | $(getv ${n}_offered) | $(getv ${n}_sipp) | $(getv ${n}_rows) | $(getv ${n}_committed) / $(getv ${n}_refused) / $(getv ${n}_left) | $(getv ${n}_rows_per_s) | $(getv ${n}_peak) | $(getv ${n}_hop_us) | $(getv ${n}_pg_us) |"
    done
    echo
    echo "(b) reject mode, SIPp load split evenly over the hops (no Kamailio):"
    echo
    echo "| hops | at ${CPU_RATE}/s: successful / failed | rows | sipwarden CPU us / MESSAGE (all hops) | PostgreSQL CPU us / MESSAGE | highest rate with no failure (msg/s, total) |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
    for nh in 1 2; do
        echo "| $nh | $(getv cpu${nh}_sipp) | $(getv cpu${nh}_rows) | $(getv cpu${nh}_hop_us) | $(getv cpu${nh}_pg_us) | $(getv max$nh) |"
    done
    echo
    echo "Steps (successful/failed, achieved total rate):"
    for nh in 1 2; do
        echo "- $nh hop(s): $(awk -F'\t' -v p="step${nh}_" 'index($1, p) == 1 {sub(p, "", $1); printf "%s: %s; ", $1, $2}' "$RES")"
    done
    echo
    echo "Archive at the end: $(getv total_rows) rows, $(getv distinct_rows) distinct (Call-ID, CSeq, sender); verify: $(getv verify)"
    echo "Raw output: $WORK"
} | tee "$WORK/report.md"
exit 0
