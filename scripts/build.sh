#!/usr/bin/env bash
# Builds sipwarden into build/<flavour>: "release" (default), "asan", or
# "fuzz" (clang, libFuzzer targets only; see docs/fuzzing.md).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
flavour="${1:-release}"
jobs="$(nproc)"
case "$flavour" in
  release) extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan)    extra=(-DCMAKE_BUILD_TYPE=Debug -DSIPWARDEN_SANITIZE=ON -DSIPWARDEN_BENCH=OFF) ;;
  fuzz)    extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIPWARDEN_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
           set -- "$flavour" --target fuzzers "${@:2}" ;;
  *) echo "unknown build flavour: $flavour" >&2; exit 2 ;;
esac
# Warnings are errors here (and so in CI), not in a packager's plain build.
cmake -S "$here" -B "$here/build/$flavour" -G Ninja -DSIPWARDEN_WERROR=ON "${extra[@]}" >/dev/null
cmake --build "$here/build/$flavour" -j "$jobs" "${@:2}"
