#!/usr/bin/env bash
# Test scaffolding: builds tools/proxmox-sim/terraform-provider (a provider implementing part of
# bpg/proxmox's VM resource against the Proxmox simulator) into a provider mirror that tests point
# OpenTofu at, so infra/terraform's modules run unchanged. Never used outside the tests.
#   scripts/tofu-test-provider.sh ensure    build it when its sources changed
#   scripts/tofu-test-provider.sh mirror    the same; print the mirror directory
# The build is cached: a stamp records a hash of the Go sources, so a later run returns at once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/tools/proxmox-sim/terraform-provider"
version=0.66.0   # the version the mirror serves it as (infra/terraform modules ask for >= 0.66.0)
mirror="$root/.tools/terraform-mirror"
dir="$mirror/registry.opentofu.org/bpg/proxmox/$version/linux_amd64"
bin="$dir/terraform-provider-proxmox_v$version"

install() {
  local hash
  hash=$(cd "$src" && cat go.mod go.sum ./*.go | sha256sum | cut -d' ' -f1)
  if [ -x "$bin" ] && [ "$(cat "$bin.source" 2>/dev/null)" = "$hash" ]; then return; fi
  command -v go >/dev/null || { echo "tofu-test-provider.sh: Go is required" >&2; exit 1; }
  echo "building the simulator's Terraform provider (test scaffolding)…" >&2
  mkdir -p "$dir" "$root/.tools/bin"
  (cd "$src" && go build -trimpath -o "$bin.tmp" .)
  mv "$bin.tmp" "$bin"
  echo "$hash" >"$bin.source"
  ln -sfn "$bin" "$root/.tools/bin/terraform-provider-proxmox"
}

case "${1:-}" in
  ensure) install ;;
  mirror) install; echo "$mirror" ;;
  *) echo "usage: scripts/tofu-test-provider.sh ensure | mirror" >&2; exit 2 ;;
esac
