#!/usr/bin/env bash
# Installs the Debian packages the test suite needs when they are missing:
#   postgresql  - tests start their own throwaway cluster from its binaries
#   chromium    - end-to-end tests drive it with playwright-core
#   docker-compose - validates docker-compose.yml (`docker-compose config`)
#   bubblewrap  - the agent sandboxes user code with it (--isolation auto|bubblewrap)
#   python3-venv   - the Dagster tests build a cached venv with a pinned dagster (scripts/dagster-venv.ts)
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ -n "${OUTPOST_PG_BIN:-}" ] || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
[ -x /usr/bin/bwrap ] || need+=(bubblewrap)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3 python3-venv)
[ ${#need[@]} -eq 0 ] && exit 0
echo "[outpost] installing Debian packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The postgresql package starts a system cluster; tests don't use it.
$SUDO service postgresql stop >/dev/null 2>&1 || true
