#!/usr/bin/env bash
# Proof that a stack deployed by an older revision upgrades to this checkout's
# code in place: deploy the e2e stack with OLD_REV's code (in a scratch
# worktree, its own state backend), then run this checkout's `pulumi preview`
# and `pulumi up` on that state. Passes when nothing is created, replaced or
# deleted and no service on any host was restarted (their start timestamps
# are unchanged); prints what was updated. Destroys the stand at the end.
#   test/upgrade/upgrade-proof.sh OLD_REV
# ALLOW_CREATED (an extended regex): resources the newer code adds on purpose
# (a new file, say) may be created when every created name matches it.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
old_rev=${1:?usage: test/upgrade/upgrade-proof.sh OLD_REV}
work=$(mktemp -d /tmp/upgrade-proof.XXXXXX)
key=$work/key
old=$work/old
state=$work/state
mkdir -p "$state"
export PULUMI_BACKEND_URL=file://$state PULUMI_CONFIG_PASSPHRASE=e2e-stand-passphrase
say() { printf '[upgrade-proof] %s\n' "$*" >&2; }
cleanup() {
  say "destroying the stand"
  (cd "$repo" && scripts/pulumi.sh destroy --stack e2e --yes --skip-preview --non-interactive >/dev/null 2>&1) || true
  git -C "$repo" worktree remove --force "$old" 2>/dev/null || true
  rm -rf "$state" "$key"
  say "logs kept in $work"
}
trap cleanup EXIT

"$repo/scripts/prepare.sh" >/dev/null
git -C "$repo" worktree add --detach "$old" "$old_rev" >/dev/null 2>&1
ln -s "$repo/node_modules" "$old/node_modules"
say "deploying the e2e stack with $(git -C "$repo" log --oneline -1 "$old_rev")"
(cd "$old" && scripts/pulumi.sh stack select --create e2e --non-interactive >/dev/null && scripts/pulumi.sh up --stack e2e --yes --skip-preview --non-interactive >"$work/old-up.log" 2>&1) ||
  { tail -40 "$work/old-up.log" >&2; exit 1; }

# Every unit's last start, on every host, before the upgrade.

(umask 077; cd "$repo" && scripts/pulumi.sh stack output --stack e2e --show-secrets sshPrivateKey >"$key")
starts() {
  local addr
  # Every host of the stand (the e2e stack's hosts output), whatever its topology.
  for addr in $(cd "$repo" && scripts/pulumi.sh stack output --stack e2e --json hosts | node -e 'for (const h of Object.values(JSON.parse(require("fs").readFileSync(0)))) console.log(h.address)'); do
    ssh -i "$key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "root@$addr" \
      'for u in etcd patroni pgbouncer haproxy keepalived; do printf "%s %s %s\n" "$(hostname)" "$u" "$(systemctl show -p ActiveEnterTimestampMonotonic --value $u 2>/dev/null)"; done'
  done
}
starts >"$work/before"

say "preview with this checkout's code ($(git -C "$repo" log --oneline -1 HEAD))"
(cd "$repo" && scripts/pulumi.sh preview --stack e2e --non-interactive --diff) >"$work/preview.log" 2>&1 || { tail -40 "$work/preview.log" >&2; exit 1; }
grep -E "to (create|replace|delete|update)|unchanged" "$work/preview.log" >&2 || true
(cd "$repo" && scripts/pulumi.sh up --stack e2e --yes --skip-preview --non-interactive) >"$work/up.log" 2>&1 || { tail -40 "$work/up.log" >&2; exit 1; }
starts >"$work/after"

summary=$(sed -n '/^Resources:/,/^Duration/p' "$work/up.log")
printf '%s\n' "$summary"
grep -E "^ ~ .* updated" "$work/up.log" | sed 's/^/  updated: /' >&2 || true
fail=0
created=$(grep -E "^ \+ .* created" "$work/up.log" | awk '{print $3}' || true)
if [[ -n $created && -n ${ALLOW_CREATED:-} ]] && ! grep -qvE "$ALLOW_CREATED" <<<"$created"; then
  say "created, as ALLOW_CREATED permits: ${created//$'\n'/ }"
elif [[ -n $created ]]; then
  say "FAIL: resources created: ${created//$'\n'/ }"; fail=1
fi
for what in replaced deleted; do
  if grep -qE "[0-9]+ $what" <<<"$summary"; then say "FAIL: resources $what"; fail=1; fi
done
if ! diff -u "$work/before" "$work/after" >&2; then say "FAIL: a service was restarted"; fail=1; fi
((fail == 0)) && say "PASS: nothing replaced or deleted, nothing created but what ALLOW_CREATED names; no service restarted"
exit "$fail"
