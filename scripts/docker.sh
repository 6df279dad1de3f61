#!/usr/bin/env bash
# A running Docker engine and Keelson's locally built base images (nothing can be pulled).
#   scripts/docker.sh ensure    install docker.io if missing, start dockerd if not running,
#                               build keelson/busybox:latest from Debian's busybox-static and
#                               keelson/pve-guest:bookworm with debootstrap
# Idempotent and quick when everything is already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=lib/apt.sh
. "$root/scripts/lib/apt.sh"

ensure_engine() {
  command -v dockerd >/dev/null || apt_install docker.io
  if docker info >/dev/null 2>&1; then return; fi
  mkdir -p "$root/.data"
  echo "starting dockerd…" >&2
  nohup dockerd >"$root/.data/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return; sleep 0.5; done
  echo "docker.sh: dockerd did not come up; see .data/dockerd.log" >&2
  tail -20 "$root/.data/dockerd.log" >&2
  exit 1
}

# A minimal image with a shell, coreutils, nc and httpd from busybox-static.
ensure_busybox_image() {
  docker image inspect keelson/busybox:latest >/dev/null 2>&1 && return
  [ -x /bin/busybox ] && /bin/busybox --list | grep -q '^httpd$' || apt_install busybox-static
  local rootfs
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs"/{bin,etc,tmp,www,root}
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'root:x:0:' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' - keelson/busybox:latest >/dev/null
  rm -rf "$rootfs"
}

# The Debian guest (sshd, python3) behind the Proxmox simulator's VMs; the script is a no-op
# while its inputs are unchanged.
ensure_guest_image() {
  command -v debootstrap >/dev/null || apt_install debootstrap
  bash "$root/tools/proxmox-sim/guest/build-image.sh"
}

case "${1:-ensure}" in
  ensure)
    ensure_engine
    ensure_busybox_image
    ensure_guest_image
    ;;
  *)
    echo "usage: scripts/docker.sh ensure" >&2
    exit 2
    ;;
esac
