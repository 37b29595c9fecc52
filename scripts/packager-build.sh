#!/usr/bin/env bash
# Builds sipwarden as a distribution's packaging would: a plain CMake Release
# build (no -Werror, not through scripts/build.sh) with Debian's hardening
# flags from dpkg-buildflags, into build/packager; then checks that the binary
# is hardened (full RELRO, BIND_NOW, stack protector, fortified calls) and
# runs. scripts/test.sh runs it, so a packager's build cannot break unseen.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$here/build/packager"
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
eval "$(dpkg-buildflags --export=sh)"
# CMake reads CXXFLAGS and LDFLAGS from the environment; CPPFLAGS it does not.
export CXXFLAGS="$CXXFLAGS $CPPFLAGS"
rm -rf "$out"
cmake -S "$here" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIPWARDEN_TESTS=OFF -DSIPWARDEN_BENCH=OFF >/dev/null
cmake --build "$out" -j "$(nproc)" > "$out/build.log" 2>&1 || { tail -50 "$out/build.log" >&2; exit 1; }
binary="$out/sipwarden"
# Read once: `readelf | grep -q` under pipefail fails when grep stops early.
dynamic="$(readelf -d "$binary")"
segments="$(readelf -lW "$binary")"
symbols="$(readelf -sW "$binary")"
grep -q 'BIND_NOW' <<<"$dynamic" || { echo "packager build: $binary is not linked with -z now" >&2; exit 1; }
grep -q 'GNU_RELRO' <<<"$segments" || { echo "packager build: $binary has no RELRO segment" >&2; exit 1; }
grep -q '__stack_chk_fail' <<<"$symbols" || { echo "packager build: $binary has no stack protector" >&2; exit 1; }
grep -q '_chk@' <<<"$symbols" || { echo "packager build: $binary calls no fortified function" >&2; exit 1; }
"$binary" --version
"$binary" check-config "$here/examples/sipwarden.json"
echo "packager build: hardened binary runs ($(grep -c 'warning:' "$out/build.log" || true) compiler warnings, in $out/build.log)"
