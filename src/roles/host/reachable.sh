# The SSH gate every other step of a host waits for: we can log in, we are
# root (or sudo works), and the host is a systemd Debian we know how to drive.
[ "$(id -u)" = 0 ] || { echo "need root (or passwordless sudo)" >&2; exit 1; }
command -v apt-get >/dev/null || { echo "no apt-get: only Debian-family hosts are supported" >&2; exit 1; }
[ -d /run/systemd/system ] || { echo "systemd is not running on this host" >&2; exit 1; }
state=$(systemctl is-system-running --wait 2>/dev/null || true)
echo "$(hostname): systemd $state"
