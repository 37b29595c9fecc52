#!/usr/bin/env bash
# Installs what is missing, builds, and runs sipwarden in the foreground with
# the example config (extra arguments are passed to `sipwarden run`).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/deps.sh"
"$here/scripts/build.sh" release --target hop >&2
exec "$here/build/release/sipwarden" run --config "$here/examples/sipwarden.json" "$@"
