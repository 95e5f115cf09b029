#!/usr/bin/env bash
# Installs Debian's PostgreSQL server when it is missing (tests start their own throwaway cluster).
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ -n "${OUTPOST_PG_BIN:-}" ]; then
  exit 0
fi
echo "[outpost] installing PostgreSQL from Debian's packages..."
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
# The package starts a system cluster; tests don't use it.
$SUDO service postgresql stop >/dev/null 2>&1 || true
