#!/usr/bin/env bash
# PostgreSQL's server programs for tests that run a private cluster (and restart it):
#   scripts/postgres.sh ensure    install Debian's postgresql if missing, then link the newest
#                                 version's initdb and postgres into .tools/bin (Debian keeps
#                                 them off PATH, under /usr/lib/postgresql/<version>/bin)
# Idempotent and quick when they are there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=lib/apt.sh
. "$root/scripts/lib/apt.sh"

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

case "${1:-ensure}" in
  ensure)
    [ -n "$(bindir)" ] && [ -x "$(bindir)/initdb" ] || apt_install postgresql
    dir=$(bindir)
    [ -x "$dir/initdb" ] || { echo "postgres.sh: no initdb under /usr/lib/postgresql after installing postgresql" >&2; exit 1; }
    mkdir -p "$root/.tools/bin"
    for program in initdb postgres; do ln -sfn "$dir/$program" "$root/.tools/bin/$program"; done
    ;;
  *)
    echo "usage: scripts/postgres.sh ensure" >&2
    exit 2
    ;;
esac
