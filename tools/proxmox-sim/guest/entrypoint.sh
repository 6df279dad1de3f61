#!/bin/sh
# PID 1 of a simulated Proxmox guest: applies the cloud-init-like seed the backend wrote into
# /etc/keelson-guest/ before this start, then becomes sshd. Runs on every start, so each step is
# idempotent, and a changed seed (new keys, new password) takes effect on the next start — as
# Proxmox regenerates the cloud-init drive and cloud-init re-applies a changed configuration.
#
# Seed files (all optional):
#   user             the login to set up; root when missing or empty
#   authorized_keys  public keys for that login, one per line
#   password         its password, plain text; removed once applied
set -eu

seed=/etc/keelson-guest
user=root
[ -s "$seed/user" ] && user=$(head -n1 "$seed/user")

if [ "$user" = root ]; then
  home=/root
else
  # A cloud image's default user: a home, a login shell and passwordless sudo.
  id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --groups sudo "$user"
  home=$(getent passwd "$user" | cut -d: -f6)
  printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$user" >"/etc/sudoers.d/90-keelson-$user"
  chmod 0440 "/etc/sudoers.d/90-keelson-$user"
fi

# The seed's keys replace the previous ones, as cloud-init's do.
install -d -m 0700 -o "$user" -g "$(id -gn "$user")" "$home/.ssh"
if [ -f "$seed/authorized_keys" ]; then
  install -m 0600 -o "$user" -g "$(id -gn "$user")" "$seed/authorized_keys" "$home/.ssh/authorized_keys"
fi

if [ -f "$seed/password" ]; then
  printf '%s:%s\n' "$user" "$(cat "$seed/password")" | chpasswd
  rm -f "$seed/password"
fi

# Host keys belong to the machine: made on its first start and kept across restarts, so a client
# that pinned them still trusts the guest. Ed25519 only — RSA generation would slow every first
# start and no current client needs it.
[ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key

mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e
