#!/usr/bin/env bash
# Timing of the full local stand's machines: from `machine.sh create` of six
# machines (in parallel, as Pulumi runs them) until all six answer over SSH
# with the system running. The base rootfs build is outside the timing (run it
# once before; `rootfs.sh ensure` here makes sure). Cleans everything up at the
# end except the cached base and the apt cache.
#
#   test/local/bench-six.sh [--storage auto|overlay|copy] [--sequential]
# Prints "six machines ready over SSH in N.N s" and "N passed, N failed".
set -uo pipefail

ROOT="$(cd "$(dirname "$(readlink -f "$0")")/../../.." && pwd)"
S="$ROOT/src/local/machines"
BRIDGE=pgstand0 GW=10.213.0.1 STAND=${LOCAL_TEST_STAND:-lbench}
storage=auto parallel=1
while (($#)); do
  case $1 in
    --storage) storage=$2; shift 2 ;;
    --sequential) parallel=0; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
declare -A ADDR=([pg01]=10.213.0.11 [pg02]=10.213.0.12 [pg03]=10.213.0.13
                 [etcd01]=10.213.0.21 [haproxy01]=10.213.0.31 [client01]=10.213.0.41)
NAMES=(pg01 pg02 pg03 etcd01 haproxy01 client01)

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
nok() { fail=$((fail + 1)); echo "FAIL - $*"; }

if ip link show dev "$BRIDGE" >/dev/null 2>&1; then
  echo "bridge $BRIDGE already exists: a stand is up on this host; bring it down first"
  echo "0 passed, 1 failed"; exit 1
fi
TMP=$(mktemp -d); chmod 700 "$TMP"
KEY="$TMP/id_ed25519"; ssh-keygen -q -t ed25519 -N '' -f "$KEY"
m() { "$S/machine.sh" "$@" --stand "$STAND"; }
cleanup() {
  for n in "${NAMES[@]}"; do m destroy "$n" >/dev/null 2>&1 & done; wait
  "$S/network.sh" down --bridge "$BRIDGE" >/dev/null 2>&1
  "$S/apt-proxy.sh" down --listen "$GW" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

"$S/network.sh" up --bridge "$BRIDGE" --address "$GW/24" >/dev/null
"$S/apt-proxy.sh" up --listen "$GW" >/dev/null
"$S/rootfs.sh" ensure >/dev/null

one() {   # create + wait-ready one machine, as one Pulumi resource would
  local n=$1
  m create "$n" --address "${ADDR[$n]}/24" --gateway "$GW" --bridge "$BRIDGE" \
    --authorized-keys-file "$KEY.pub" --apt-proxy "http://$GW:3142" --storage "$storage" >/dev/null 2>"$TMP/$n.err" \
  && m wait-ready "$n" --timeout 60 --identity "$KEY" >"$TMP/$n.state" 2>>"$TMP/$n.err"
}
t0=$(date +%s.%N)
if ((parallel)); then
  for n in "${NAMES[@]}"; do one "$n" & done; wait
else
  for n in "${NAMES[@]}"; do one "$n"; done
fi
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}')
mode=$([[ $parallel == 1 ]] && echo parallel || echo sequential)
echo "six machines ready over SSH in $secs s ($mode create, storage $storage)"

for n in "${NAMES[@]}"; do
  got=$(ssh -F /dev/null -i "$KEY" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o LogLevel=ERROR -o ConnectTimeout=5 "root@${ADDR[$n]}" 'echo $(hostname) $(systemctl is-system-running)' 2>&1)
  if [[ $got == "$n running" ]]; then ok "$n over ssh: $got"; else nok "$n over ssh: $got $(cat "$TMP/$n.err" 2>/dev/null)"; fi
done
if awk -v s="$secs" 'BEGIN{exit !(s < 30)}'; then ok "under 30 s"; else nok "took $secs s (goal < 30 s)"; fi
m list
cleanup; trap - EXIT
# Scoped to this stand: other stands may share the host.
left=$( { ip netns list | grep "^pp-$STAND-"; ip -o link show | grep "altname ppv-$STAND-"; findmnt -rn -o TARGET | grep "/pulumi-patroni/$STAND/";
          pgrep -af -- "-D /var/lib/pulumi-patroni/$STAND/"; ls -d "/var/lib/pulumi-patroni/$STAND";
          find /sys/fs/cgroup -maxdepth 3 -path "*/pulumi-patroni/$STAND"; } 2>/dev/null | wc -l)
if ((left == 0)); then ok "cleaned up"; else nok "$left objects left behind"; fi
echo
echo "$pass passed, $fail failed"
((fail == 0))
