#!/usr/bin/env bash
# `npm run up` — the README's first command. Prepares this machine idempotently (quick when
# everything is already there), then runs the whole platform in the foreground (`npm run dev`).
#   1. npm ci when node_modules is missing or package-lock.json is newer
#   2. the Temporal CLI (built once from the Go module proxy into .tools/bin)
#   3. a Docker engine, if one can be had; without it Keelson runs without a local node
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\033[1mup │ %s\033[0m\n' "$*" >&2; }

if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dependencies (npm ci)…"
  npm ci --no-audit --no-fund
fi

# The dev server needs the Temporal CLI, unless an existing Temporal is named.
[ -n "${TEMPORAL_ADDRESS:-}" ] || bash scripts/temporal.sh install >/dev/null

# Docker is optional for the platform itself: without it there is just no local node.
if docker info >/dev/null 2>&1 || command -v dockerd >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }; then
  if ! bash scripts/docker.sh ensure; then
    step "no Docker engine (scripts/docker.sh ensure failed): continuing without a local node"
  fi
else
  step "no Docker engine and no way to install one here: continuing without a local node"
fi

# The edge proxy that serves deployed apps (Debian's caddy, driven through its admin API).
if command -v caddy >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }; then
  bash scripts/caddy.sh ensure || step "caddy could not be installed: apps can be deployed but not served"
fi

exec npm run dev
