#!/usr/bin/env bash
# Temporal's CLI (with its dev server), built from the Go module proxy into .tools/bin.
#   scripts/temporal.sh install                 build it if missing; print its path
#   scripts/temporal.sh ensure                  the same, quietly (scripts/programs.txt)
#   scripts/temporal.sh run [--port P] [--ui-port U|--headless] [--db FILE|memory] [--ui-codec-endpoint URL]
#                                               run the dev server in the foreground with
#                                               Keelson's search attributes registered
#                                               (`--db memory`: nothing on disk, for benchmarks)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=v1.5.1   # v1.6+ carry a replace directive and cannot be `go install`ed
bin="$root/.tools/bin/temporal"

install() {
  # `go install` builds report 0.0.0-DEV as their version, so a stamp file records what was built.
  if [ -x "$bin" ] && [ "$(cat "$bin.version" 2>/dev/null)" = "$version" ]; then return; fi
  command -v go >/dev/null || { echo "temporal.sh: Go is required to build the Temporal CLI" >&2; exit 1; }
  echo "building Temporal CLI $version (first run only, a few minutes)…" >&2
  mkdir -p "$root/.tools/bin"
  GOBIN="$root/.tools/bin" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$version"
  echo "$version" >"$bin.version"
}

case "${1:-}" in
  install)
    install
    echo "$bin"
    ;;
  ensure) install ;;
  run)
    shift
    install
    port=7233 ui=(--headless) db="$root/.data/temporal.db" codec=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --port) port=$2; shift 2 ;;
        --ui-port) ui=(--ui-port "$2"); shift 2 ;;
        --headless) ui=(--headless); shift ;;
        --db) db=$2; shift 2 ;;
        --ui-codec-endpoint) codec=(--ui-codec-endpoint "$2"); shift 2 ;;
        *) echo "temporal.sh: unknown option $1" >&2; exit 2 ;;
      esac
    done
    store=()
    if [ "$db" != memory ]; then
      mkdir -p "$(dirname "$db")"
      store=(--db-filename "$db")
    fi
    exec "$bin" server start-dev --ip 127.0.0.1 --port "$port" "${ui[@]}" ${codec[@]+"${codec[@]}"} ${store[@]+"${store[@]}"} \
      --log-level warn \
      --search-attribute KeelsonTenant=Keyword \
      --search-attribute KeelsonOperation=Keyword \
      --search-attribute KeelsonResources=KeywordList \
      --search-attribute KeelsonActor=Keyword
    ;;
  *)
    echo "usage: scripts/temporal.sh install | ensure | run [--port P] [--ui-port U|--headless] [--db FILE|memory] [--ui-codec-endpoint URL]" >&2
    exit 2
    ;;
esac
