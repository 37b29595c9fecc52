#!/usr/bin/env bash
# Installs what is missing, builds twice (release, and ASan+UBSan), and runs
# the whole test suite: unit tests under the sanitizers, integration tests
# (real sockets, SIPp) against the release binary.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/deps.sh"
"$here/scripts/build.sh" asan
"$here/scripts/build.sh" release
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
ctest --test-dir "$here/build/asan" -L unit --output-on-failure -j 2 || status=1
ctest --test-dir "$here/build/release" -L integration --output-on-failure || status=1
exit $status
