#!/usr/bin/env bash
# stripe-mock (Stripe's own API mock: the real OpenAPI spec and its fixtures, no state), built
# from the Go module proxy into .tools/bin like the Temporal CLI.
#   scripts/stripe-mock.sh install              build it if missing; print its path
#   scripts/stripe-mock.sh ensure               the same, quietly (scripts/programs.txt)
#   scripts/stripe-mock.sh run [--port P] [--fixtures FILE]
#                                               run it in the foreground on 127.0.0.1 (HTTP only),
#                                               with Stripe's bundled fixtures or FILE instead
#   scripts/stripe-mock.sh fixtures             print the path of a copy of its bundled fixtures
#                                               (tests derive settled PaymentIntents from it)
# stripe-mock keeps no state: every answer is a fixture with the request's id and parameters
# reflected into it (a PaymentIntent read back is always `requires_payment_method`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=v0.203.0
bin="$root/.tools/bin/stripe-mock"
fixtures="$root/.tools/share/stripe-mock/fixtures3.json"

install() {
  # `go install` stamps no version into the binary, so a stamp file records what was built.
  if [ -x "$bin" ] && [ -s "$fixtures" ] && [ "$(cat "$bin.version" 2>/dev/null)" = "$version" ]; then return; fi
  command -v go >/dev/null || { echo "stripe-mock.sh: Go is required to build stripe-mock" >&2; exit 1; }
  echo "building stripe-mock $version (first run only, about a minute)…" >&2
  mkdir -p "$root/.tools/bin"
  GOBIN="$root/.tools/bin" GOFLAGS=-mod=mod go install "github.com/stripe/stripe-mock@$version"
  mkdir -p "$(dirname "$fixtures")"
  cp "$(go env GOMODCACHE)/github.com/stripe/stripe-mock@$version/embedded/openapi/fixtures3.json" "$fixtures.tmp"
  chmod 644 "$fixtures.tmp" && mv "$fixtures.tmp" "$fixtures"
  echo "$version" >"$bin.version"
}

case "${1:-}" in
  install) install; echo "$bin" ;;
  ensure) install ;;
  fixtures) install; echo "$fixtures" ;;
  run)
    shift
    port=12111 custom=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --port) port=$2; shift 2 ;;
        --fixtures) custom=(-fixtures "$2"); shift 2 ;;
        *) echo "stripe-mock.sh: unknown option $1" >&2; exit 2 ;;
      esac
    done
    install
    # -http-addr alone leaves stripe-mock's default HTTPS listener on :12112 (all addresses): give
    # it a free loopback port instead, so instances never collide and nothing listens outside.
    exec "$bin" -http-addr "127.0.0.1:$port" -https-addr 127.0.0.1:0 ${custom[@]+"${custom[@]}"}
    ;;
  *) echo "usage: scripts/stripe-mock.sh install | ensure | fixtures | run [--port P] [--fixtures FILE]" >&2; exit 2 ;;
esac
