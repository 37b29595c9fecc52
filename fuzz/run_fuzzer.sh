#!/usr/bin/env bash
# run_fuzzer.sh FUZZER SECONDS WORKDIR REGRESSIONS SEEDS...
# Replays every saved regression input (each once crashed), then fuzzes for
# SECONDS from a fresh working corpus seeded with SEEDS and the regressions
# (hand-made seeds for a target's own input format live there too). A crash leaves its
# input in WORKDIR/artifacts: copy it to REGRESSIONS to keep it as a test.
set -euo pipefail
fuzzer=$1; seconds=$2; work=$3; regressions=$4; shift 4
rm -rf "$work"; mkdir -p "$work/corpus" "$work/artifacts"
if compgen -G "$regressions/*" > /dev/null; then
  "$fuzzer" -runs=0 "$regressions"/*   # runs each file once; exits non-zero on a crash
fi
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" \
  $(compgen -G "$regressions/*" > /dev/null && echo "$regressions") "$@"
