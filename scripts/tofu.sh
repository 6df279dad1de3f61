#!/usr/bin/env bash
# OpenTofu, built from the Go module proxy into .tools/bin (like the Temporal CLI).
#   scripts/tofu.sh install    build it if missing; print its path
#   scripts/tofu.sh ensure     the same, quietly (scripts/programs.txt)
# OpenTofu's own go.mod replaces github.com/hashicorp/hcl/v2 with its fork; `go install pkg@version`
# ignores replace directives, so a small wrapper module repeats it. The build takes a few minutes
# once; afterwards this script returns at once (a stamp file records the version built).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=v1.10.10
hcl_fork='github.com/opentofu/hcl/v2 v2.20.2-0.20251021132045-587d123c2828'
bin="$root/.tools/bin/tofu"

install() {
  if [ -x "$bin" ] && [ "$(cat "$bin.version" 2>/dev/null)" = "$version" ]; then return; fi
  command -v go >/dev/null || { echo "tofu.sh: Go is required to build OpenTofu" >&2; exit 1; }
  echo "building OpenTofu $version (first run only, a few minutes)…" >&2
  local src="$root/.tools/src/tofu"
  mkdir -p "$src" "$root/.tools/bin"
  cat >"$src/go.mod" <<MOD
module keelson.local/tofu

go 1.25

require github.com/opentofu/opentofu $version

replace github.com/hashicorp/hcl/v2 v2.20.1 => $hcl_fork
MOD
  (cd "$src" && GOFLAGS=-mod=mod go build -trimpath -o "$bin.tmp" github.com/opentofu/opentofu/cmd/tofu)
  mv "$bin.tmp" "$bin"
  echo "$version" >"$bin.version"
}

case "${1:-}" in
  install) install; echo "$bin" ;;
  ensure) install ;;
  *) echo "usage: scripts/tofu.sh install | ensure" >&2; exit 2 ;;
esac
