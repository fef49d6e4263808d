# What `npm run ctl -- status` reads of a PostgreSQL host's watchdog: the
# mode in patroni.yml, the device if the host has one, its owner, and
# whether Patroni holds it open (armed: it leads with a watchdog). JSON.
# Env: PATRONI_CONFIG, DEVICE.
mode=$(python3 -c "import sys, yaml; print((yaml.safe_load(open(sys.argv[1])).get('watchdog') or {}).get('mode', 'automatic'))" "$PATRONI_CONFIG")
if [ ! -c "$DEVICE" ]; then
  printf '{"mode":"%s","device":null}\n' "$mode"
  exit 0
fi
armed=false
pid=$(systemctl show -p MainPID --value patroni)
if [ "${pid:-0}" != 0 ] && find "/proc/$pid/fd" -lname "$DEVICE*" 2>/dev/null | grep -q .; then armed=true; fi
printf '{"mode":"%s","device":"%s","owner":"%s","armed":%s}\n' "$mode" "$DEVICE" "$(stat -c %U "$DEVICE")" "$armed"
