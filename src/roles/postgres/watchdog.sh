# Gives Patroni a watchdog where the host can have one: the hardware's, or
# the kernel's softdog (loaded now and at every boot), /dev/watchdog owned
# by postgres (a udev rule keeps it so). Patroni opens it when it leads and
# lets the machine reset if its loop stops, before the leader key expires:
# a hung leader cannot stay primary beside a new one. A host that cannot
# have one (a container: no device, no module loading) is reported, and
# refused when MODE is required. MODE off removes our rule and the boot-time
# load (softdog stays loaded until a reboot: Patroni no longer opens it).
# Env: MODE (off, automatic, required), DEVICE.
rule=/etc/udev/rules.d/61-pulumi-patroni-watchdog.rules
load=/etc/modules-load.d/pulumi-patroni-softdog.conf
if [ "$MODE" = off ]; then
  rm -f "$rule" "$load"
  echo "watchdog off"
  exit 0
fi
if [ ! -c "$DEVICE" ] && modprobe softdog 2>/dev/null; then
  echo softdog >"$load"
  for _ in $(seq 50); do [ -c "$DEVICE" ] && break; sleep 0.1; done
fi
if [ ! -c "$DEVICE" ]; then
  rm -f "$rule" "$load"
  if [ "$MODE" = required ]; then
    echo "cluster.watchdog.mode is required, but $(hostname) has no $DEVICE and cannot load softdog (a container, or a kernel without it): Patroni would never lead here. Use automatic, or give the host a watchdog." >&2
    exit 1
  fi
  echo "no watchdog: $(hostname) has no $DEVICE and cannot load softdog (a container?); Patroni runs without one"
  exit 0
fi
printf '%s\n' '# pulumi-patroni: Patroni (postgres) opens the watchdog' \
  'KERNEL=="watchdog*", OWNER="postgres", GROUP="postgres", MODE="0600"' >"$rule"
chown postgres:postgres "$DEVICE"
chmod 0600 "$DEVICE"
echo "watchdog $DEVICE ($(cat /sys/class/watchdog/watchdog0/identity 2>/dev/null || echo unknown)) for postgres"
