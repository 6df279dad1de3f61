#!/usr/bin/env bash
# Caddy, the edge reverse proxy of a Docker node (activities/caddy drives it through its admin API).
#   scripts/caddy.sh ensure    install Debian's caddy if missing, and keep the package's own
#                              caddy.service (the default Caddyfile, serving :80) from running:
#                              Keelson starts caddy itself, with its own config; and set
#                              net.ipv4.tcp_migrate_req=1 so that config changes reset no new connection
# Idempotent and quick when everything is already there.
set -euo pipefail
# shellcheck source=lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"

# The package's postinst enables caddy.service and starts it. A policy-rc.d that answers 101
# ("action forbidden") stops deb-systemd-invoke from starting it during the install, on hosts
# with systemd too; one the host already has is left as it is.
install_caddy() {
  local policy=/usr/sbin/policy-rc.d
  if [ -e "$policy" ]; then
    apt_install caddy
    return
  fi
  printf '#!/bin/sh\n# temporary, scripts/caddy.sh: no service starts while caddy is installed\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  local status=0
  apt_install caddy || status=$?
  rm -f "$policy"
  return "$status"
}

# Not at boot either, and not now if systemd runs and started it anyway. deb-systemd-helper is
# what the package's own scripts use (hence the DPKG_MAINTSCRIPT_PACKAGE it insists on): it works
# without a running systemd, and a unit it disabled stays disabled across package upgrades.
disable_packaged_service() {
  local unit
  for unit in caddy.service caddy-api.service; do
    if DPKG_MAINTSCRIPT_PACKAGE=caddy deb-systemd-helper --quiet is-enabled "$unit"; then
      DPKG_MAINTSCRIPT_PACKAGE=caddy deb-systemd-helper disable "$unit" >/dev/null
    fi
    if [ -d /run/systemd/system ] && systemctl --quiet is-active "$unit" 2>/dev/null; then
      systemctl stop "$unit"
    fi
  done
}

# A caddy on :80 that Keelson did not start would shadow the edge proxy's port; say so rather
# than kill something we do not own.
check_port_80() {
  command -v ss >/dev/null || return 0
  local owner
  owner=$(ss -Hltnp 'sport = :80' 2>/dev/null | grep -o 'users:(("caddy",pid=[0-9]*' | head -1 || true)
  if [ -n "$owner" ]; then
    echo "caddy.sh: a caddy process (${owner#users:((\"caddy\",}) listens on :80; stop it (the packaged caddy.service is disabled now)" >&2
    exit 1
  fi
}

# Caddy 2.6 applies every admin API change as a new config: the new server opens its own socket
# on the port (SO_REUSEPORT) and the old one closes its socket. Without this setting the kernel
# resets the connections still queued on the closed socket, so a few clients arriving during a
# deploy would see "connection reset"; with it (Linux 5.14+) they move to the new socket.
enable_listener_migration() {
  local setting=/proc/sys/net/ipv4/tcp_migrate_req
  if [ ! -e "$setting" ]; then
    echo "caddy.sh: warning: kernel without net.ipv4.tcp_migrate_req (Linux < 5.14); config changes may reset a few new connections" >&2
    return
  fi
  [ "$(cat "$setting")" = 1 ] && [ -f /etc/sysctl.d/60-keelson-caddy.conf ] && return
  if ! sysctl -qw net.ipv4.tcp_migrate_req=1 2>/dev/null; then
    echo "caddy.sh: warning: cannot set net.ipv4.tcp_migrate_req=1 here; config changes may reset a few new connections" >&2
    return
  fi
  printf '# scripts/caddy.sh: connections queued on a reloaded Caddy listener move to its successor\nnet.ipv4.tcp_migrate_req = 1\n' \
    >/etc/sysctl.d/60-keelson-caddy.conf
}

ensure() {
  if ! command -v caddy >/dev/null; then
    # Test files may get here concurrently: one installs, the others wait for it.
    exec 8>/var/lock/keelson-caddy.lock
    flock 8
    command -v caddy >/dev/null || install_caddy
  fi
  disable_packaged_service
  check_port_80
  enable_listener_migration
}

case "${1:-ensure}" in
  ensure) ensure ;;
  *)
    echo "usage: scripts/caddy.sh ensure" >&2
    exit 2
    ;;
esac
