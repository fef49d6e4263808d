#!/usr/bin/env bash
# Local "virtual machines" for the stand: a full Debian (systemd + sshd) booted
# with systemd-nspawn in its own network namespace, plugged into the stand bridge
# through a veth pair. Everything is namespaced by --stand (default "local").
#
#   machine.sh create NAME --address 10.213.0.11/24 --authorized-keys-file FILE
#                     [--gateway 10.213.0.1] [--bridge pgstand0] [--apt-proxy http://10.213.0.1:3142|none]
#                     [--hosts-file FILE] [--storage auto|overlay|copy] [--stand local]
#                     [--capability CAP_NET_ADMIN[,CAP_...]|none]
#                     [--image-packages "P1 P2 ..."]   (made from an image with those installed)
#                     [--data-disk MIB --data-disk-at PATH]   (its own filesystem at PATH, see below)
#   machine.sh start NAME                          -> boots it if needed, prints "running"
#   machine.sh status NAME                         -> prints exactly "running" or "stopped"
#   machine.sh wait-ready NAME [--timeout 60] [--identity KEY]   -> prints "running" or "degraded"
#   machine.sh poweroff NAME [--timeout 60]        -> clean shutdown (SIGRTMIN+4 to its init)
#   machine.sh kill NAME                           -> power loss (wire cut, SIGKILL of its init)
#   machine.sh crash NAME                          -> power loss as processes die (SIGKILL, wire still in: peers see resets)
#   machine.sh link-down NAME | link-up NAME       -> its network link down / up (eth0 inside its namespace)
#   machine.sh destroy NAME                        -> removes the machine and everything it used
#   machine.sh host-key NAME [--known-hosts]       -> its ssh host public key (to pin)
#   machine.sh list                                -> "NAME STATUS ADDRESS" per machine of the stand
#   machine.sh exec NAME -- CMD...                 -> run CMD inside (nsenter; for debugging and tests)
# All subcommands accept --stand STAND and are safe to re-run.
#
# State: /var/lib/pulumi-patroni/STAND/NAME/ (machine.env, root/, upper/ and
# work/ for overlay storage, console.log, pid records, public host key).
#
# --data-disk: a machine's root shares the controller's disk, which a fault
# cannot fill. With it, the machine gets an ext4 filesystem of MIB MiB of its
# own (data.img, sparse, loop-mounted at data/ and bound at PATH inside), made
# at create with the owner of PATH's parent in the image (so a prebuilt
# image's postgres owns it). It fills up as a server's data disk does.
set -euo pipefail
HERE="$(dirname "$(readlink -f "$0")")"
. "$HERE/lib.sh"

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# ---------------------------------------------------------------- arguments
cmd=${1:-}; [[ -n $cmd && $cmd != -h && $cmd != --help ]] || usage; shift
name='' stand=local address='' gateway='' bridge='' apt_proxy='' akeys='' hosts_file='' storage=auto capability=none
image_packages='' data_disk='' data_disk_at=''
timeout=60 identity='' known_hosts=0
exec_argv=()
while (($#)); do
  case $1 in
    --stand) stand=${2:?--stand needs a value}; shift 2 ;;
    --address) address=${2:?}; shift 2 ;;
    --gateway) gateway=${2:?}; shift 2 ;;
    --bridge) bridge=${2:?}; shift 2 ;;
    --apt-proxy) apt_proxy=${2:?}; shift 2 ;;
    --authorized-keys-file) akeys=${2:?}; shift 2 ;;
    --hosts-file) hosts_file=${2:?}; shift 2 ;;
    --storage) storage=${2:?}; shift 2 ;;
    --capability) capability=${2:?}; shift 2 ;;
    --image-packages) image_packages=${2:?}; shift 2 ;;
    --data-disk) data_disk=${2:?}; shift 2 ;;
    --data-disk-at) data_disk_at=${2:?}; shift 2 ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    --identity) identity=${2:?}; shift 2 ;;
    --known-hosts) known_hosts=1; shift ;;
    --) shift; exec_argv=("$@"); break ;;
    -h|--help) usage ;;
    -*) die "unknown option: $1" ;;
    *) [[ -z $name ]] || die "unexpected argument: $1"; name=$1; shift ;;
  esac
done
[[ $stand =~ ^[a-z0-9][a-z0-9-]{0,19}$ ]] || die "--stand must be 1-20 chars [a-z0-9-], got '$stand'"
[[ $timeout =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds"
if [[ $cmd != list ]]; then
  [[ -n $name ]] || die "$cmd needs a machine NAME"
  # It becomes the hostname (and etcd/Patroni member name): keep it a plain label.
  [[ $name =~ ^[a-z][a-z0-9-]{0,30}$ ]] || die "NAME must be a hostname label [a-z][a-z0-9-]{0,30}, got '$name'"
fi
require_root

stand_dir="$PP_STATE_ROOT/$stand"
sd="$stand_dir/$name"
envf="$sd/machine.env"
root="$sd/root"

# Kernel object names. Interface names are limited to 15 characters, so the
# host end of the veth is "pp" + a hash of stand/name (an altname carries the
# readable name); netns names have no such limit.
h=$(short_hash "$stand/$name" 10)
NETNS="pp-$stand-$name"
VETH="pp$h"
MAC="02:${h:0:2}:${h:2:2}:${h:4:2}:${h:6:2}:${h:8:2}"    # stable MAC: no stale ARP after a restart
HMAC="06:${h:0:2}:${h:2:2}:${h:4:2}:${h:6:2}:${h:8:2}"

load_env() {
  [[ -f $envf ]] || return 1
  # shellcheck disable=SC1090
  . "$envf"
}

# ---------------------------------------------------------------- processes
rec_nspawn() { cat "$sd/nspawn.pid" 2>/dev/null || true; }
rec_init() { cat "$sd/init.pid" 2>/dev/null || true; }
is_running() { pid_alive "$(rec_init)"; }
status_word() { if [[ -f $envf ]] && is_running; then echo running; else echo stopped; fi; }

# ---------------------------------------------------------------- storage
is_mounted() { findmnt -rn --mountpoint "$1" >/dev/null 2>&1; }

mount_root() {
  [[ ${STORAGE:-} == overlay ]] || return 0
  is_mounted "$root" && return 0
  [[ -f $BASE/.complete ]] || die "base rootfs $BASE is gone (the cache was cleared?): destroy and re-create $name"
  mkdir -p "$sd/upper" "$sd/work" "$root"
  mount -t overlay "overlay-$stand-$name" -o "lowerdir=$BASE,upperdir=$sd/upper,workdir=$sd/work" "$root"
}

# The data disk's filesystem, mounted on the controller (autoclear loop device:
# unmounting frees it) and bound into the machine at each boot.
mount_data() {
  [[ -n ${DATA_DISK_AT:-} ]] || return 0
  mkdir -p "$sd/data" "$root$DATA_DISK_AT"
  is_mounted "$sd/data" || mount -o loop "$sd/data.img" "$sd/data"
}

make_data_disk() {
  local owner
  # The owner of the directory it is mounted in (/var/lib/postgresql is postgres' home in a packages image).
  owner=$(stat -c %u:%g "$root$(dirname "$data_disk_at")" 2>/dev/null) \
    || die "--data-disk-at $data_disk_at: its parent is not in the image; a packages image (--image-packages) has it"
  truncate -s "${data_disk}M" "$sd/data.img"
  mkfs.ext4 -q -F -m 0 -E "root_owner=$owner" "$sd/data.img" >/dev/null
}

umount_root() {
  local m
  # Deepest first; normally only the overlay itself is there.
  for m in $(mounts_under "$sd"); do
    umount "$m" 2>/dev/null || { log "warning: $m busy; lazy unmount"; umount -l "$m"; }
  done
}

# ---------------------------------------------------------------- network
net_teardown() {
  if [[ -e /run/netns/$NETNS ]]; then
    local pids; pids=$(ip netns pids "$NETNS" 2>/dev/null || true)
    [[ -z $pids ]] || die "netns $NETNS still has processes (${pids//$'\n'/ }) although $name is not running; investigate"
    ip netns del "$NETNS"
  fi
  # Deleting the netns removes the veth pair in the background: the host end
  # may vanish between the check and the delete. Gone either way is fine.
  if ip link show dev "$VETH" >/dev/null 2>&1; then
    ip link del dev "$VETH" 2>/dev/null || ! ip link show dev "$VETH" >/dev/null 2>&1 || die "cannot delete $VETH"
  fi
}

net_setup() {
  ip link show dev "$BRIDGE" >/dev/null 2>&1 \
    || die "bridge $BRIDGE does not exist: run src/local/machines/network.sh up --bridge $BRIDGE first"
  net_teardown   # fresh every boot: a netns may be stale after a crash or host reboot
  ip netns add "$NETNS"
  # No IPv6 on the stand: set before eth0 appears so it never gets a link-local address.
  nsenter --net="/run/netns/$NETNS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
  ip link add name "$VETH" address "$HMAC" type veth peer name eth0 address "$MAC" netns "$NETNS"
  [[ -e /proc/sys/net/ipv6/conf/$VETH ]] && sysctl -qw "net.ipv6.conf.$VETH.disable_ipv6=1"
  ip link property add dev "$VETH" altname "ppv-$stand-$name" 2>/dev/null || true
  ip link set dev "$VETH" master "$BRIDGE"
  ip link set dev "$VETH" up
  ip -n "$NETNS" link set lo up
  ip -n "$NETNS" addr add "$ADDRESS" dev eth0
  ip -n "$NETNS" link set eth0 up
  ip -n "$NETNS" route add default via "$GATEWAY"
}

# ---------------------------------------------------------------- cgroups
# Each machine gets its own cgroup subtree, pulumi-patroni/STAND/NAME, in
# every hierarchy its systemd manages. Without that, every nspawn started from
# the same (systemd-less) host cgroup puts its container in the same "payload"
# cgroup: all machines then share system.slice/<unit> directories, and parallel
# boots race (seen: systemd-tmpfiles-setup.service failing with 219/CGROUP).
machine_cgroups() {
  local r
  for r in $(cgroup_roots); do echo "$r/pulumi-patroni/$stand/$name"; done
}
cgroups_setup() {
  local d
  PP_SPAWN_CGROUPS=
  for d in $(machine_cgroups); do
    mkdir -p "$d"
    PP_SPAWN_CGROUPS+=" $d"
  done
  export PP_SPAWN_CGROUPS
}
cgroups_teardown() {
  local d r
  for d in $(machine_cgroups); do
    [[ -d $d ]] || continue
    # Leaves first; rmdir only succeeds on empty cgroups. Right after the
    # machine died the kernel may still be releasing its last tasks: retry.
    local i
    for ((i = 0; i < 50; i++)); do
      find "$d" -depth -type d -exec rmdir {} + 2>/dev/null && break
      sleep 0.1
    done
    [[ ! -d $d ]] || log "warning: cgroup $d not removable yet (removed at the next start or destroy)"
    r=${d%/"$name"}; rmdir "$r" 2>/dev/null || true; rmdir "${r%/"$stand"}" 2>/dev/null || true
  done
}

# ---------------------------------------------------------------- lifecycle
start_locked() {
  load_env || die "machine $name (stand $stand) does not exist: create it first"
  if is_running; then echo running; return 0; fi
  reap_leftovers
  mount_root
  mount_data
  net_setup
  cgroups_teardown
  cgroups_setup
  : >>"$sd/console.log"
  log "booting $name ($ADDRESS)"
  # --register=no --keep-unit: the controller may have no systemd/D-Bus to
  # register with (a container; nspawn fails without them). The console is only logged. The host's resolv.conf and
  # timezone are never copied in; no journal linking into the host. Capabilities beyond nspawn's
  # default set and the data disk's bind come from machine.env, so every boot (pulumi up, npm run power) gets them.
  local -a extra=()
  [[ ${CAPABILITY:-none} == none ]] || extra=("--capability=$CAPABILITY")
  [[ -z ${DATA_DISK_AT:-} ]] || extra+=("--bind=$sd/data:$DATA_DISK_AT")
  echo "${CAPABILITY:-none}" >"$sd/booted-capability"
  spawn_detached "$sd/console.log" systemd-nspawn -D "$root" --boot --register=no --keep-unit \
      --network-namespace-path="/run/netns/$NETNS" --machine="$name" \
      --link-journal=no --resolv-conf=off --timezone=off --console=read-only "${extra[@]}"
  local npid=$SPAWNED_PID
  local nrec; nrec=$(pid_record "$npid" || true)
  [[ -n $nrec ]] && echo "$nrec" >"$sd/nspawn.pid"
  # The machine's init is the child of systemd-nspawn; that is the process
  # whose death is a power loss.
  local i ipid
  for ((i = 0; i < 150; i++)); do
    ipid=$(pgrep -P "$npid" 2>/dev/null | head -n1 || true)
    if [[ -n $ipid && $(readlink "/proc/$ipid/exe" 2>/dev/null) == */systemd ]]; then
      pid_record "$ipid" >"$sd/init.pid"
      echo running
      return 0
    fi
    if ! kill -0 "$npid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  tail -n 20 "$sd/console.log" >&2 || true
  stop_locked kill >/dev/null 2>&1 || true
  die "systemd-nspawn did not boot $name (console log: $sd/console.log)"
}

# A previous nspawn whose machine is gone (e.g. killed by hand): end it.
reap_leftovers() {
  local n; n=$(rec_nspawn)
  if pid_alive "$n"; then
    kill -KILL "${n%% *}" 2>/dev/null || true
    wait_gone "$n" 5 || die "old systemd-nspawn ${n%% *} for $name will not exit"
  fi
  rm -f "$sd/nspawn.pid" "$sd/init.pid"
}

# stop_locked poweroff|kill|crash
stop_locked() {
  local mode=$1 init nsp
  init=$(rec_init); nsp=$(rec_nspawn)
  if pid_alive "$init"; then
    if [[ $mode == poweroff ]]; then
      log "powering off $name"
      kill -s RTMIN+4 "${init%% *}"          # systemd: clean poweroff
      if ! wait_gone "$init" "$timeout"; then
        log "warning: $name did not power off within ${timeout}s; cutting power"
        mode='kill'
      fi
    fi
    if [[ $mode == kill || $mode == crash ]]; then
      # Power loss: unplug the wire first so no FIN/RST from dying sockets
      # reaches peers (a real dead host just goes silent), then kill init; the
      # kernel kills everything else in its PID namespace. Not nspawn: its
      # child, the machine's init, is reparented and keeps running. A crash
      # keeps the wire in while the processes die: peers see their sockets
      # reset (a kernel panic or an OOM kill of everything looks like this).
      [[ $mode == crash ]] || ip link set dev "$VETH" down 2>/dev/null || true
      kill -KILL "${init%% *}" 2>/dev/null || true
      wait_gone "$init" 10 || die "init of $name (pid ${init%% *}) survived SIGKILL"
    fi
  fi
  # nspawn exits once its child is gone; make sure.
  if pid_alive "$nsp" && ! wait_gone "$nsp" 10; then
    kill -KILL "${nsp%% *}" 2>/dev/null || true
    wait_gone "$nsp" 5 || die "systemd-nspawn (pid ${nsp%% *}) of $name will not exit"
  fi
  rm -f "$sd/nspawn.pid" "$sd/init.pid"
  net_teardown
  umount_root
  cgroups_teardown
  echo stopped
}

# ---------------------------------------------------------------- create
# Write the per-machine identity into the (mounted) root.
customize() {
  local R=$root
  echo "$name" >"$R/etc/hostname"
  if [[ ! -s $R/etc/machine-id ]]; then
    # Each copy gets its own; systemd, journald and etcd rely on it being unique.
    tr -d '-' </proc/sys/kernel/random/uuid >"$R/etc/machine-id"
  fi
  {
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
    printf '%s\t%s\n' "${ADDRESS%/*}" "$name"
    if [[ -n ${HOSTS_FILE:-} ]]; then grep -v -E "[[:space:]]$name([[:space:]]|\$)" "$HOSTS_FILE" || true; fi
  } >"$R/etc/hosts"
  install -d -m 0700 "$R/root/.ssh"
  install -m 0600 "$AKEYS" "$R/root/.ssh/authorized_keys"
  if [[ ! -s $R/etc/ssh/ssh_host_ed25519_key ]]; then
    # Own host key per machine (the base has none), made on the host so the
    # caller can pin it before the machine ever boots.
    rm -f "$R/etc/ssh/ssh_host_ed25519_key" "$R/etc/ssh/ssh_host_ed25519_key.pub"
    ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$R/etc/ssh/ssh_host_ed25519_key"
  fi
  install -m 0644 "$R/etc/ssh/ssh_host_ed25519_key.pub" "$sd/ssh_host_ed25519_key.pub"
  printf '%s %s\n' "${ADDRESS%/*}" "$(cut -d' ' -f1,2 "$sd/ssh_host_ed25519_key.pub")" >"$sd/known_hosts"
  if [[ $APT_PROXY == none ]]; then
    rm -f "$R/etc/apt/apt.conf.d/01proxy"
  else
    printf 'Acquire::http::Proxy "%s";\n' "$APT_PROXY" >"$R/etc/apt/apt.conf.d/01proxy"
  fi
}

check_create_args() {
  [[ -n $address ]] || die "create needs --address A.B.C.D/NN"
  valid_cidr "$address" || die "--address must look like 10.213.0.11/24, got '$address'"
  check_stand_ip "${address%/*}"
  gateway=${gateway:-10.213.0.1}; bridge=${bridge:-pgstand0}
  valid_ipv4 "$gateway" || die "--gateway must be an IPv4 address, got '$gateway'"
  check_stand_ip "$gateway"
  apt_proxy=${apt_proxy:-http://$gateway:3142}
  [[ $apt_proxy == none || $apt_proxy =~ ^http://[0-9.]+(:[0-9]+)?/?$ ]] \
    || die "--apt-proxy must be http://IP:PORT or none, got '$apt_proxy'"
  [[ -n $akeys ]] || die "create needs --authorized-keys-file FILE (public keys for root)"
  [[ -r $akeys ]] || die "cannot read --authorized-keys-file $akeys"
  ! grep -q 'PRIVATE KEY' "$akeys" || die "$akeys holds a private key; pass the .pub file"
  grep -qE '^(ssh-|ecdsa-|sk-)' "$akeys" || die "$akeys has no ssh public key line"
  if [[ -n $hosts_file ]]; then
    [[ -r $hosts_file ]] || die "cannot read --hosts-file $hosts_file"
    hosts_file=$(readlink -f "$hosts_file")
  fi
  akeys=$(readlink -f "$akeys")
  case $storage in auto|overlay|copy) ;; *) die "--storage must be auto, overlay or copy" ;; esac
  [[ $capability == none || $capability =~ ^CAP_[A-Z_]+(,CAP_[A-Z_]+)*$ ]] \
    || die "--capability must be none or CAP_X[,CAP_Y...], got '$capability'"
  [[ -z $data_disk || $data_disk =~ ^[1-9][0-9]{2,5}$ ]] || die "--data-disk must be a size in MiB (100 to 999999), got '$data_disk'"
  [[ -z $data_disk_at || $data_disk_at =~ ^/[A-Za-z0-9._/-]+$ ]] || die "--data-disk-at must be an absolute path, got '$data_disk_at'"
  [[ (-z $data_disk && -z $data_disk_at) || (-n $data_disk && -n $data_disk_at) ]] || die "--data-disk and --data-disk-at go together"
}

create_locked() {
  check_create_args
  if load_env; then
    # Idempotent: the same machine again = make sure it runs. A different
    # network identity is a real change and needs destroy + create.
    [[ $ADDRESS == "$address" && $GATEWAY == "$gateway" && $BRIDGE == "$bridge" ]] \
      || die "$name exists with address $ADDRESS gateway $GATEWAY bridge $BRIDGE; asked for $address $gateway $bridge: destroy it first"
    APT_PROXY=$apt_proxy AKEYS=$akeys HOSTS_FILE=$hosts_file
    CAPABILITY=$capability
    # Keys and hosts may have changed: cheap to rewrite.
    mount_root
    customize
    write_env
    if is_running && ! caps_within "$CAPABILITY" "$(cat "$sd/booted-capability" 2>/dev/null || echo none)"; then
      # A running machine keeps the capabilities it booted with: one it now needs means
      # booting it again (its disk is kept). One it no longer needs waits for its next boot.
      log "restarting $name: it needs $CAPABILITY, it was booted with $(cat "$sd/booted-capability" 2>/dev/null || echo none)"
      stop_locked poweroff >/dev/null
    fi
    start_locked
    return
  fi
  # Refuse an address already used by another machine on this host.
  local other
  for other in "$PP_STATE_ROOT"/*/*/machine.env; do
    [[ -f $other && $other != "$envf" ]] || continue
    if grep -qx "ADDRESS=${address%/*}/[0-9]*" "$other"; then
      die "address ${address%/*} is already used by $(basename "$(dirname "$other")") ($other)"
    fi
  done
  # A half-made machine from an interrupted create: start over.
  if [[ -d $sd ]]; then umount_root; rm -rf --one-file-system "$sd"; fi

  local base
  local -a image=()
  [[ -z $image_packages ]] || image=(--with-packages "$image_packages")
  if [[ $apt_proxy == none ]]; then base=$("$HERE/rootfs.sh" ensure --no-proxy "${image[@]}")
  else base=$("$HERE/rootfs.sh" ensure --apt-proxy "${apt_proxy%/}" "${image[@]}"); fi
  [[ -f $base/.complete ]] || die "rootfs.sh returned an incomplete base: $base"

  mkdir -p "$sd"
  ADDRESS=$address GATEWAY=$gateway BRIDGE=$bridge APT_PROXY=$apt_proxy
  AKEYS=$akeys HOSTS_FILE=$hosts_file BASE=$base STORAGE=$storage CAPABILITY=$capability
  DATA_DISK=$data_disk DATA_DISK_AT=$data_disk_at
  if [[ $STORAGE != copy ]]; then
    # Overlay: creating a machine costs no copy; the base is never modified
    # (its name carries the recipe hash), so sharing it read-only is safe.
    STORAGE=overlay
    if ! mount_root 2>/dev/null; then
      [[ $storage == auto ]] || die "overlay mount failed for $name"
      log "overlayfs not usable here; copying the base instead"
      rm -rf --one-file-system "$sd/upper" "$sd/work" "$root"
      STORAGE=copy
    fi
  fi
  if [[ $STORAGE == copy ]]; then
    log "copying base rootfs for $name"
    cp -a --reflink=auto "$base" "$sd/root.tmp"
    rm -f "$sd/root.tmp/.complete" "$sd/root.tmp/.debootstrap.log"
    mv -T "$sd/root.tmp" "$root"
  fi
  customize
  [[ -z $DATA_DISK ]] || make_data_disk
  write_env
  start_locked
}

# caps_within WANTED BOOTED: every capability of WANTED (comma separated, or none) is in BOOTED.
caps_within() {
  local c
  [[ $1 == none ]] && return 0
  for c in ${1//,/ }; do [[ ,$2, == *,"$c",* ]] || return 1; done
}

write_env() {
  cat >"$envf.tmp" <<EOF
NAME=$name
STAND=$stand
ADDRESS=$ADDRESS
GATEWAY=$GATEWAY
BRIDGE=$BRIDGE
APT_PROXY=$APT_PROXY
AKEYS=$AKEYS
HOSTS_FILE=${HOSTS_FILE:-}
BASE=$BASE
STORAGE=$STORAGE
NETNS=$NETNS
VETH=$VETH
CAPABILITY=${CAPABILITY:-none}
DATA_DISK=${DATA_DISK:-}
DATA_DISK_AT=${DATA_DISK_AT:-}
EOF
  mv "$envf.tmp" "$envf"
}

destroy_locked() {
  if [[ ! -d $sd ]]; then
    net_teardown
    echo destroyed; return 0
  fi
  if load_env; then stop_locked kill >/dev/null; else net_teardown; cgroups_teardown; fi
  umount_root
  [[ -z $(mounts_under "$sd") ]] || die "mounts remain under $sd; not removing it"
  # Renamed away at once, removed in the background: deleting a used
  # machine's files (its packages, its database) took 20 s under load, and
  # a stand's destroy waited for every one (issue 27: under 20 s a stand).
  local trash="$PP_STATE_ROOT/.trash/$stand-$name-$$-$RANDOM"
  mkdir -p "$PP_STATE_ROOT/.trash"
  mv "$sd" "$trash"
  setsid nohup rm -rf --one-file-system "$trash" >/dev/null 2>&1 </dev/null &
  rmdir "$stand_dir" 2>/dev/null || true
  log "destroyed $name"
  echo destroyed
}

# ---------------------------------------------------------------- readiness
ssh_banner() {
  # shellcheck disable=SC2016 # $1 is the inner bash's argument
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/22" && head -c 4 <&3' _ "$1" 2>/dev/null
}

wait_ready() {
  load_env || die "machine $name (stand $stand) does not exist"
  [[ -z $identity || -r $identity ]] || die "cannot read --identity $identity"
  local ip=${ADDRESS%/*} deadline=$((SECONDS + timeout)) state='' why
  why="sshd not answering on $ip:22"
  local -a inside
  while :; do
    is_running || die "$name is not running"
    if [[ $(ssh_banner "$ip") == SSH- ]]; then
      if [[ -n $identity ]]; then
        # Over ssh as the provisioner will connect, host key pinned to the one
        # generated at create.
        inside=(ssh -F /dev/null -i "$identity" -o IdentitiesOnly=yes -o BatchMode=yes
          -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$sd/known_hosts" -o GlobalKnownHostsFile=/dev/null
          -o ConnectTimeout=3 -o LogLevel=ERROR "root@$ip")
      else
        inside=(nsenter -t "$(rec_init | cut -d' ' -f1)" -m -u -i -n -p)
      fi
      local left=$((deadline - SECONDS)); ((left > 1)) || left=2
      state=$(timeout "$left" "${inside[@]}" systemctl is-system-running --wait 2>"$sd/wait-ready.err" || true)
      why="state '${state:-?}' $(head -c 300 "$sd/wait-ready.err" | tr '\n' ' ')"
      case $state in
        running) rm -f "$sd/wait-ready.err"; echo running; return 0 ;;
        degraded)
          log "warning: $name is degraded; failed units:"
          timeout 10 "${inside[@]}" systemctl --failed --no-legend --plain >&2 || true
          rm -f "$sd/wait-ready.err"; echo degraded; return 0 ;;
      esac
    fi
    ((SECONDS < deadline)) || die "$name not ready after ${timeout}s: $why (console: $sd/console.log)"
    sleep 0.3
  done
}

# ---------------------------------------------------------------- commands
lock="machine-$stand-$name"
case $cmd in
  create) require_cmds systemd-nspawn ip ssh-keygen nsenter flock findmnt
          with_lock "$lock" create_locked ;;
  start) require_cmds systemd-nspawn ip nsenter flock findmnt
         with_lock "$lock" start_locked ;;
  status) status_word ;;
  wait-ready) wait_ready ;;
  poweroff) load_env || die "machine $name (stand $stand) does not exist"
            with_lock "$lock" stop_locked poweroff ;;
  kill | crash) load_env || die "machine $name (stand $stand) does not exist"
        with_lock "$lock" stop_locked "$cmd" ;;
  destroy) with_lock "$lock" destroy_locked ;;
  link-down | link-up)
    # The machine's own interface, inside its namespace, as `ip link set eth0
    # down` on a VM: its peers see it go silent. Up again: the kernel brings
    # back the subnet's route; the default route is put back too.
    load_env || die "machine $name (stand $stand) does not exist"
    ip -n "$NETNS" link set dev eth0 "${cmd#link-}"
    if [[ $cmd == link-up ]]; then ip -n "$NETNS" route replace default via "$GATEWAY"; fi
    echo "${cmd#link-}" ;;
  host-key)
    [[ -f $sd/ssh_host_ed25519_key.pub ]] || die "machine $name (stand $stand) does not exist"
    if ((known_hosts)); then cat "$sd/known_hosts"; else cat "$sd/ssh_host_ed25519_key.pub"; fi ;;
  list)
    for f in "$stand_dir"/*/machine.env; do
      [[ -f $f ]] || continue
      n=$(basename "$(dirname "$f")")
      printf '%s %s %s\n' "$n" "$("$0" status "$n" --stand "$stand")" "$(sed -n 's/^ADDRESS=//p' "$f")"
    done ;;
  exec)
    ((${#exec_argv[@]})) || die "usage: machine.sh exec NAME -- CMD..."
    is_running || die "$name is not running"
    init=$(rec_init)
    exec nsenter -t "${init%% *}" -m -u -i -n -p "${exec_argv[@]}" ;;
  *) usage ;;
esac
