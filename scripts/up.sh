#!/usr/bin/env bash
# `npm run up` — the README's first command. Prepares this machine idempotently (quick when
# everything is already there), then runs the whole platform in the foreground (`npm run dev`).
#   1. npm ci when node_modules is missing or package-lock.json is newer
#   2. every program of the `up` set in scripts/programs.txt (the Temporal CLI, the Docker
#      engine and its images, Caddy, Ansible…): required ones stop here if they cannot be had;
#      optional ones (Docker, Caddy, Ansible need root to install) only warn what will not work
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\033[1mup │ %s\033[0m\n' "$*" >&2; }

if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies (npm ci)…"
  npm ci --no-audit --no-fund
fi

# The dev server needs the Temporal CLI, unless an existing Temporal is named.
skip=""
[ -z "${TEMPORAL_ADDRESS:-}" ] || skip="temporal"
KEELSON_STEP_PREFIX=up KEELSON_PROGRAMS_SKIP="$skip" bash scripts/programs.sh ensure up

exec npm run dev
