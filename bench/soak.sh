#!/usr/bin/env bash
# Soak (issue 8): a bounded run of mixed MESSAGE and call traffic through the
# real sipwarden binary on 127.0.0.1, with the archive and call_log writing
# to an SQLite file, then a check that the archive holds what the callers saw.
#
#   bench/soak.sh [--quick] [--duration SECONDS] [--keep]
#
#   --quick          about 40 s of traffic instead of about 180 s
#   --duration S     S seconds of traffic (10 to 3600)
#   --keep           keep the work directory even when everything passed
#
# Traffic (concurrent SIPp UACs, each bounded by a call count (-m) and a
# timeout; one SIPp UAS, bench/soak/uas_mixed.xml, answers everything):
#   plain    tests/sipp/uac_message.xml          200 (archived "delivered")
#   link     tests/sipp/uac_message_link.xml     200, link defanged ("modified")
#   url      tests/sipp/uac_message_blocked.xml  403 from url_filter (.exe link)
#   keyword  bench/soak/uac_message_keyword.xml  403 from keyword (lexicon falcon)
#   file     bench/soak/uac_message_file.xml     403 from file_filter (.exe offer)
#   calls    tests/sipp/uac_invite.xml           INVITE/180/200/ACK, hold, BYE/200
# A UAC call counts as successful only when it got the answer it expects
# (the 403s must carry the blocking plugin's Warning).
#
# Reports: sent, delivered (2xx at the UACs and MESSAGEs received by the
# UAS), blocked, failed; archived message rows (read from the SQLite file
# after SIGTERM has drained the writer) and the invariant
#   archived rows == delivered + blocked            -> PASS / FAIL
# call rows in the call log against calls made; sipwarden RSS at start and
# end (and a series every 10 s); CPU microseconds per transaction (utime +
# stime of the whole process, archive writer thread included, from
# /proc/PID/stat; a MESSAGE is one transaction, a call two: INVITE and BYE).
#
# Environment overrides: SIPWARDEN_BIN, SIPP_BIN, SOAK_PORT_BASE (default
# 28000: hop BASE+10 udp+tcp, UAS BASE+20, UACs BASE+31..BASE+36; a layout
# unlike bench/e2e.sh's, so the same base in both gives no common port),
# SOAK_ARCHIVE_MODE (deliver | reject, default deliver), and the rates per
# second SOAK_RATE_PLAIN (300), SOAK_RATE_LINK (50), SOAK_RATE_URL (30),
# SOAK_RATE_KEYWORD (30), SOAK_RATE_FILE (20), SOAK_RATE_CALLS (40 calls/s),
# SOAK_CALL_HOLD_MS (1000).
# Exit status: 0 when the invariants hold and nothing failed, 1 otherwise,
# 2 on a usage error. Raw output stays in a work directory under /tmp.

set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CMDLINE="bench/soak.sh${*:+ $*}"
DURATION=180
KEEP=0
usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) DURATION=40 ;;
        --duration)
            [ $# -ge 2 ] || { echo "soak.sh: --duration needs a number of seconds" >&2; exit 2; }
            DURATION=$2; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "soak.sh: unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$DURATION" in
    ''|*[!0-9]*) echo "soak.sh: --duration: expected a whole number of seconds, got '$DURATION'" >&2; exit 2 ;;
esac
if [ "$DURATION" -lt 10 ] || [ "$DURATION" -gt 3600 ]; then
    echo "soak.sh: --duration: expected 10 to 3600 seconds, got $DURATION" >&2; exit 2
fi

SCRIPT_NAME=soak.sh
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"

find_tools
SOAK_SCN=$ROOT/bench/soak

command -v python3 >/dev/null || die "python3 not found"
command -v ss >/dev/null || die "ss (iproute2) not found"
python3 -c 'import sqlite3' 2>/dev/null || die "python3 has no sqlite3 module"
for f in "$STATS" "$SCN/uac_message.xml" "$SCN/uac_message_link.xml" "$SCN/uac_message_blocked.xml" \
         "$SCN/uac_invite.xml" "$SOAK_SCN/uas_mixed.xml" "$SOAK_SCN/uac_message_keyword.xml" \
         "$SOAK_SCN/uac_message_file.xml"; do
    [ -f "$f" ] || die "missing file: $f"
done
CLK_TCK=$(getconf CLK_TCK) || die "getconf CLK_TCK failed"

# ---------------------------------------------------------------- parameters
BASE=${SOAK_PORT_BASE:-28000}
case "$BASE" in ''|*[!0-9]*) die "SOAK_PORT_BASE: expected a port number, got '$BASE'" ;; esac
[ "$BASE" -ge 1024 ] && [ "$BASE" -le 65000 ] || die "SOAK_PORT_BASE: expected 1024 to 65000, got $BASE"
SW_PORT=$((BASE + 10))
UAS_PORT=$((BASE + 20))
ARCHIVE_MODE=${SOAK_ARCHIVE_MODE:-deliver}
case "$ARCHIVE_MODE" in deliver|reject) ;; *) die "SOAK_ARCHIVE_MODE: expected deliver or reject, got '$ARCHIVE_MODE'" ;; esac
HOLD_MS=${SOAK_CALL_HOLD_MS:-1000}

# name scenario rate expected-answer; the UAC of stream i uses port BASE+30+i
STREAMS="plain link url keyword file calls"
declare -A SCEN=(
    [plain]=$SCN/uac_message.xml [link]=$SCN/uac_message_link.xml
    [url]=$SCN/uac_message_blocked.xml [keyword]=$SOAK_SCN/uac_message_keyword.xml
    [file]=$SOAK_SCN/uac_message_file.xml [calls]=$SCN/uac_invite.xml)
declare -A RATE=(
    [plain]=${SOAK_RATE_PLAIN:-300} [link]=${SOAK_RATE_LINK:-50} [url]=${SOAK_RATE_URL:-30}
    [keyword]=${SOAK_RATE_KEYWORD:-30} [file]=${SOAK_RATE_FILE:-20} [calls]=${SOAK_RATE_CALLS:-40})
declare -A KIND=([plain]=delivered [link]=delivered [url]=blocked [keyword]=blocked [file]=blocked [calls]=call)
for s in $STREAMS; do
    case "${RATE[$s]}" in ''|*[!0-9]*) die "rate of stream $s: expected a whole number, got '${RATE[$s]}'" ;; esac
done
case "$HOLD_MS" in ''|*[!0-9]*) die "SOAK_CALL_HOLD_MS: expected milliseconds, got '$HOLD_MS'" ;; esac

WORK=$(mktemp -d /tmp/sipwarden-soak.XXXXXX) || die "mktemp failed"
# Run a private copy: a rebuild during the run must not swap the binary or
# its plugins (looked for in plugins/ beside the binary).
cp "$SW_BIN" "$WORK/sipwarden" || die "cannot copy $SW_BIN"
mkdir -p "$WORK/plugins"
cp "$(dirname "$SW_BIN")"/plugins/sipwarden_*.so "$WORK/plugins/" ||
    die "cannot copy the plugins from $(dirname "$SW_BIN")/plugins (run scripts/build.sh release)"
SW_RUN=$WORK/sipwarden
SW_SHA=$(sha256sum "$SW_BIN" | cut -c1-12)
DB=$WORK/archive.db
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
awk '{exit !($1 > 1.0)}' /proc/loadavg &&
    echo "soak.sh: warning: load average is $LOAD_START before the run; figures will be noisy" >&2

# ------------------------------------------------------- process bookkeeping
SW_PID="" UAS_PID="" SAMPLER_PID=""
declare -A UAC_PID=()
RESULT=1


cleanup() {
    local s
    trap - EXIT INT TERM
    for s in "${!UAC_PID[@]}"; do stop_pid "${UAC_PID[$s]}"; done
    stop_pid "$SAMPLER_PID"; stop_pid "$UAS_PID"; stop_pid "$SW_PID"
    if [ "$RESULT" = 0 ] && [ "$KEEP" = 0 ]; then
        rm -rf "$WORK"
    else
        echo "soak.sh: raw output kept in $WORK" >&2
    fi
}
trap cleanup EXIT
trap 'echo "soak.sh: interrupted" >&2; exit 130' INT TERM


port_free() {
    [ -z "$(ss -Hlnut "sport = :$1" 2>/dev/null)" ] || die "port $1 is in use (set SOAK_PORT_BASE)"
}

uticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12}'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
mb() { awk -v k="${1:-0}" 'BEGIN {printf "%.1f", k / 1024}'; }
thread_ticks() {  # "TID:ticks ..." for each thread of PID (utime+stime)
    local t
    for t in /proc/"$1"/task/*; do
        printf '%s:%s ' "${t##*/}" "$(sed 's/^.*) //' "$t/stat" | awk '{print $12 + $13}')"
    done 2>/dev/null
}

# ------------------------------------------------------------------ config
cat > "$WORK/sipwarden.json" <<EOF
// Written by bench/soak.sh: the chain of examples/sipwarden.json without
// banner and lua_policy (its example rate_limit.lua would refuse a soak's
// rates), with a keyword lexicon that blocks, and no rate limits.
{
  "listen": ["udp:127.0.0.1:$SW_PORT", "tcp:127.0.0.1:$SW_PORT"],
  "advertise": "127.0.0.1",
  "upstreams": ["127.0.0.1:$UAS_PORT"],
  "record_route": "dialog",
  "access": {"allow": ["127.0.0.0/8"], "denied": "reject"},
  "log_level": "warning",
  "shutdown_grace_ms": 5000,
  "archive": {"path": "$DB", "batch_rows": 500, "batch_ms": 20},
  "plugins": [
    {"plugin": "file_filter"},
    {"plugin": "url_filter", "action": "defang", "allow_intranet": ["example.com", "10.0.0.0/8"],
     "notice": "[links disabled by policy] "},
    {"plugin": "keyword", "lexicons": [
      {"name": "cards", "action": "redact", "template": "payment_card"},
      {"name": "falcon", "action": "block", "patterns": ["project\\\\s+falcon"], "reason": "Confidential project"}]},
    {"plugin": "call_log"},
    {"plugin": "archive", "on_archive_failure": "$ARCHIVE_MODE"}
  ]
}
EOF
"$SW_RUN" check-config "$WORK/sipwarden.json" > "$WORK/check-config.out" 2>&1 ||
    die "the generated config is refused: $(cat "$WORK/check-config.out")"

# ------------------------------------------------------------------ start up
log "work directory: $WORK; $DURATION s of traffic; archive mode $ARCHIVE_MODE"
port_free "$SW_PORT"; port_free "$UAS_PORT"
i=0
for s in $STREAMS; do i=$((i + 1)); port_free $((BASE + 30 + i)); done

mkdir -p "$WORK/uas"
(cd "$WORK/uas" && exec "$SIPP_BIN" -sf "$SOAK_SCN/uas_mixed.xml" -i 127.0.0.1 -p "$UAS_PORT" \
    -nostdin -trace_counts -trace_stat -stf stat.csv -fd 1 -trace_err > sipp.out 2>&1) &
UAS_PID=$!
wait_port udp "$UAS_PORT" "$UAS_PID"

(cd "$WORK" && exec "$SW_RUN" run --config "$WORK/sipwarden.json" > "$WORK/sipwarden.log" 2>&1) &
SW_PID=$!
SW_PID_SEEN=$SW_PID
wait_port udp "$SW_PORT" "$SW_PID"
wait_port tcp "$SW_PORT" "$SW_PID"
sleep 1
RSS_START=$(rss_kb "$SW_PID")
log "sipwarden pid $SW_PID, RSS $(mb "$RSS_START") MB; UAS pid $UAS_PID"

( t=0; for _ in $(seq $(( (DURATION + 120) / 10 + 1 ))); do
      kill -0 "$SW_PID" 2>/dev/null || break
      echo "$t $(rss_kb "$SW_PID")"; sleep 10; t=$((t + 10)); done ) > "$WORK/rss.txt" &
SAMPLER_PID=$!

# ------------------------------------------------------------------ traffic
T0=$(ticks "$SW_PID"); U0=$(uticks "$SW_PID"); TH0=$(thread_ticks "$SW_PID")
WALL0=$(date +%s.%N)
declare -A COUNT=()
i=0
for s in $STREAMS; do
    i=$((i + 1))
    r=${RATE[$s]}
    COUNT[$s]=$(( r * DURATION ))
    [ "${COUNT[$s]}" -gt 0 ] || continue
    mkdir -p "$WORK/$s"
    extra=()
    [ "$s" = calls ] && extra=(-d "$HOLD_MS")
    # -timeout bounds each UAC: its calls are spread over DURATION s, plus
    # room for a call's own timers (Timer F is 32 s at the default T1).
    (cd "$WORK/$s" && exec "$SIPP_BIN" -sf "${SCEN[$s]}" "127.0.0.1:$SW_PORT" -i 127.0.0.1 \
        -p $((BASE + 30 + i)) -s bob -m "${COUNT[$s]}" -r "$r" -rp 1000 \
        -timeout "$((DURATION + 60))s" -timeout_error -nostdin \
        -trace_stat -stf stat.csv -fd 1 -trace_err "${extra[@]}" > sipp.out 2>&1) &
    UAC_PID[$s]=$!
done
log "started UACs: $(for s in $STREAMS; do printf '%s %s/s x %s, ' "$s" "${RATE[$s]}" "${COUNT[$s]}"; done)"

# Wait for every UAC, at most DURATION + 90 s in all.
deadline=$(( $(date +%s) + DURATION + 90 ))
for s in "${!UAC_PID[@]}"; do
    for _ in $(seq $(( (DURATION + 90) * 2 ))); do
        kill -0 "${UAC_PID[$s]}" 2>/dev/null || break
        [ "$(date +%s)" -ge "$deadline" ] && break
        sleep 0.5
        kill -0 "$SW_PID" 2>/dev/null || die "sipwarden (pid $SW_PID) died during the run; see $WORK/sipwarden.log"
    done
    if kill -0 "${UAC_PID[$s]}" 2>/dev/null; then
        log "UAC $s still running at the deadline: stopped"
        stop_pid "${UAC_PID[$s]}" USR1
    fi
    wait "${UAC_PID[$s]}" 2>/dev/null
    echo $? > "$WORK/$s/rc"
    unset "UAC_PID[$s]"
done
WALL1=$(date +%s.%N)
# Let lingering retransmission timers and the last archive batch settle
# before the end-of-run figures.
sleep 2
T1=$(ticks "$SW_PID"); U1=$(uticks "$SW_PID"); TH1=$(thread_ticks "$SW_PID")
RSS_END=$(rss_kb "$SW_PID")
HWM=$(hwm_kb "$SW_PID")
log "traffic done in $(awk -v a="$WALL0" -v b="$WALL1" 'BEGIN {printf "%.0f", b - a}') s; RSS $(mb "$RSS_END") MB"

# ------------------------------------------------- drain: SIGTERM, then read
SW_RC=""
kill -TERM "$SW_PID" 2>/dev/null
for _ in $(seq 300); do kill -0 "$SW_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SW_PID" 2>/dev/null; then
    log "sipwarden did not exit 30 s after SIGTERM: killed"
    kill -KILL "$SW_PID" 2>/dev/null
    SW_RC=killed
fi
wait "$SW_PID" 2>/dev/null; rc=$?
[ -z "$SW_RC" ] && SW_RC=$rc
SW_PID=""
stop_pid "$SAMPLER_PID"; SAMPLER_PID=""
stop_pid "$UAS_PID"; UAS_PID=""   # SIGTERM makes SIPp write its last counts

# ---------------------------------------------------------------- figures
declare -A OK=() FAIL=() SENT=() RETR=()
sent=0 delivered=0 blocked=0 failed=0 calls_ok=0 calls_sent=0 retrans=0
for s in $STREAMS; do
    success=0 failed_s=0 created=0 retrans_s=0
    if [ -f "$WORK/$s/stat.csv" ]; then
        eval "$(python3 "$STATS" stat "$WORK/$s/stat.csv" 2>/dev/null | sed 's/^failed=/failed_s=/; s/^retrans=/retrans_s=/')"
    fi
    OK[$s]=$success FAIL[$s]=$failed_s SENT[$s]=$created RETR[$s]=$retrans_s
    # Calls SIPp never created (stopped early) count as failed too.
    missing=$(( COUNT[$s] - created )); [ "$missing" -lt 0 ] && missing=0
    FAIL[$s]=$(( failed_s + missing ))
    failed=$(( failed + FAIL[$s] )); retrans=$(( retrans + retrans_s ))
    case ${KIND[$s]} in
        delivered) delivered=$(( delivered + success )); sent=$(( sent + created )) ;;
        blocked) blocked=$(( blocked + success )); sent=$(( sent + created )) ;;
        call) calls_ok=$success; calls_sent=$created ;;
    esac
done
msg_failed=$(( failed - FAIL[calls] ))

# MESSAGEs and INVITEs the UAS received (SIPp -trace_counts, last row)
uas_counts=$(ls "$WORK"/uas/uas_mixed_*_counts.csv 2>/dev/null | head -1)
uas_msgs=n/a uas_invites=n/a
if [ -n "$uas_counts" ]; then
    eval "$(awk -F';' 'NR == 1 {for (i = 1; i <= NF; i++) col[$i] = i; next}
        {last = $0} END {n = split(last, f, ";");
        printf "uas_msgs=%s uas_invites=%s\n", f[col["1_MESSAGE_Recv"]], f[col["0_INVITE_Recv"]]}' "$uas_counts")"
fi

# The archive, read after sipwarden committed its queue and exited
UAC_SOURCES=$(i=0; for s in $STREAMS; do i=$((i + 1)); printf '127.0.0.1:%s ' $((BASE + 30 + i)); done)
eval "$(python3 - "$DB" "$UAC_SOURCES" <<'PY'
import sqlite3, sys
try:
    db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
    q = lambda sql: db.execute(sql).fetchone()[0]
    print("db_ok=1")
    print("arch_rows=%d" % q("SELECT count(*) FROM messages"))
    for verdict in ("delivered", "modified", "blocked", "failed"):
        print("arch_%s=%d" % (verdict, q("SELECT count(*) FROM messages WHERE verdict = '%s'" % verdict)))
    print("arch_code_2xx=%d" % q("SELECT count(*) FROM messages WHERE final_code BETWEEN 200 AND 299"))
    print("arch_code_403=%d" % q("SELECT count(*) FROM messages WHERE final_code = 403"))
    print("arch_code_other=%d" % q("SELECT count(*) FROM messages WHERE final_code NOT BETWEEN 200 AND 299 AND final_code <> 403"))
    print("arch_rules='%s'" % ",".join("%s=%d" % r for r in db.execute(
        "SELECT rules, count(*) FROM messages WHERE verdict = 'blocked' GROUP BY rules ORDER BY rules")).replace("'", ""))
    # Rows from anything but the soak's own UACs: another run sending to
    # this hop's port (a port collision) would spoil every count.
    ours = sys.argv[2].split()
    print("arch_foreign=%d" % sum(n for source, n in db.execute(
        "SELECT source, count(*) FROM messages GROUP BY source") if source not in ours))
    print("call_rows=%d" % q("SELECT count(*) FROM calls"))
    print("call_answered=%d" % q("SELECT count(*) FROM calls WHERE disposition = 'answered' AND end_ms IS NOT NULL"))
    print("call_dispositions='%s'" % ",".join("%s=%d" % r for r in db.execute(
        "SELECT disposition, count(*) FROM calls GROUP BY disposition ORDER BY disposition")).replace("'", ""))
except Exception as e:
    print("db_ok=0")
    print("db_error='%s'" % str(e).replace("'", ""))
PY
)"
if [ "${db_ok:-0}" = 1 ]; then
    "$SW_RUN" archive verify --db "$DB" > "$WORK/verify.out" 2>&1
    verify_rc=$?
    verify="$(tail -1 "$WORK/verify.out") (exit $verify_rc)"
else
    arch_rows=n/a call_rows=n/a verify="not run"
fi

transactions=$(( OK[plain] + OK[link] + OK[url] + OK[keyword] + OK[file] + 2 * calls_ok ))
cpu_ticks=$(( T1 - T0 )); cpu_uticks=$(( U1 - U0 ))
cpu_us=$(awk -v t="$cpu_ticks" -v c="$CLK_TCK" -v n="$transactions" \
    'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / c / n; else print "n/a" }')
wall=$(awk -v a="$WALL0" -v b="$WALL1" 'BEGIN {printf "%.1f", b - a}')
# CPU ticks of each thread over the traffic phase, busiest first; the
# threads all share the process name, so they are told apart by TID (the
# main thread's TID is the PID).
thread_cpu=$(awk -v a="$TH0" -v b="$TH1" -v pid="$SW_PID_SEEN" 'BEGIN {
    n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, ":"); s[kv[1]] = kv[2] }
    n = split(b, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, ":"); e[kv[1]] = kv[2] }
    for (k in e) if (e[k] - s[k] > 0) printf "%d %s\n", e[k] - s[k], (k == pid ? "main " k : "thread " k) }' |
    sort -rn | awk '{printf "%s%s %s: %d", (NR > 1 ? ", " : ""), $2, $3, $1}')

# ------------------------------------------------------------- invariants
verdict() { if [ "$1" = "$2" ]; then echo PASS; else echo FAIL; fi; }
inv_archive=$(verdict "$arch_rows" "$(( delivered + blocked ))")
inv_uas=$(verdict "$uas_msgs" "$delivered")
inv_calls=$(verdict "$call_rows" "$calls_sent")
inv_split=FAIL
[ "${db_ok:-0}" = 1 ] && [ "$(( arch_delivered + arch_modified ))" = "$delivered" ] &&
    [ "$arch_blocked" = "$blocked" ] && inv_split=PASS
RESULT=0
for v in "$inv_archive" "$inv_uas" "$inv_calls" "$inv_split"; do [ "$v" = PASS ] || RESULT=1; done
[ "${arch_foreign:-1}" = 0 ] || RESULT=1
[ "${verify_rc:-1}" = 0 ] || RESULT=1
[ "$failed" = 0 ] || RESULT=1
[ "$SW_RC" = 0 ] || RESULT=1
sw_log_lines=$(wc -l < "$WORK/sipwarden.log")

# ---------------------------------------------------------------- report
{
    echo "Command: \`$CMDLINE\` (archive mode $ARCHIVE_MODE)"
    echo
    echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(uname -r); $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "Load average at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "sipwarden binary: $SW_BIN (sha256 $SW_SHA...); $("$SW_RUN" --version 2>&1 | head -1); $("$SIPP_BIN" -v 2>&1 | grep -m1 SIPp | sed 's/^ *//')"
    echo
    echo "| stream | rate /s | planned | sent | answered as expected | failed | retransmissions |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for s in $STREAMS; do
        echo "| $s ($(basename "${SCEN[$s]}")) | ${RATE[$s]} | ${COUNT[$s]} | ${SENT[$s]} | ${OK[$s]} | ${FAIL[$s]} | ${RETR[$s]} |"
    done
    echo
    echo "| measure | value | check |"
    echo "| --- | ---: | --- |"
    echo "| traffic time (s) | $wall | |"
    echo "| MESSAGEs sent | $sent | |"
    echo "| delivered (2xx at the UACs) | $delivered | |"
    echo "| MESSAGEs received by the UAS | $uas_msgs | $inv_uas (= delivered) |"
    echo "| blocked (403 with the plugin's Warning) | $blocked | |"
    echo "| failed: MESSAGEs + calls | $msg_failed + ${FAIL[calls]} | $([ "$failed" = 0 ] && echo PASS || echo FAIL) (= 0) |"
    echo "| archived message rows | $arch_rows | **$inv_archive** (= delivered + blocked = $(( delivered + blocked ))) |"
    echo "| archived by verdict: delivered / modified / blocked | ${arch_delivered:-n/a} / ${arch_modified:-n/a} / ${arch_blocked:-n/a} | $inv_split (delivered+modified = $delivered, blocked = $blocked) |"
    echo "| archived final codes: 2xx / 403 / other | ${arch_code_2xx:-n/a} / ${arch_code_403:-n/a} / ${arch_code_other:-n/a} | |"
    echo "| archived rows from sources other than the soak's UACs | ${arch_foreign:-n/a} | $([ "${arch_foreign:-1}" = 0 ] && echo PASS || echo "FAIL (foreign traffic: a port collision?)") (= 0) |"
    echo "| blocked rows by rule | ${arch_rules:-n/a} | |"
    echo "| calls made (INVITE sent) / completed | $calls_sent / $calls_ok | |"
    echo "| INVITEs received by the UAS | $uas_invites | |"
    echo "| call rows in the call log | $call_rows (${call_dispositions:-n/a}; answered and ended: ${call_answered:-n/a}) | $inv_calls (= calls made) |"
    echo "| \`sipwarden archive verify\` | $verify | |"
    echo "| sipwarden exit status after SIGTERM | $SW_RC | |"
    echo "| sipwarden RSS at start / end / peak (MB) | $(mb "$RSS_START") / $(mb "$RSS_END") / $(mb "$HWM") | |"
    echo "| transactions (MESSAGE = 1, call = 2) | $transactions | |"
    echo "| sipwarden CPU over the traffic: ticks (user) | $cpu_ticks ($cpu_uticks), CLK_TCK=$CLK_TCK | |"
    echo "| **CPU us per transaction** (whole process) | $cpu_us | |"
    echo "| CPU ticks per thread | $thread_cpu | |"
    echo "| SIP retransmissions seen by the UACs | $retrans | |"
    echo "| sipwarden log lines (warning+) | $sw_log_lines | |"
    echo
    echo "RSS (MB) every 10 s: $(awk '{printf "%s%d:%.1f", (NR > 1 ? " " : ""), $1, $2 / 1024}' "$WORK/rss.txt")"
    echo "Result: $([ "$RESULT" = 0 ] && echo PASS || echo FAIL)"
} | tee "$WORK/report.md"
[ "$RESULT" = 0 ] || echo "soak.sh: FAIL; see $WORK (sipwarden.log, */sipp.out, */*errors.log)" >&2
exit "$RESULT"
