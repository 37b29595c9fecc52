#!/usr/bin/env bash
# Archive end to end (issue 5): SIPp UAC -> hop -> SIPp UAS over UDP on
# 127.0.0.1, MESSAGE only, four hops in the same run so their figures are
# comparable:
#   sw     sipwarden relaying (no plugins, as bench/e2e.sh)
#   swa    sipwarden with the archive plugin in reject mode (archive before
#          forward; batch_rows 500, batch_ms 20, the defaults)
#   kam    Kamailio stateless (bench/kamailio/kamailio.cfg)
#   kama   Kamailio stateless + each MESSAGE inserted into SQLite with
#          sqlops/db_sqlite before forward() (bench/kamailio/kamailio-archive.cfg),
#          4 workers (as kam) inserting into one file
#   kama1  the same with 1 worker: no lock contention between writers
#   swa0   (only with SIPWARDEN_BEFORE_BIN) swa with another sipwarden build,
#          for a before/after comparison in the same run
#   swac   swa with signed checkpoints on (issue 18: every_rows 1000,
#          every_seconds 60, the defaults), the retention purges' signatures,
#          the audit trail and the Merkle tree; with --checkpoints the run
#          measures only sw, swa and swac (Kamailio idles), for their cost
#
#   swf    (--house) the full chain of issue 20: url_filter defang with
#          executable links blocked, a banner notice, a Lua sender block
#          list, call_log and the archive in deliver mode
#   sw0, swf0  (--house, SIPWARDEN_BEFORE_BIN) sw and swf with the other
#          build: with --house the run measures only sw0 sw swf0 swf, CPU
#          per MESSAGE at 2,000/s in interleaved rounds (no rate steps), for
#          a before/after comparison of a change that must not cost anything
#
#   bench/e2e_archive.sh [--quick] [--checkpoints | --house]
#
# Measures, for each hop:
#   1. MESSAGE at a fixed rate: hop CPU microseconds per MESSAGE (utime+stime
#      from /proc/PID/stat, every thread of sipwarden including its archive
#      writer, every Kamailio process), successful/failed, and for the
#      archiving hops the rows in the archive against SIPp's successes.
#   2. Highest sustained MESSAGE rate: steps of 5 s; a step passes with 0
#      failed calls, no SIPp timeout and an achieved rate >= 95% of target.
#
# Environment: SIPWARDEN_BIN, KAMAILIO_BIN, SIPP_BIN, E2E_PORT_BASE (26000),
# KAM_CHILDREN (default: the cfg's 4). Needs kamailio-sqlite-modules and
# the sqlite3 shell. Raw output stays in a work directory under /tmp.

set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CMDLINE="bench/e2e_archive.sh${*:+ $*}"
SCRIPT_NAME=e2e_archive.sh
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
CHECKPOINTS=0
HOUSE=0
OTHER_ARGS=()
for arg in "$@"; do
    case $arg in
        --checkpoints) CHECKPOINTS=1 ;;
        --house) HOUSE=1 ;;
        *) OTHER_ARGS+=("$arg") ;;
    esac
done
parse_quick_option "${OTHER_ARGS[@]}"

find_tools kamailio
command -v sqlite3 >/dev/null || die "sqlite3 not found (apt-get install -y sqlite3)"
"$KAM_BIN" -f "$ROOT/bench/kamailio/kamailio-archive.cfg" -c > /dev/null 2>&1 ||
    die "kamailio-archive.cfg does not load (apt-get install -y kamailio-sqlite-modules)"
CLK_TCK=$(getconf CLK_TCK)

BASE=${E2E_PORT_BASE:-26000}
UAS_PORT=$((BASE + 91))
UAC_PORT=$((BASE + 92))
declare -A PORT=([sw]=$((BASE + 60)) [swa]=$((BASE + 61)) [kam]=$((BASE + 70)) [kama]=$((BASE + 71))
                [kama1]=$((BASE + 72)))
HOPS="sw swa kam kama kama1"
BEFORE_BIN=${SIPWARDEN_BEFORE_BIN:-}
if [ -n "$BEFORE_BIN" ]; then
    [ -x "$BEFORE_BIN" ] || die "SIPWARDEN_BEFORE_BIN is not executable: $BEFORE_BIN"
    PORT[swa0]=$((BASE + 63))
    HOPS="sw swa0 swa kam kama kama1"
fi
if [ "$CHECKPOINTS" = 1 ]; then
    PORT[swac]=$((BASE + 64))
    HOPS="sw swa swac"
fi
if [ "$HOUSE" = 1 ]; then
    [ -n "$BEFORE_BIN" ] || die "--house compares two builds: set SIPWARDEN_BEFORE_BIN"
    PORT[sw0]=$((BASE + 65)); PORT[swf]=$((BASE + 66)); PORT[swf0]=$((BASE + 67))
    HOPS="sw0 sw swf0 swf"
fi
NHOPS=$(echo $HOPS | wc -w)

if [ "$QUICK" = 1 ]; then
    MSG_RATE=2000; MSG_COUNT=4000; ROUNDS=1; STEPS="2000 6000"; STEP_SECS=2; DRAIN=0
elif [ "$HOUSE" = 1 ]; then
    MSG_RATE=2000; MSG_COUNT=10000; ROUNDS=6; STEPS=""; STEP_SECS=5; DRAIN=0
else
    MSG_RATE=1000; MSG_COUNT=10000; ROUNDS=2
    STEPS="1000 2000 4000 6000 8000 10000 12000 14000 16000 20000"; STEP_SECS=5
    # sipwarden keeps completed UDP transactions for Timer J (32 s) and
    # refuses past max_transactions: each hop idles DRAIN s before a step.
    DRAIN=35
fi

make_work_dir e2e-archive

declare -A PIDS=()
UAS_PID="" UAC_PID=""


descendants() {
    local parent=$1 p kids
    kids=$(for s in /proc/[0-9]*/stat; do
               sed -n 's/^\([0-9]*\) .*) [A-Za-z] \([0-9]*\) .*/\1 \2/p' "$s" 2>/dev/null
           done | awk -v pp="$parent" '$2 == pp {print $1}')
    for p in $kids; do echo "$p"; descendants "$p"; done
}

cleanup() {
    local who p
    trap - EXIT INT TERM
    stop_pid "$UAC_PID"; stop_pid "$UAS_PID"
    # Every process started, measured or not (with --checkpoints the
    # Kamailio hops run but are not in HOPS).
    for who in "${!PIDS[@]}"; do
        set -- ${PIDS[$who]:-}
        [ $# -gt 0 ] && stop_pid "$1"
        sleep 0.2
        for p in "$@"; do
            if kill -0 "$p" 2>/dev/null && grep -q -e kamailio -e sipwarden "/proc/$p/cmdline" 2>/dev/null; then
                kill -KILL "$p" 2>/dev/null
            fi
        done
    done
}
trap cleanup EXIT
trap 'echo "e2e_archive.sh: interrupted" >&2; exit 130' INT TERM



run_uac() {  # run_uac NAME PORT RATE COUNT
    local name=$1 port=$2 tgt=$3 count=$4 dir=$WORK/$1 tmo
    tmo=$(( count / tgt + 30 ))
    mkdir -p "$dir"
    (cd "$dir" && exec "$SIPP_BIN" -sf "$SCN/uac_message.xml" "127.0.0.1:$port" -i 127.0.0.1 \
        -p "$UAC_PORT" -s bob -m "$count" -r "$tgt" -rp 1000 -timeout "${tmo}s" -timeout_error \
        -nostdin -trace_stat -stf stat.csv -fd 1 -trace_err > sipp.out 2>&1) &
    UAC_PID=$!
    wait "$UAC_PID"
    uac_rc=$?
    UAC_PID=""
    stat_ok=0
    eval "$(python3 "$STATS" stat "$dir/stat.csv" 2>/dev/null)"
    [ "$stat_ok" = 1 ] || { created=0 success=0 failed=$count retrans=0 elapsed=0 rate=0; }
    log "  $name: rc=$uac_rc success=$success failed=$failed retrans=$retrans rate=$rate/s"
}

rows_of() {  # archived MESSAGE rows of an archiving hop
    case $1 in
        swa|swa0|swac|swf|swf0) sqlite3 "$WORK/$1.db" "SELECT count(*) FROM messages" 2>/dev/null ;;
        kama|kama1) sqlite3 "$WORK/$1.db" "SELECT count(*) FROM messages" 2>/dev/null ;;
        *) echo 0 ;;
    esac
}

# ------------------------------------------------------------------ start up
log "work directory: $WORK"
(cd "$WORK" && exec "$SIPP_BIN" -sf "$SCN/uas_message.xml" -i 127.0.0.1 -p "$UAS_PORT" -nostdin \
    -trace_err > uas.out 2>&1) &
UAS_PID=$!
wait_port udp "$UAS_PORT" "$UAS_PID"

"$WORK/sipwarden" run --listen "udp:127.0.0.1:${PORT[sw]}" --upstream "127.0.0.1:$UAS_PORT" \
    --log-level warning > "$WORK/sw.log" 2>&1 &
PIDS[sw]=$!
cat > "$WORK/swa.json" <<JSON
{"archive": {"path": "$WORK/swa.db", "batch_rows": 500, "batch_ms": 20},
 "plugins": [{"plugin": "archive", "on_archive_failure": "reject"}]}
JSON
"$WORK/sipwarden" run --config "$WORK/swa.json" --listen "udp:127.0.0.1:${PORT[swa]}" \
    --upstream "127.0.0.1:$UAS_PORT" --log-level warning > "$WORK/swa.log" 2>&1 &
PIDS[swa]=$!
if [ -n "$BEFORE_BIN" ]; then
    mkdir -p "$WORK/before"
    cp "$BEFORE_BIN" "$WORK/before/sipwarden" && cp -r "$(dirname "$BEFORE_BIN")/plugins" "$WORK/before/plugins" ||
        die "cannot copy $BEFORE_BIN and its plugins"
    sed "s|$WORK/swa.db|$WORK/swa0.db|" "$WORK/swa.json" > "$WORK/swa0.json"
    "$WORK/before/sipwarden" run --config "$WORK/swa0.json" --listen "udp:127.0.0.1:${PORT[swa0]}" \
        --upstream "127.0.0.1:$UAS_PORT" --log-level warning > "$WORK/swa0.log" 2>&1 &
    PIDS[swa0]=$!
fi
if [ "$HOUSE" = 1 ]; then
    cat > "$WORK/blocked.lua" <<'LUA'
-- A sender block list, as a policy author writes one.
local blocked = {}
for _, aor in ipairs(config.senders or {}) do blocked[aor] = true end
function on_request(msg)
  if blocked[msg.from.aor] then return msg:reply(403, "Sender blocked") end
end
LUA
    for who in swf swf0; do
        cat > "$WORK/$who.json" <<JSON
{"archive": {"path": "$WORK/$who.db", "batch_rows": 500, "batch_ms": 20},
 "plugins": [
   {"plugin": "url_filter", "action": "defang", "allow_intranet": ["example.com"],
    "block_file_extensions": ["default"]},
   {"plugin": "banner", "text": "This conversation is archived.", "frequency": "once_per_conversation"},
   {"plugin": "lua_policy", "scripts": [{"file": "$WORK/blocked.lua",
                                          "config": {"senders": ["mallory@example.net", "eve@example.net"]}}]},
   {"plugin": "call_log"},
   {"plugin": "archive", "on_archive_failure": "deliver"}]}
JSON
    done
    "$WORK/before/sipwarden" run --listen "udp:127.0.0.1:${PORT[sw0]}" --upstream "127.0.0.1:$UAS_PORT" \
        --log-level warning > "$WORK/sw0.log" 2>&1 &
    PIDS[sw0]=$!
    "$WORK/sipwarden" run --config "$WORK/swf.json" --listen "udp:127.0.0.1:${PORT[swf]}" \
        --upstream "127.0.0.1:$UAS_PORT" --log-level warning > "$WORK/swf.log" 2>&1 &
    PIDS[swf]=$!
    "$WORK/before/sipwarden" run --config "$WORK/swf0.json" --listen "udp:127.0.0.1:${PORT[swf0]}" \
        --upstream "127.0.0.1:$UAS_PORT" --log-level warning > "$WORK/swf0.log" 2>&1 &
    PIDS[swf0]=$!
fi
if [ "$CHECKPOINTS" = 1 ]; then
    mkdir -p "$WORK/checkpoints"
    "$WORK/sipwarden" archive keygen --out "$WORK/checkpoint.key" > /dev/null || die "cannot make a checkpoint key"
    cat > "$WORK/swac.json" <<JSON
{"archive": {"path": "$WORK/swac.db", "batch_rows": 500, "batch_ms": 20,
             "checkpoints": {"key": "$WORK/checkpoint.key", "dir": "$WORK/checkpoints"}},
 "plugins": [{"plugin": "archive", "on_archive_failure": "reject"}]}
JSON
    "$WORK/sipwarden" run --config "$WORK/swac.json" --listen "udp:127.0.0.1:${PORT[swac]}" \
        --upstream "127.0.0.1:$UAS_PORT" --log-level warning > "$WORK/swac.log" 2>&1 &
    PIDS[swac]=$!
fi
KAM_EXTRA=()
[ -n "${KAM_CHILDREN:-}" ] && KAM_EXTRA=(-A "SW_CHILDREN=$KAM_CHILDREN")
"$KAM_BIN" -f "$ROOT/bench/kamailio/kamailio.cfg" -DD -E -A "SW_PORT=${PORT[kam]}" \
    -A "SW_DST=\"sip:127.0.0.1:$UAS_PORT\"" "${KAM_EXTRA[@]}" > "$WORK/kam.log" 2>&1 &
PIDS[kam]=$!
for who in kama kama1; do
    sqlite3 "$WORK/$who.db" < "$ROOT/bench/kamailio/kamailio-archive.sql" > /dev/null || die "cannot create $who.db"
    extra=("${KAM_EXTRA[@]}")
    [ "$who" = kama1 ] && extra=(-A "SW_CHILDREN=1")
    "$KAM_BIN" -f "$ROOT/bench/kamailio/kamailio-archive.cfg" -DD -E -A "SW_PORT=${PORT[$who]}" \
        -A "SW_DST=\"sip:127.0.0.1:$UAS_PORT\"" -A "SW_SQLCON=\"ar=>sqlite://$WORK/$who.db\"" \
        "${extra[@]}" > "$WORK/$who.log" 2>&1 &
    PIDS[$who]=$!
done
for who in $HOPS; do wait_port udp "${PORT[$who]}" "${PIDS[$who]}"; done
sleep 1
for who in kam kama kama1; do PIDS[$who]="${PIDS[$who]} $(descendants "${PIDS[$who]}" | tr '\n' ' ')"; done
log "pids: sw ${PIDS[sw]}; swa ${PIDS[swa]}; swa0 ${PIDS[swa0]:-}; kam ${PIDS[kam]}; kama ${PIDS[kama]}; kama1 ${PIDS[kama1]}"

# ------------------------------------------------- 1: CPU per MESSAGE
log "1. MESSAGE ${MSG_RATE}/s x $MSG_COUNT, $ROUNDS round(s) per hop"
declare -A T=() S=() F=() R0=()
for who in $HOPS; do T[$who]=0; S[$who]=0; F[$who]=0; R0[$who]=$(rows_of "$who"); done
for i in $(seq "$ROUNDS"); do
    order=$HOPS
    # A before/after comparison alternates which build goes first, so that
    # neither gets the warmer machine every round.
    [ "$HOUSE" = 1 ] && [ $((i % 2)) = 0 ] && order=$(echo $HOPS | tr ' ' '\n' | tac | tr '\n' ' ')
    for who in $order; do
        t0=$(ticks ${PIDS[$who]})
        run_uac "msg-$who-$i" "${PORT[$who]}" "$MSG_RATE" "$MSG_COUNT"
        t1=$(ticks ${PIDS[$who]})
        T[$who]=$(( T[$who] + t1 - t0 )); S[$who]=$(( S[$who] + success )); F[$who]=$(( F[$who] + failed ))
        sleep 2  # lets the archive writers finish before the next hop's run
    done
done
for who in $HOPS; do
    put "${who}_cpu_us" "$(awk -v t="${T[$who]}" -v c="$CLK_TCK" -v s="${S[$who]}" \
        'BEGIN { if (s > 0) printf "%.1f", t * 1e6 / c / s; else print "n/a" }')"
    put "${who}_success" "${S[$who]}"
    put "${who}_failed" "${F[$who]}"
    put "${who}_rows" "$(( $(rows_of "$who") - R0[$who] ))"
done

# --------------------------------------------------------- 2: rate steps
log "2. rate steps: $STEPS (${STEP_SECS} s each, each hop idle >= ${DRAIN} s before a step)"
declare -A FAILED=() MAXR=() LAST=()
now=$(date +%s)
for who in $HOPS; do MAXR[$who]=0; LAST[$who]=$now; done
for r in $STEPS; do
    n=$(( r * STEP_SECS ))
    for who in $HOPS; do
        [ -n "${FAILED[$who]:-}" ] && continue
        wait_s=$(( LAST[$who] + DRAIN - $(date +%s) ))
        [ "$wait_s" -gt 0 ] && sleep "$wait_s"
        run_uac "step-$who-$r" "${PORT[$who]}" "$r" "$n"
        if [ "$uac_rc" = 0 ] && [ "$failed" = 0 ] && [ "$success" = "$n" ] &&
           awk -v a="$rate" -v t="$r" 'BEGIN {exit !(a >= 0.95 * t)}'; then
            MAXR[$who]=$r
        else
            FAILED[$who]=1
        fi
        put "step_${who}_$r" "$success/$failed $(printf '%.0f' "$rate")/s"
        LAST[$who]=$(date +%s)
        sleep 1
    done
    [ ${#FAILED[@]} = "$NHOPS" ] && break
done
for who in $HOPS; do
    if [ -z "$STEPS" ]; then put "${who}_max_rate" "not measured"; else put "${who}_max_rate" "${MAXR[$who]}"; fi
done
sleep 2
for who in $HOPS; do put "${who}_rows_total" "$(rows_of "$who")"; done
put swa_verify "$("$WORK/sipwarden" archive verify --db "$WORK/swa.db" 2>&1 | head -1)"
if [ "$CHECKPOINTS" = 1 ]; then
    stop_pid "${PIDS[swac]}"  # the stop signs the last rows
    put swac_verify "$("$WORK/sipwarden" archive verify --db "$WORK/swac.db" --checkpoints "$WORK/checkpoints" \
        --public-key "$WORK/checkpoint.key.pub" 2>&1 | head -1)"
    put swac_checkpoints "$(wc -l < "$WORK/checkpoints/"*.checkpoints)"
fi

# ---------------------------------------------------------------- report
{
    echo "Command: \`$CMDLINE\`"
    echo
    echo "Machine: $(nproc) CPUs, $(uname -r); $(date -u '+%Y-%m-%d %H:%M UTC'); load at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "sipwarden sha256 $SW_SHA...; $("$KAM_BIN" -v 2>&1 | head -1 | sed 's/^version: //'); CLK_TCK=$CLK_TCK"
    echo
    echo "| hop | CPU per MESSAGE at ${MSG_RATE}/s (us) | successful / failed | rows archived | highest sustained rate (msg/s) |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    for who in $HOPS; do
        case $who in
            sw) name="sipwarden, relay only" ;; swa) name="sipwarden, archive reject mode" ;;
            swa0) name="sipwarden (SIPWARDEN_BEFORE_BIN), archive reject mode" ;;
            swac) name="sipwarden, archive reject mode, signed checkpoints" ;;
            sw0) name="sipwarden (SIPWARDEN_BEFORE_BIN), relay only" ;;
            swf) name="sipwarden, full chain, archive deliver mode" ;;
            swf0) name="sipwarden (SIPWARDEN_BEFORE_BIN), full chain, archive deliver mode" ;;
            kam) name="Kamailio stateless" ;; kama) name="Kamailio + sqlops/db_sqlite insert, 4 workers" ;;
            kama1) name="Kamailio + sqlops/db_sqlite insert, 1 worker" ;;
        esac
        rows="-"; case $who in swa*|swf*|kama*) rows=$(getv "${who}_rows") ;; esac
        echo "| $name | $(getv "${who}_cpu_us") | $(getv "${who}_success") / $(getv "${who}_failed") | $rows | $(getv "${who}_max_rate") |"
    done
    echo
    echo "Steps (successful/failed, achieved rate):"
    for who in $HOPS; do
        echo "- $who: $(awk -F'\t' -v w="$who" 'index($1, "step_" w "_") == 1 && split($1, a, "_") == 3 {printf "%s: %s; ", a[3], $2}' "$RES")"
    done
    echo
    echo "Rows at the end: $(for who in $HOPS; do case $who in swa*|swf*|kama*) printf '%s %s; ' "$who" "$(getv "${who}_rows_total")" ;; esac; done)swa verify: $(getv swa_verify)"
    [ "$CHECKPOINTS" = 1 ] && echo "swac: $(getv swac_checkpoints) checkpoints signed; verify --checkpoints: $(getv swac_verify)"
    echo "Raw output: $WORK"
} | tee "$WORK/report.md"
exit 0
