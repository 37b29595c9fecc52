#!/usr/bin/env bash
# Installs what is missing, builds four times (release, ASan+UBSan, the clang
# libFuzzer targets, and a packager's plain hardened Release build), and runs
# the whole test suite: unit tests under
# the sanitizers, integration tests (real sockets, SIPp, Chromium) against the
# release binary, then each fuzz target for a bounded time (docs/fuzzing.md).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/deps.sh"
"$here/scripts/build.sh" asan
# The release tree is for the integration tests: its unit tests and
# benchmarks would be built for nothing.
"$here/scripts/build.sh" release --target integration_deps
"$here/scripts/build.sh" fuzz
# A packager's plain Release build with Debian's hardening flags must build
# (without -Werror) and give a hardened binary that runs.
"$here/scripts/packager-build.sh"
# One throw-away PostgreSQL server on loopback for the archive's second
# backend: the unit suite runs its backend cases on it (one schema per test),
# the integration tests one database per test.
pg_dir="$(mktemp -d /tmp/sipwarden-pg.XXXXXX)"
trap '"$here/scripts/pg-test-server.sh" stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
SIPWARDEN_TEST_PG_URL="$("$here/scripts/pg-test-server.sh" start "$pg_dir")"
export SIPWARDEN_TEST_PG_URL
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
ctest --test-dir "$here/build/asan" -L unit --output-on-failure -j 2 || status=1
ctest --test-dir "$here/build/release" -L integration --output-on-failure || status=1
ctest --test-dir "$here/build/fuzz" -L fuzz --output-on-failure || status=1
exit $status
