#!/usr/bin/env bash
# Runs the cluster of this directory on 127.0.0.1, in the foreground, until
# Ctrl-C (README.md):
#
#   PostgreSQL (scripts/pg-test-server.sh, a throw-away server)
#   sipwarden hop A (hop-a.json, port 5101) and hop B (hop-b.json, 5102)
#   Kamailio with dispatcher (kamailio.cfg, dispatcher.list, port 5060)
#   with --uas: a SIPp UAS as the server behind the hops (port 5090)
#
#   examples/cluster/run-local.sh [--uas]
#
# The files here are used as they are, with the ports and the archive URL
# replaced in copies under the work directory. Environment (defaults):
#   SIPWARDEN_BIN (build/release/sipwarden), KAMAILIO_BIN, SIPP_BIN
#   KAM_PORT (5060), HOP_A_PORT (5101), HOP_B_PORT (5102), UPSTREAM_PORT (5090)
#   ARCHIVE_URL: an existing database to use instead of starting PostgreSQL
#   CLUSTER_DIR: the work directory (default: a new one under /tmp)
#   DS_PING_INTERVAL (2 s here), FR_TIMEOUT_MS (3000): kamailio.cfg defines
#   PG_FSYNC (off): passed to pg-test-server.sh
# When everything listens it prints "cluster ready" and the addresses; the
# hops' pids are in CLUSTER_DIR/hop-a.pid and hop-b.pid (stop one to see
# Kamailio fail over). A hop that exits is reported and the rest keeps
# running; if Kamailio exits, everything stops.

set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
START_UAS=0
for a in "$@"; do
    case "$a" in
        --uas) START_UAS=1 ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "run-local.sh: unknown option: $a" >&2; exit 2 ;;
    esac
done

SCRIPT_NAME=run-local.sh
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"   # die, log, stop_pid, wait_port

SW_BIN=${SIPWARDEN_BIN:-$ROOT/build/release/sipwarden}
KAM_BIN=${KAMAILIO_BIN:-$(command -v kamailio || echo /usr/sbin/kamailio)}
SIPP_BIN=${SIPP_BIN:-$(command -v sipp || true)}
KAM_PORT=${KAM_PORT:-5060}
HOP_A_PORT=${HOP_A_PORT:-5101}
HOP_B_PORT=${HOP_B_PORT:-5102}
UPSTREAM_PORT=${UPSTREAM_PORT:-5090}
[ -x "$SW_BIN" ] || die "sipwarden not found: $SW_BIN (scripts/build.sh release)"
[ -x "$KAM_BIN" ] || die "kamailio not found (apt-get install -y kamailio)"
[ "$START_UAS" = 0 ] || [ -n "$SIPP_BIN" ] || die "sipp not found (apt-get install -y sip-tester)"

WORK=${CLUSTER_DIR:-$(mktemp -d /tmp/sipwarden-cluster.XXXXXX)}
mkdir -p "$WORK" || die "cannot create $WORK"
PG_DIR="" KAM_PID="" UAS_PID=""
declare -A HOP_PID=()

cleanup() {
    trap - EXIT INT TERM
    log "stopping"
    stop_pid "$KAM_PID"
    stop_pid "${HOP_PID[a]:-}"
    stop_pid "${HOP_PID[b]:-}"
    stop_pid "$UAS_PID"
    if [ -n "$PG_DIR" ]; then
        "$ROOT/scripts/pg-test-server.sh" stop "$PG_DIR"
        rm -rf "$PG_DIR"  # a throw-away archive
    fi
    log "stopped; logs in $WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- archive
URL=${ARCHIVE_URL:-}
if [ -z "$URL" ]; then
    # Its own directory: as root the server runs as the postgres user, which
    # must reach it (WORK may be private).
    PG_DIR=$(mktemp -d /tmp/sipwarden-cluster-pg.XXXXXX) || die "mktemp failed"
    URL=$("$ROOT/scripts/pg-test-server.sh" start "$PG_DIR") || die "PostgreSQL did not start (see $PG_DIR)"
fi

# --------------------------------------------------- the files, templated
template() {  # template FILE: the example file with this run's ports and URL
    sed -e "s|postgresql://sipwarden@pg.example.net:5432/sipwarden|$URL|g" \
        -e "s|127\.0\.0\.1:5101|127.0.0.1:$HOP_A_PORT|g" \
        -e "s|127\.0\.0\.1:5102|127.0.0.1:$HOP_B_PORT|g" \
        -e "s|127\.0\.0\.1:5090|127.0.0.1:$UPSTREAM_PORT|g" "$HERE/$1"
}
for f in hop-a.json hop-b.json dispatcher.list; do template "$f" > "$WORK/$f" || die "cannot write $WORK/$f"; done

# --------------------------------------------------------- what is behind
if [ "$START_UAS" = 1 ]; then
    (cd "$WORK" && exec "$SIPP_BIN" -sf "$ROOT/tests/sipp/uas_message.xml" -i 127.0.0.1 -p "$UPSTREAM_PORT" \
        -nostdin -trace_err > uas.log 2>&1) &
    UAS_PID=$!
    wait_port udp "$UPSTREAM_PORT" "$UAS_PID"
fi

# -------------------------------------------------------------- the hops
for h in a b; do
    "$SW_BIN" run --config "$WORK/hop-$h.json" > "$WORK/hop-$h.log" 2>&1 &
    HOP_PID[$h]=$!
    echo "${HOP_PID[$h]}" > "$WORK/hop-$h.pid"
done
for h in a b; do  # listening once the archive's schema is in place
    port=HOP_A_PORT; [ "$h" = b ] && port=HOP_B_PORT
    wait_port udp "${!port}" "${HOP_PID[$h]}"
done

# --------------------------------------------------------------- Kamailio
"$KAM_BIN" -f "$HERE/kamailio.cfg" -DD -E -w "$WORK" -Y "$WORK" -P "$WORK/kamailio.pid" \
    -A "KAM_PORT=$KAM_PORT" -A "DS_LIST=\"$WORK/dispatcher.list\"" \
    -A "DS_PING_INTERVAL=${DS_PING_INTERVAL:-2}" -A "FR_TIMEOUT_MS=${FR_TIMEOUT_MS:-3000}" \
    > "$WORK/kamailio.log" 2>&1 &
KAM_PID=$!
wait_port udp "$KAM_PORT" "$KAM_PID"

cat <<INFO
cluster ready
  clients send to:  sip:127.0.0.1:$KAM_PORT (udp, tcp)   Kamailio, log $WORK/kamailio.log
  hop A:            sip:127.0.0.1:$HOP_A_PORT   pid $(cat "$WORK/hop-a.pid"), log $WORK/hop-a.log
  hop B:            sip:127.0.0.1:$HOP_B_PORT   pid $(cat "$WORK/hop-b.pid"), log $WORK/hop-b.log
  hops forward to:  127.0.0.1:$UPSTREAM_PORT$([ "$START_UAS" = 1 ] && echo " (SIPp UAS, log $WORK/uas.log)")
  archive:          $URL
  try:   sipp -sf $ROOT/tests/sipp/uac_message.xml 127.0.0.1:$KAM_PORT -i 127.0.0.1 -p 5092 -s bob -m 100 -r 20 -nostdin
  check: $SW_BIN archive verify --db '$URL'
         $SW_BIN query conversations --db '$URL'
Ctrl-C stops everything.
INFO

# Until Kamailio exits or a signal comes; a hop that exits is reported once.
while kill -0 "$KAM_PID" 2>/dev/null; do
    for h in a b; do
        if [ -n "${HOP_PID[$h]}" ] && ! kill -0 "${HOP_PID[$h]}" 2>/dev/null; then
            wait "${HOP_PID[$h]}" 2>/dev/null
            log "hop $h (pid ${HOP_PID[$h]}) exited with status $?; Kamailio sends its traffic to the other hop"
            HOP_PID[$h]=""
        fi
    done
    sleep 0.5 & wait $!
done
wait "$KAM_PID"
die "Kamailio exited (status $?); see $WORK/kamailio.log"
