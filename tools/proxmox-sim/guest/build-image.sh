#!/usr/bin/env bash
# Builds keelson/pve-guest:bookworm, the image behind the Proxmox simulator's Docker guests: a
# minimal Debian with sshd, python3 and sudo (what Ansible needs), made with debootstrap from the
# machine's own Debian mirror, since no image can be pulled.
#
#   tools/proxmox-sim/guest/build-image.sh
#
# Idempotent: the image carries a hash of its build inputs (this script and entrypoint.sh) in a
# label and is rebuilt only when they change. Two caches under .cache/pve-guest/ keep a rebuild
# fast: the downloaded .debs and the finished root filesystem (keyed by everything that shapes
# it), so a lost image comes back in seconds and a changed entrypoint in under one.
#
# Environment: KEELSON_DEBIAN_MIRROR overrides the mirror read from /etc/apt/sources.list*.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cache="$root/.cache/pve-guest"

image=keelson/pve-guest:bookworm
base_image=keelson/pve-guest-base:bookworm
inputs_label=io.keelson.pve-guest.inputs
rootfs_label=io.keelson.pve-guest.rootfs
suite=bookworm
# openssh-sftp-server: Ansible copies files over SFTP. netbase: /etc/services and /etc/protocols,
# which Python's socket module reads.
packages=openssh-server,openssh-sftp-server,python3,sudo,iproute2,ca-certificates,netbase

log() { echo "build-image.sh: $*" >&2; }

# Shapes the debootstrapped tree in $1 into the guest's root filesystem.
customize_rootfs() {
  local fs=$1
  # Keep later `apt-get install`s inside a guest as lean as this image.
  cat >"$fs/etc/dpkg/dpkg.cfg.d/01-keelson-minimal" <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
EOF
  find "$fs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$fs"/usr/share/{man,info}/* "$fs"/var/cache/apt/*.bin "$fs"/var/cache/apt/archives/*.deb "$fs"/var/lib/apt/lists/*
  find "$fs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  find "$fs/var/log" -type f -delete
  # Every guest makes its own host keys on first start (entrypoint.sh).
  rm -f "$fs"/etc/ssh/ssh_host_*
  cat >"$fs/etc/ssh/sshd_config.d/keelson.conf" <<'EOF'
HostKey /etc/ssh/ssh_host_ed25519_key
EOF
  # A container may not set its audit login uid; as `required` that would end every session.
  sed -i 's/^session\s\+required\s\+pam_loginuid\.so/session optional pam_loginuid.so/' "$fs/etc/pam.d/sshd"
  # Docker provides these per container; debootstrap copied the build machine's.
  : >"$fs/etc/resolv.conf"
  : >"$fs/etc/hostname"
  install -d -m 0700 "$fs/etc/keelson-guest"
}

# The Debian mirror this machine's apt uses (deb822 .sources or one-line sources.list).
detect_mirror() {
  if [ -n "${KEELSON_DEBIAN_MIRROR:-}" ]; then echo "$KEELSON_DEBIAN_MIRROR"; return; fi
  local url
  url=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
    /^URIs:/ { uri = $2 } /^Suites:/ { suites = $0 }
    /^$/ { if (uri ~ /\/debian\/?$/ && suites ~ / '"$suite"'( |$)/) { print uri; exit } uri = ""; suites = "" }
    END { if (uri ~ /\/debian\/?$/ && suites ~ / '"$suite"'( |$)/) print uri }' | head -n1)
  [ -n "$url" ] || url=$(grep -hsE "^deb (\[[^]]*\] )?[a-z]+://[^ ]+ $suite( |$)" /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
    sed -E 's/^deb (\[[^]]*\] )?//' | awk '{ print $1 }' | head -n1)
  echo "${url:-http://deb.debian.org/debian}"
}

# Removes a debootstrap target. An interrupted debootstrap can leave /proc, /sys or device bind
# mounts inside it, and a recursive delete must never reach through them into the host's.
discard_tree() {
  local fs=$1 mount
  for mount in $(awk -v fs="$fs" 'index($2, fs "/") == 1 { print $2 }' /proc/mounts | sort -r); do
    umount -l "$mount" 2>/dev/null || true
  done
  rm -rf --one-file-system "$fs"
}

image_label() { docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

# Everything that decides the root filesystem's content (not the mirror: any mirror serves the
# same suite), and everything that decides the image.
rootfs_key=$(printf '%s\n' "$suite" "$packages" "$(declare -f customize_rootfs)" | sha256sum | cut -c1-16)
inputs_key=$(cat "$0" "$here/entrypoint.sh" | sha256sum | cut -c1-16)

[ "$(image_label "$image" "$inputs_label")" = "$inputs_key" ] && exit 0

# Test runs and developers may build at the same time; the second waits and then finds it done.
mkdir -p "$cache"
exec 9>"$cache/build.lock"
flock 9
[ "$(image_label "$image" "$inputs_label")" = "$inputs_key" ] && exit 0

started=$(date +%s)
# Previous builds, removed once replaced; one still in use by a guest stays (removal fails quietly).
old_image=$(docker image inspect --format '{{ .Id }}' "$image" 2>/dev/null || true)
old_base=
if [ "$(image_label "$base_image" "$rootfs_label")" != "$rootfs_key" ]; then
  rootfs_tar="$cache/rootfs-$suite-$rootfs_key.tar"
  if [ ! -f "$rootfs_tar" ]; then
    command -v debootstrap >/dev/null || { log "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
    mirror=$(detect_mirror)
    log "debootstrapping Debian $suite from $mirror (a few minutes the first time)…"
    fs=$(mktemp -d "$cache/rootfs.XXXXXX")
    trap 'discard_tree "$fs"' EXIT
    mkdir -p "$cache/debs"
    debootstrap --variant=minbase --include="$packages" --cache-dir="$cache/debs" \
      "$suite" "$fs" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
      { tail -20 "$cache/debootstrap.log" >&2; log "debootstrap failed; see .cache/pve-guest/debootstrap.log"; exit 1; }
    customize_rootfs "$fs"
    rm -f "$cache"/rootfs-*.tar
    tar -C "$fs" --numeric-owner -cf "$rootfs_tar.partial" .
    mv "$rootfs_tar.partial" "$rootfs_tar"
    discard_tree "$fs"
    trap - EXIT
  fi
  log "importing the root filesystem…"
  old_base=$(docker image inspect --format '{{ .Id }}' "$base_image" 2>/dev/null || true)
  docker import --change "LABEL $rootfs_label=$rootfs_key" --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$rootfs_tar" "$base_image" >/dev/null
fi

# The entrypoint goes in a layer of its own, so changing it does not re-import the root filesystem.
layer=$(docker create "$base_image" /bin/true)
trap 'docker rm -f "$layer" >/dev/null 2>&1 || true' EXIT
tar -C "$here" -c --owner=0 --group=0 --mode=0755 --transform 's|^entrypoint.sh$|keelson-guest-init|' entrypoint.sh |
  docker cp - "$layer:/usr/local/sbin/"
docker commit \
  --change "LABEL $inputs_label=$inputs_key" \
  --change 'EXPOSE 22' \
  --change 'ENTRYPOINT ["/usr/local/sbin/keelson-guest-init"]' \
  --change 'CMD []' \
  "$layer" "$image" >/dev/null
for old in $old_image $old_base; do docker image rm "$old" >/dev/null 2>&1 || true; done
log "built $image in $(($(date +%s) - started))s"
