// Keeps the etcd leader off the host where Patroni's leader runs (hosts that
// carry both roles). When one host holds both leaders and loses power, etcd
// elects a new leader first, and a new etcd leader renews every lease to its
// full TTL: the dead primary's leader key outlives Patroni's ttl by the
// election and more. Measured with ttl 30: writes back after 42.9 and 44.5 s
// with the leaders together, 30.4 and 31.2 s with them apart. A small service
// on each such host checks every few seconds, and Patroni's on_role_change
// hook runs the same check at once after a promotion; `etcdctl move-leader`
// hands the etcd leadership over without an election timeout.
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
import { shellQuote as q } from "../../render/shellQuote";
import { renderSystemdDropIn } from "../../render/systemdUnit";

export const ETCD_LEADER_AWAY_PATH = "/usr/local/lib/pulumi-patroni/etcd-leader-away";
export const ETCD_LEADER_AWAY_UNIT = "pulumi-patroni-etcd-leader-away.service";
/** Seconds between two checks: well under ttl, so the leaders share a host for a few seconds at most. */
export const ETCD_LEADER_AWAY_INTERVAL_S = 5;

export interface EtcdLeaderAwayInput {
  /** This member's Patroni name (the value of the leader key while it leads). */
  readonly member: string;
  /** Patroni's leader key in etcd. */
  readonly leaderKey: string;
  /** Every etcd client URL, as etcdctl prints them back. */
  readonly endpoints: readonly string[];
  /** This host's etcd client URL. */
  readonly ownEndpoint: string;
  /** With TLS (https endpoints): the CAs etcd is verified against, and the certificate etcdctl shows. */
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string };
}

export function renderEtcdLeaderAway(ctx: ManagedFileContext, e: EtcdLeaderAwayInput): string {
  return [
    "#!/bin/bash",
    managedHeader(ctx).trimEnd(),
    "# Moves the etcd leadership to another member while this host's Patroni leads",
    "# and its etcd member leads too. --once: one check (Patroni's role-change hook).",
    "set -u",
    "export ETCDCTL_API=3",
    ...(e.tls
      ? [`export ETCDCTL_CACERT=${q(e.tls.ca)} ETCDCTL_CERT=${q(e.tls.cert)} ETCDCTL_KEY=${q(e.tls.key)}`]
      : []),
    `endpoints=${q(e.endpoints.join(","))}`,
    `own=${q(e.ownEndpoint)}`,
    `member=${q(e.member)}`,
    `leader_key=${q(e.leaderKey)}`,
    "check() {",
    '  [ "$(etcdctl --endpoints="$endpoints" --command-timeout=3s get --print-value-only "$leader_key" 2>/dev/null)" = "$member" ] || return 0',
    // endpoint status: endpoint, ID, version, db size, is leader, is learner, ...
    '  status=$(etcdctl --endpoints="$endpoints" --command-timeout=3s endpoint status 2>/dev/null)',
    '  [ "$(printf \'%s\\n\' "$status" | awk -F\', \' \'$5 == "true" {print $1; exit}\')" = "$own" ] || return 0',
    "  target=$(printf '%s\\n' \"$status\" | awk -F', ' '$5 == \"false\" && $6 == \"false\" {print $2; exit}')",
    '  [ -n "$target" ] || return 0',
    '  if etcdctl --endpoints="$own" --command-timeout=5s move-leader "$target" >/dev/null 2>&1; then',
    '    logger -t etcd-leader-away "etcd leadership moved from $member (Patroni\'s leader) to member $target"',
    "  fi",
    "}",
    'if [ "${1:-}" = --once ]; then check; exit 0; fi',
    `while :; do check; sleep ${ETCD_LEADER_AWAY_INTERVAL_S}; done`,
    "",
  ].join("\n");
}

export function renderEtcdLeaderAwayUnit(ctx: ManagedFileContext): string {
  return renderSystemdDropIn(ctx, {
    Unit: {
      Description: "Keep the etcd leader off the host of Patroni's leader",
      After: ["etcd.service", "patroni.service"],
    },
    Service: { Type: "simple", User: "postgres", ExecStart: ETCD_LEADER_AWAY_PATH, Restart: "always", RestartSec: "5" },
    Install: { WantedBy: "multi-user.target" },
  });
}
