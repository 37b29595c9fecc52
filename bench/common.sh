# Shared by the bench scripts (e2e.sh, e2e_archive.sh, pg_archive.sh, soak.sh)
# and examples/cluster/run-local.sh: messages, finding the tools (find_tools),
# stopping what they started, waiting for a listener, CPU ticks, --quick.
# Source it after setting SCRIPT_NAME.

die() { echo "$SCRIPT_NAME: error: $*" >&2; exit 1; }
log() { echo "[$(date +%T) load $(cut -d' ' -f1 /proc/loadavg)] $*" >&2; }

# ticks PID...: utime+stime summed over the given pids, in clock ticks (a
# pid that is gone counts 0).
ticks() {
    local p total=0 t
    for p in "$@"; do
        t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')
        total=$((total + ${t:-0}))
    done
    echo "$total"
}

# make_work_dir NAME: WORK, a new /tmp/sipwarden-NAME.XXXXXX holding a
# private copy of sipwarden and its plugins (a rebuild during the run must
# not swap them); SW_SHA and LOAD_START for the report; RES, the results
# file that put and getv write and read.
make_work_dir() {
    WORK=$(mktemp -d "/tmp/sipwarden-$1.XXXXXX") || die "mktemp failed"
    cp "$SW_BIN" "$WORK/sipwarden" || die "cannot copy $SW_BIN"
    cp -r "$(dirname "$SW_BIN")/plugins" "$WORK/plugins" || die "no plugins beside $SW_BIN"
    SW_SHA=$(sha256sum "$SW_BIN" | cut -c1-12)
    LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
    RES=$WORK/results.tsv
    : > "$RES"
}
put() { printf '%s\t%s\n' "$1" "$2" >> "$RES"; }
getv() { awk -F'\t' -v k="$1" '$1 == k {v = $2} END {print v}' "$RES"; }

# parse_quick_option ARGS...: QUICK=1 with --quick, else 0; -h prints the
# script's header comment; anything else is refused.
parse_quick_option() {
    QUICK=0
    local a
    for a in "$@"; do
        case "$a" in
            --quick) QUICK=1 ;;
            -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
            *) echo "$SCRIPT_NAME: unknown option: $a" >&2; exit 2 ;;
        esac
    done
}

# stop_pid PID [SIGNAL]: sends SIGNAL (TERM by default), waits up to 5 s,
# then KILLs. PID must be a child of this shell; an empty PID is a no-op.
stop_pid() {
    local pid=$1 sig=${2:-TERM} i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill "-$sig" "$pid" 2>/dev/null
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

# wait_port udp|tcp PORT PID: until something listens on PORT (10 s at most);
# dies if PID exits first. Messages name $WORK, where the logs are.
wait_port() {
    local proto=$1 port=$2 pid=$3 i flag=-u
    [ "$proto" = tcp ] && flag=-t
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || die "process $pid died before listening on $proto/$port (see $WORK)"
        [ -n "$(ss -Hln $flag "sport = :$port" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    die "nothing listens on $proto 127.0.0.1:$port after 10 s"
}

# find_tools [kamailio]: sets SW_BIN, SIPP_BIN and KAM_BIN (from
# SIPWARDEN_BIN, SIPP_BIN and KAMAILIO_BIN, else the release build and
# PATH), STATS (e2e_stats.py) and SCN (the SIPp scenarios); dies naming what
# to build or install when sipwarden, SIPp or (when asked) Kamailio is
# missing. ROOT must be set.
find_tools() {
    SW_BIN=${SIPWARDEN_BIN:-$ROOT/build/release/sipwarden}
    SIPP_BIN=${SIPP_BIN:-$(command -v sipp || true)}
    KAM_BIN=${KAMAILIO_BIN:-$(command -v kamailio || true)}
    STATS=$ROOT/bench/e2e_stats.py
    SCN=$ROOT/tests/sipp
    [ -x "$SW_BIN" ] || die "sipwarden binary not found: $SW_BIN (run scripts/build.sh release)"
    if [ "${1:-}" = kamailio ]; then
        [ -n "$KAM_BIN" ] && [ -x "$KAM_BIN" ] || die "kamailio not found (apt-get install -y kamailio)"
    fi
    [ -n "$SIPP_BIN" ] && [ -x "$SIPP_BIN" ] || die "sipp not found (apt-get install -y sip-tester)"
}
