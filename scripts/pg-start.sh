#!/usr/bin/env bash
# Local use: install PostgreSQL if needed, start a throwaway cluster, print its URL.
#   eval "$(npm run -s pg:start)"   # exports OUTPOST_TEST_PG_URL for later `npm test` runs
set -euo pipefail
bash "$(dirname "$0")/ensure-system-deps.sh" >&2
exec npx tsx "$(dirname "$0")/pg-start.ts"
