#!/usr/bin/env bash
# `npm test` — the README's second command: the whole suite against the real things.
# Installs what the tests need, idempotently (quick when everything is there), then runs vitest;
# arguments are passed through (`npm test -- api/src/health.test.ts`, `npm test -- -t login`).
#   node_modules      npm ci when missing or older than package-lock.json
#   programs          every program of the `test` set in scripts/programs.txt (Ansible, Chromium,
#                     the Temporal CLI, the Docker engine and its images, Caddy…), via programs.sh
#   PostgreSQL        answering on 127.0.0.1:5432 (started with pg_ctlcluster if it is installed but down)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf 'test │ %s\n' "$*" >&2; }
# Each preparation phase reports how long it took (CI logs show where the time goes).
t0=$(date +%s%N)
took() { local t; t=$(date +%s%N); printf 'test │ %-22s %6.1fs\n' "$1" "$(( (t - t0) / 1000000 ))e-3" >&2; t0=$t; }

if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies (npm ci)…"
  npm ci --no-audit --no-fund
fi
took "npm dependencies"

# test/global-setup.ts starts Temporal's dev server from the CLI, unless TEMPORAL_TEST_ADDRESS names one.
skip=""
[ -z "${TEMPORAL_TEST_ADDRESS:-}" ] || skip="temporal"
KEELSON_STEP_PREFIX=test KEELSON_PROGRAMS_SKIP="$skip" bash scripts/programs.sh ensure test
took "programs"

# PostgreSQL on 127.0.0.1:5432 (TEST_DATABASE_URL may point elsewhere; then it is the caller's).
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if [ -z "${TEST_DATABASE_URL:-}" ] && ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql)" ]; then
    version=$(ls /etc/postgresql | sort -V | tail -1)
    step "starting PostgreSQL $version…"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 40); do pg_up && break; sleep 0.25; done
  fi
  pg_up || { echo "test.sh: PostgreSQL does not answer on 127.0.0.1:5432 (install it, or set TEST_DATABASE_URL)" >&2; exit 1; }
fi
took "PostgreSQL"

exec npx vitest run "$@"
