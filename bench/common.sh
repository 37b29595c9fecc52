# Shared by the bench scripts (e2e.sh, e2e_archive.sh, soak.sh): messages,
# and stopping what they started. Source it after setting SCRIPT_NAME.

die() { echo "$SCRIPT_NAME: error: $*" >&2; exit 1; }
log() { echo "[$(date +%T) load $(cut -d' ' -f1 /proc/loadavg)] $*" >&2; }

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
