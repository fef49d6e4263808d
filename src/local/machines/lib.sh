# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this
# Shared helpers for the local-stand scripts (sourced, never executed).
# Conventions: results go to stdout (one short line a caller can parse),
# progress and errors go to stderr. Nothing here ever prints key material
# other than public keys.

# The machines' root filesystems are made here: their files need the usual
# modes, whatever umask the caller runs with (scripts/pulumi.sh runs Pulumi
# with 077 so the state stays private).
umask 022

# Callers (a Pulumi local command) may pass a thin PATH; these tools live in sbin.
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"

PP_CACHE_ROOT="${PULUMI_PATRONI_CACHE:-/var/cache/pulumi-patroni}"
PP_STATE_ROOT="${PULUMI_PATRONI_STATE:-/var/lib/pulumi-patroni}"
# Locks and pidfiles live on /run: they must not survive a host reboot.
PP_RUN_DIR="${PULUMI_PATRONI_RUN:-/run/pulumi-patroni}"
PP_PROG="$(basename "$0")"

log() { printf '%s: %s\n' "$PP_PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PP_PROG" "$*" >&2; exit 1; }

require_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, mounts and systemd-nspawn need it)"
}

require_cmds() {
  local c missing=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  ((${#missing[@]} == 0)) || die "missing commands: ${missing[*]} (install: debootstrap systemd-container apt-cacher-ng iproute2 openssh-client curl util-linux)"
}

# with_lock NAME CMD...: serialise concurrent runs (Pulumi runs resources in
# parallel, e.g. six `machine.sh create` at once all wanting the same rootfs).
# (Locals are prefixed: bash scoping is dynamic, so a plain "name" here would
# shadow the caller's variables inside the locked command.)
with_lock() {
  local _wl_lock=$1 _wl_fd; shift
  mkdir -p "$PP_RUN_DIR/locks"
  exec {_wl_fd}>"$PP_RUN_DIR/locks/$_wl_lock.lock"
  flock -w "${PP_LOCK_TIMEOUT:-900}" "$_wl_fd" || die "timed out waiting for lock $_wl_lock"
  PP_LOCK_FDS="${PP_LOCK_FDS:-} $_wl_fd"
  "$@"   # under set -e a failure exits here; the lock dies with the process
  flock -u "$_wl_fd"; exec {_wl_fd}>&-
}

# valid_ipv4 A.B.C.D
valid_ipv4() {
  local ip=$1 IFS=. o
  [[ $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
  for o in $ip; do ((o <= 255)) || return 1; done
}
# valid_cidr A.B.C.D/NN
valid_cidr() {
  [[ $1 == */* ]] || return 1
  valid_ipv4 "${1%/*}" || return 1
  [[ ${1#*/} =~ ^[0-9]{1,2}$ ]] && ((${1#*/} <= 32))
}

# Only the stand subnet may ever be used: a local stand never sends traffic
# to addresses it did not assign inside its own namespaces. The program
# passes its own rule (src/local/settings.ts, LOCAL_SUBNET_PREFIX),
# which validates every local setting at preview; this is the same check for
# direct use of the scripts.
PP_ALLOWED_PREFIX="${PULUMI_PATRONI_SUBNET_PREFIX:-10.213.}"
check_stand_ip() {
  [[ $1 == "$PP_ALLOWED_PREFIX"* ]] || die "address $1 is outside the stand subnet (${PP_ALLOWED_PREFIX}0.0/16); refusing"
}

# proc_start PID: kernel start time of a process (field 22 of /proc/PID/stat),
# used with the pid to recognise a process even after pid reuse.
proc_start() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }            # drop "pid (comm) " - comm may hold spaces
  # shellcheck disable=SC2086 # split into the fields of /proc/PID/stat on purpose
  set -- $stat
  echo "${20}"
}
# pid_alive "PID START": true if that exact process still exists (zombies count as dead).
pid_alive() {
  local pid start state
  read -r pid start <<<"$1"
  [[ -n ${pid:-} && -n ${start:-} ]] || return 1
  [[ $(proc_start "$pid" 2>/dev/null) == "$start" ]] || return 1
  state=$(awk '/^State:/{print $2}' "/proc/$pid/status" 2>/dev/null) || return 1
  [[ $state != Z && $state != X ]]
}
# pid_record PID -> "PID START"
pid_record() { local s; s=$(proc_start "$1") || return 1; echo "$1 $s"; }

# wait_gone "PID START" SECONDS
wait_gone() {
  local rec=$1 secs=$2 i
  for ((i = 0; i < secs * 10; i++)); do
    pid_alive "$rec" || return 0
    sleep 0.1
  done
  ! pid_alive "$rec"
}

short_hash() { printf '%s' "$1" | sha256sum | cut -c1-"${2:-10}"; }

# http_ok URL: the local apt proxy answers (never goes through an env proxy).
http_ok() { curl -fsS --noproxy '*' --max-time "${2:-3}" -o /dev/null "$1" 2>/dev/null; }

# cgroup_roots: the hierarchies a container's systemd manages: the cgroup2
# mount (pure v2 or the "unified" one of a hybrid host) and the v1
# name=systemd hierarchy, if present.
cgroup_roots() {
  sed -n 's/^[^ ]* [^ ]* [^ ]* [^ ]* \([^ ]*\) .* - \([^ ]*\) [^ ]* \([^ ]*\)$/\1 \2 \3/p' /proc/self/mountinfo |
    awk '$2 == "cgroup2" || ($2 == "cgroup" && $3 ~ /(^|,)name=systemd(,|$)/) {print $1}'
}

# spawn_detached LOG CMD...: start a long-lived daemon in its own session, all
# std fds redirected (so a caller reading our output never waits for it) and
# our lock fds closed (an inherited flock fd would keep the lock held for the
# daemon's whole life). Sets SPAWNED_PID.
spawn_detached() {
  local logf=$1; shift
  (
    for _fd in ${PP_LOCK_FDS:-}; do eval "exec $_fd>&-"; done
    # Into its own cgroups first (see machine.sh), then become the daemon.
    for _cg in ${PP_SPAWN_CGROUPS:-}; do echo "$BASHPID" >"$_cg/cgroup.procs"; done
    exec setsid "$@" </dev/null >>"$logf" 2>&1
  ) &
  SPAWNED_PID=$!
  disown 2>/dev/null || true
}

# mounts_under DIR: mount points at or below DIR, deepest first. (findmnt -R
# only works when DIR itself is a mount point.)
mounts_under() {
  local d=${1%/}
  findmnt -rn -o TARGET | awk -v d="$d" '$0 == d || index($0, d "/") == 1' | sort -r
}
