#!/usr/bin/env bash
# The external programs Keelson runs (scripts/programs.txt), installed idempotently.
#   scripts/programs.sh ensure up|test    install what that set lacks; exit 1 naming a required
#                                         program that cannot be had, warn about optional ones
#   scripts/programs.sh list [up|test]    the table, with where each program is found here
# Quick when everything is there: apt runs only for missing programs, and the scripts named in
# the table are idempotent themselves.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
table="$root/scripts/programs.txt"
# shellcheck source=lib/apt.sh
. "$root/scripts/lib/apt.sh"

say() { printf '%s │ %s\n' "${KEELSON_STEP_PREFIX:-programs}" "$*" >&2; }

# Rows as "program<TAB>need<TAB>install<TAB>used for" for the set in $1 (need: required|optional).
rows() {
  local set=$1
  while read -r program up test install rest; do
    case "$program" in '' | '#'*) continue ;; esac
    case " ${KEELSON_PROGRAMS_SKIP:-} " in *" $program "*) continue ;; esac
    local need
    case "$set" in
      up) need=$up ;;
      test) need=$test ;;
      all) need=required ;;
      *) echo "programs.sh: unknown set '$set' (up or test)" >&2; exit 2 ;;
    esac
    case "$need" in required | optional) printf '%s\t%s\t%s\t%s\n' "$program" "$need" "$install" "$rest" ;; -) ;; *)
      echo "programs.sh: $table: '$program' has '$need' where required, optional or - belongs" >&2; exit 2 ;;
    esac
  done <"$table"
}

# A missing program: fatal when required, a warning when optional.
missing() {
  local program=$1 need=$2 why=$3 detail=$4
  if [ "$need" = required ]; then
    echo "programs.sh: $program is required ($why) but $detail" >&2
    exit 1
  fi
  say "warning: no $program ($detail): $why will not work"
}

ensure() {
  local set=$1 program need install why
  local -a apt_packages=() apt_programs=()
  # 1. Debian packages of the programs not on PATH, in one apt-get.
  while IFS=$'\t' read -r program need install why; do
    case "$install" in
      apt:*)
        command -v "$program" >/dev/null && continue
        apt_packages+=("${install#apt:}")
        apt_programs+=("$program")
        ;;
      prerequisite)
        command -v "$program" >/dev/null || missing "$program" "$need" "$why" "it is not on PATH; install it first"
        ;;
    esac
  done < <(rows "$set")
  if [ ${#apt_packages[@]} -gt 0 ]; then
    say "installing ${apt_programs[*]} (apt: $(printf '%s\n' "${apt_packages[@]}" | sort -u | tr '\n' ' '))…"
    if ! apt_install $(printf '%s\n' "${apt_packages[@]}" | sort -u); then
      say "apt-get could not install them"
    fi
    while IFS=$'\t' read -r program need install why; do
      [[ $install == apt:* ]] || continue
      command -v "$program" >/dev/null || missing "$program" "$need" "$why" "apt-get install -y ${install#apt:} did not provide it"
    done < <(rows "$set")
  fi
  # 2. Our own idempotent scripts, each once, in the table's order.
  local -A ran=()
  while IFS=$'\t' read -r program need install why; do
    [[ $install == script:* ]] || continue
    local script=${install#script:}
    [ -n "${ran[$script]:-}" ] && continue
    ran[$script]=1
    if ! bash "$root/$script" ensure >/dev/null; then
      missing "$program" "$need" "$why" "\`bash $script ensure\` failed"
    fi
  done < <(rows "$set")
}

list() {
  local set=${1:-all} program need install why where
  while IFS=$'\t' read -r program need install why; do
    where=$(command -v "$program" 2>/dev/null || true)
    [ -z "$where" ] && [ -x "$root/.tools/bin/$program" ] && where="$root/.tools/bin/$program"
    printf '%-17s %-9s %-34s %s\n' "$program" "$need" "$install" "${where:-(missing)}"
  done < <(rows "$set")
}

case "${1:-}" in
  ensure)
    [ $# -eq 2 ] || { echo "usage: scripts/programs.sh ensure up|test" >&2; exit 2; }
    ensure "$2"
    ;;
  list) list "${2:-all}" ;;
  *)
    echo "usage: scripts/programs.sh ensure up|test | list [up|test]" >&2
    exit 2
    ;;
esac
