# Sourced by the scripts that install Debian packages: `apt_install <package>…`.
# Needs root. The package lists are refreshed once per machine (a marker file records it), and
# concurrent callers (test files may prepare at once) take turns, since apt's own lock would
# fail all but the first.
apt_install() {
  [ "$(id -u)" = 0 ] || { echo "$(basename "$0"): need root to install $* (apt-get install -y $*)" >&2; return 1; }
  (
    flock 9
    if [ ! -f /var/lib/apt/lists/.keelson-updated ] || [ -z "$(ls /var/lib/apt/lists/*Packages 2>/dev/null)" ]; then
      apt-get update -qq && touch /var/lib/apt/lists/.keelson-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  ) 9>/var/lock/keelson-apt.lock
}
