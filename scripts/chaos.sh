#!/usr/bin/env bash
# `npm run chaos -- --seed S --kills N`: container creates, deploys and VM provisions (on the
# Proxmox simulator) run side by side while the worker is SIGKILLed N times at moments drawn from
# S; then every run must have finished exactly once with nothing orphaned or duplicated
# (test/chaos.test.ts, which `npm test` runs as a short sample). Prepares what `npm test` does.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  cat >&2 <<'USAGE'
usage: npm run chaos -- [--seed S] [--kills N]
  --seed S    seeds the kill moments, the downtimes and the mix of operations (default: random, printed)
  --kills N   how many times the worker is SIGKILLed (default 20)
USAGE
}

seed=$(( RANDOM * 32768 + RANDOM ))
kills=20
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) seed=${2:-}; shift 2 || { usage; exit 2; } ;;
    --kills) kills=${2:-}; shift 2 || { usage; exit 2; } ;;
    -h|--help) usage; exit 0 ;;
    *) echo "chaos: unknown argument $1" >&2; usage; exit 2 ;;
  esac
done
[[ "$seed" =~ ^[0-9]+$ ]] || { echo "chaos: --seed must be a whole number, not '$seed'" >&2; exit 2; }
[[ "$kills" =~ ^[0-9]+$ ]] && [ "$kills" -ge 1 ] || { echo "chaos: --kills must be a whole number ≥ 1, not '$kills'" >&2; exit 2; }

printf 'chaos │ seed %s, %s kills (replay: npm run chaos -- --seed %s --kills %s)\n' "$seed" "$kills" "$seed" "$kills" >&2
KEELSON_CHAOS_SEED=$seed KEELSON_CHAOS_KILLS=$kills exec bash "$root/scripts/test.sh" test/chaos.test.ts
