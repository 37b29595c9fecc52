#!/usr/bin/env bash
# Installs the Debian 12 packages sipwarden builds, runs and tests with.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libre2-dev libpoco-dev libsqlite3-dev liblua5.4-dev libssl-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  sip-tester sipsak python3 sqlite3 procps iproute2 openssl
  chromium python3-websocket
  kamailio kamailio-tls-modules kamailio-sqlite-modules baresip-core
  postgresql libpq-dev
  clang libclang-rt-14-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
