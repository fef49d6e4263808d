#!/usr/bin/env bash
# End-to-end test of the local machine layer (src/local/machines/*.sh): bridge,
# apt proxy, two nspawn machines, ssh, apt through the proxy, power loss,
# restart, clean poweroff, destroy, and that nothing is left behind.
#
# Needs root and: debootstrap systemd-container apt-cacher-ng iproute2
# openssh-client curl util-linux. The first run builds the base rootfs
# (2-4 min); later runs reuse it. Only the stand subnet 10.213.0.0/24 is used.
# Refuses to run while the stand bridge already exists (a live stand would be
# torn down by this test).
#
# Ends with "N passed, N failed"; exit status non-zero if anything failed.
set -uo pipefail

ROOT="$(cd "$(dirname "$(readlink -f "$0")")/../../.." && pwd)"
S="$ROOT/src/local/machines"
BRIDGE=${LOCAL_TEST_BRIDGE:-pgstand0}
GW=10.213.0.1
STAND=${LOCAL_TEST_STAND:-ltest}
M1=tpg01 A1=10.213.0.201
M2=tpg02 A2=10.213.0.202
STATE_ROOT=${PULUMI_PATRONI_STATE:-/var/lib/pulumi-patroni}
ACNG_LOG=${PULUMI_PATRONI_CACHE:-/var/cache/pulumi-patroni}/apt-cacher-ng/log/apt-cacher.log

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
nok() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
eq() { if [[ $2 == "$3" ]]; then ok "$1"; else nok "$1 (expected '$3', got '$2')"; fi; }
summary() { echo; echo "$pass passed, $fail failed"; }

if [[ $(id -u) -ne 0 ]]; then echo "must run as root"; echo "0 passed, 1 failed"; exit 1; fi
if ip link show dev "$BRIDGE" >/dev/null 2>&1; then
  echo "bridge $BRIDGE already exists: a stand is up on this host; bring it down first"
  echo "0 passed, 1 failed"; exit 1
fi

TMP=$(mktemp -d); chmod 700 "$TMP"
KEY="$TMP/id_ed25519"
ssh-keygen -q -t ed25519 -N '' -C pulumi-patroni-test -f "$KEY"

m() { "$S/machine.sh" "$@" --stand "$STAND"; }
rssh() {
  local a=$1; shift
  ssh -F /dev/null -i "$KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=5 \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "root@$a" "$@"
}
# shellcheck disable=SC2016 # $1 is the inner bash's argument
port22_open() { timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/22"' _ "$1" 2>/dev/null; }
unreachable() { ! port22_open "$1"; }
not() { ! "$@" >/dev/null 2>&1; }

cleanup() {
  # Best effort on any exit path, so a failed run does not leave a stand behind.
  m destroy "$M1" >/dev/null 2>&1; m destroy "$M2" >/dev/null 2>&1
  "$S/network.sh" down --bridge "$BRIDGE" >/dev/null 2>&1
  "$S/apt-proxy.sh" down --listen "$GW" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

echo "# network and apt proxy"
eq "network up" "$("$S/network.sh" up --bridge "$BRIDGE" --address "$GW/24")" up
eq "network up again (idempotent)" "$("$S/network.sh" up --bridge "$BRIDGE" --address "$GW/24")" up
eq "bridge never forwards stand traffic off-host" "$(sysctl -n "net.ipv4.conf.$BRIDGE.forwarding")" 0
eq "apt proxy up" "$("$S/apt-proxy.sh" up --listen "$GW" --port 3142)" running
eq "apt proxy up again (idempotent)" "$("$S/apt-proxy.sh" up --listen "$GW" --port 3142)" running
eq "apt proxy status" "$("$S/apt-proxy.sh" status --listen "$GW" --port 3142)" running
# A stale pidfile (a run killed before it recorded the daemon, /run kept over
# a restart) must not orphan the daemon: up adopts it, down still stops it.
PIDF="${PULUMI_PATRONI_RUN:-/run/pulumi-patroni}/apt-cacher-ng-$GW-3142.pid"
ACNG=$(cat "$PIDF")
echo "1 1" >"$PIDF"
eq "apt proxy status with a stale pidfile" "$("$S/apt-proxy.sh" status --listen "$GW" --port 3142)" stopped
eq "apt proxy up adopts its own daemon" "$("$S/apt-proxy.sh" up --listen "$GW" --port 3142 2>/dev/null)" running
eq "the pidfile names that daemon again" "$(cat "$PIDF")" "$ACNG"

echo "# base rootfs"
t0=$SECONDS
BASE=$("$S/rootfs.sh" ensure --apt-proxy "http://$GW:3142")
check "rootfs ensure gives a complete base ($((SECONDS - t0)) s)" test -f "$BASE/.complete"
eq "rootfs ensure again returns the same path" "$("$S/rootfs.sh" ensure)" "$BASE"
eq "base has an empty machine-id" "$(stat -c %s "$BASE/etc/machine-id")" 0
check "base has no ssh host keys" not compgen -G "$BASE/etc/ssh/ssh_host_*"

echo "# create two machines"
t0=$SECONDS
for n in 1 2; do
  name=M$n addr=A$n
  eq "create ${!name}" "$(m create "${!name}" --address "${!addr}/24" --gateway "$GW" --bridge "$BRIDGE" \
      --authorized-keys-file "$KEY.pub" --apt-proxy "http://$GW:3142")" running
done
for n in 1 2; do
  name=M$n
  eq "wait-ready ${!name}" "$(m wait-ready "${!name}" --timeout 60 --identity "$KEY")" running
done
echo "  (two machines created and ready in $((SECONDS - t0)) s)"
eq "create again = ensure running (idempotent)" "$(m create "$M2" --address "$A2/24" --gateway "$GW" --bridge "$BRIDGE" \
    --authorized-keys-file "$KEY.pub" --apt-proxy "http://$GW:3142")" running
check "create with a different address is refused" not m create "$M2" --address 10.213.0.203/24 --authorized-keys-file "$KEY.pub"
check "a second machine on a used address is refused" not m create tpg09 --address "$A1/24" --authorized-keys-file "$KEY.pub"
eq "list" "$(m list | sort)" "$(printf '%s running %s/24\n%s running %s/24' "$M1" "$A1" "$M2" "$A2")"

echo "# inside the machines"
for n in 1 2; do
  name=M$n addr=A$n
  eq "ssh ${!name}: hostname" "$(rssh "${!addr}" hostname)" "${!name}"
  eq "ssh ${!name}: systemctl is-system-running" "$(rssh "${!addr}" systemctl is-system-running)" running
  eq "ssh ${!name}: authorized_keys mode" "$(rssh "${!addr}" stat -c %a /root/.ssh/authorized_keys)" 600
  eq "ssh ${!name}: resolves its own name" "$(rssh "${!addr}" getent hosts "${!name}" | awk '{print $1}')" "${!addr}"
done
id1=$(rssh "$A1" cat /etc/machine-id); id2=$(rssh "$A2" cat /etc/machine-id)
is_id128() { [[ $1 =~ ^[0-9a-f]{32}$ ]]; }
check "machine-ids are set" is_id128 "$id1"
check "machine-ids are set" is_id128 "$id2"
check "machine-ids differ" test "$id1" != "$id2"
# Each machine in its own cgroup subtree (shared ones make parallel boots race).
init_cg() { cat "/proc/$(cut -d' ' -f1 "$STATE_ROOT/$STAND/$1/init.pid")/cgroup"; }
check "$M1 has its own cgroup" grep -q "/pulumi-patroni/$STAND/$M1/payload" <<<"$(init_cg "$M1")"
check "$M2 has its own cgroup" grep -q "/pulumi-patroni/$STAND/$M2/payload" <<<"$(init_cg "$M2")"
check "host keys differ" test "$(m host-key "$M1")" != "$(m host-key "$M2")"
# The key sshd serves is the one host-key prints: strict checking against it passes.
m host-key "$M1" --known-hosts >"$TMP/known_hosts"
check "pinned host key matches what sshd serves" ssh -F /dev/null -i "$KEY" -o IdentitiesOnly=yes -o BatchMode=yes \
  -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$TMP/known_hosts" -o LogLevel=ERROR "root@$A1" true
pwout=$(ssh -F /dev/null -o BatchMode=yes -o PubkeyAuthentication=no -o StrictHostKeyChecking=no \
  -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 "root@$A1" true 2>&1)
check "sshd offers no password login" grep -q 'Permission denied (publickey)' <<<"$pwout"
eq "machines reach each other" "$(rssh "$A1" "ping -c1 -W2 $A2 >/dev/null && echo yes")" yes
eq "no DNS server configured inside (names come from /etc/hosts)" "$(rssh "$A1" 'grep -c nameserver /etc/resolv.conf')" 0

echo "# apt through the proxy"
before=$(grep -c . "$ACNG_LOG" 2>/dev/null || echo 0)
t0=$SECONDS
check "apt-get update && apt-get install -y less (and a reinstall, to download it)" \
  rssh "$A2" 'apt-get update -qq && apt-get install -y -qq less >/dev/null && apt-get install -y -qq --reinstall less >/dev/null'
echo "  (apt in the machine took $((SECONDS - t0)) s)"
sleep 1
check "the proxy log shows the machine's downloads" grep -q 'less_' < <(tail -n +"$((before + 1))" "$ACNG_LOG")
eq "the machine's only way out is the proxy (apt config)" "$(rssh "$A2" cat /etc/apt/apt.conf.d/01proxy)" "Acquire::http::Proxy \"http://$GW:3142\";"

echo "# power loss and restart"
rssh "$A2" 'echo before-power-loss >/root/marker'
eq "kill $M2" "$(m kill "$M2")" stopped
eq "status after kill" "$(m status "$M2")" stopped
check "address unreachable after kill" unreachable "$A2"
check "no nspawn left for $M2" not pgrep -f -- "--machine=$M2 "
eq "$M1 unaffected" "$(m status "$M1")" running
eq "kill again (idempotent)" "$(m kill "$M2")" stopped
eq "start $M2" "$(m start "$M2")" running
eq "start again (idempotent)" "$(m start "$M2")" running
eq "wait-ready after restart" "$(m wait-ready "$M2" --timeout 60 --identity "$KEY")" running
eq "ssh works again" "$(rssh "$A2" hostname)" "$M2"
eq "disk survived the power loss" "$(rssh "$A2" cat /root/marker)" before-power-loss
eq "machine-id kept across restart" "$(rssh "$A2" cat /etc/machine-id)" "$id2"
eq "system running after restart" "$(rssh "$A2" systemctl is-system-running --wait)" running

echo "# clean poweroff"
t0=$SECONDS
eq "poweroff $M1" "$(m poweroff "$M1" --timeout 60)" stopped
echo "  (poweroff took $((SECONDS - t0)) s)"
eq "status after poweroff" "$(m status "$M1")" stopped
check "console log shows a clean shutdown" grep -q 'Container .* has been shut down\|Powering off' "$STATE_ROOT/$STAND/$M1/console.log"
check "address unreachable after poweroff" unreachable "$A1"

echo "# destroy and tear down"
eq "destroy $M1" "$(m destroy "$M1")" destroyed
eq "destroy $M2 (running)" "$(m destroy "$M2")" destroyed
eq "destroy again (idempotent)" "$(m destroy "$M2")" destroyed
eq "network down" "$("$S/network.sh" down --bridge "$BRIDGE")" down
eq "network down again (idempotent)" "$("$S/network.sh" down --bridge "$BRIDGE")" down
echo "1 1" >"$PIDF"
eq "apt proxy down (pidfile stale again)" "$("$S/apt-proxy.sh" down --listen "$GW" --port 3142)" stopped
eq "apt proxy status" "$("$S/apt-proxy.sh" status --listen "$GW" --port 3142)" stopped

echo "# nothing left behind"
# Scoped to this test's stand: other stands (e.g. a Pulumi e2e run) may share the host.
veth_of() { echo "pp$(printf '%s' "$STAND/$1" | sha256sum | cut -c1-10)"; }
eq "no netns of the stand" "$(ip netns list | grep -c "^pp-$STAND-")" 0
check "no veth of $M1" not ip link show dev "$(veth_of "$M1")"
check "no veth of $M2" not ip link show dev "$(veth_of "$M2")"
check "no bridge" not ip link show dev "$BRIDGE"
# An exited nspawn may sit as a zombie until the host's init reaps it: give it a moment.
for _ in $(seq 50); do pgrep -f -- "-D $STATE_ROOT/$STAND/" >/dev/null || break; sleep 0.1; done
check "no systemd-nspawn process of the stand" not pgrep -f -- "-D $STATE_ROOT/$STAND/"
check "no apt-cacher-ng of ours" not pgrep -f "apt-cacher-ng -c .*/conf-$GW-3142 "
eq "no mounts under $STATE_ROOT/$STAND" "$(findmnt -rn -o TARGET | grep -c "^$STATE_ROOT/$STAND/")" 0
eq "no cgroups of the stand" "$(find /sys/fs/cgroup -maxdepth 3 -path "*/pulumi-patroni/$STAND" 2>/dev/null | wc -l)" 0
check "state dir gone" not test -e "$STATE_ROOT/$STAND"
# destroy renames a machine's files away and removes them in the background.
for _ in $(seq 600); do compgen -G "$STATE_ROOT/.trash/$STAND-*" >/dev/null || break; sleep 0.1; done
check "its files removed in the background within 60 s" not compgen -G "$STATE_ROOT/.trash/$STAND-*"
check "base rootfs kept for next time" test -f "$BASE/.complete"

summary
((fail == 0))
