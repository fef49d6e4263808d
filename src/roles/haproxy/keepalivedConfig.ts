// keepalived.conf: one VRRP instance per HAProxy host that keeps the VIP on
// one host whose HAProxy serves a primary. Every host starts as BACKUP with
// nopreempt, so a host coming back never takes the VIP from a healthy
// holder (a move breaks every session through it); unicast adverts by
// default (clouds and many switches drop multicast). The check
// (keepalived-check.sh) fails a host whose HAProxy does not answer, or
// routes to no primary while a peer's does: the host goes to FAULT and
// drops the VIP, a peer takes it.
// https://keepalived.readthedocs.io/en/latest/configuration_synopsis.html
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";

export interface KeepalivedConfigInput {
  readonly hostName: string;
  readonly clusterName: string;
  /** This host's address: the source of its unicast adverts. */
  readonly address: string;
  readonly interface: string;
  readonly vip: string;
  readonly prefix: number;
  readonly virtualRouterId: number;
  readonly priority: number;
  /** The other HAProxy hosts' addresses: the check asks them. */
  readonly peers: readonly string[];
  /**
   * The files unicast adverts' destinations are read from (a glob: one
   * file per peer holding its address, written and removed by steps of
   * their own, see keepalived-peer.sh).
   */
  readonly peerFiles: string;
  readonly unicast: boolean;
  /** VRRPv2 PASS authentication: only the first 8 characters count (keepalived warns and cuts longer ones). */
  readonly password: string;
  readonly checkScript: string;
  /** Run as root when this host leaves MASTER: closes the sessions opened through the VIP (keepalived-release.sh). */
  readonly releaseScript: string;
  /** HAProxy's stats port and its /primary-up URI, asked by the check on this host and the peers. */
  readonly healthPort: number;
  readonly healthUri: string;
  /** The cluster's CA file: the check asks https with it (TLS), or http when the page does not speak https. */
  readonly caFile: string;
}

/** The check runs every second; two failures in a row (not one) move the VIP. */
export const VRRP_CHECK = { intervalS: 1, timeoutS: 2, fall: 2, rise: 2 } as const;
/** Adverts every second: a dead holder is replaced after 3 missed adverts plus the backup's skew. */
export const VRRP_ADVERT_INTERVAL_S = 1;

export const vrrpInstanceName = (clusterName: string) => `${clusterName}-entry`;

const block = (head: string, lines: readonly string[], indent = "") => [
  `${indent}${head} {`,
  ...lines.map((l) => `${indent}    ${l}`),
  `${indent}}`,
];

export function renderKeepalivedConfig(ctx: ManagedFileContext, k: KeepalivedConfigInput): string {
  const global = block("global_defs", [
    `router_id ${k.hostName}`,
    // The check needs nothing but curl: it runs unprivileged, and keepalived
    // refuses (disables) a check script that a non-root user could change.
    "script_user nobody nogroup",
    "enable_script_security",
  ]);
  const check = block("vrrp_script haproxy_serves_primary", [
    `script "${[k.checkScript, String(k.healthPort), k.healthUri, k.caFile, ...k.peers].join(" ")}"`,
    `interval ${VRRP_CHECK.intervalS}`,
    `timeout ${VRRP_CHECK.timeoutS}`,
    `fall ${VRRP_CHECK.fall}`,
    `rise ${VRRP_CHECK.rise}`,
  ]);
  const instance = block(`vrrp_instance ${vrrpInstanceName(k.clusterName)}`, [
    // nopreempt requires every host to start as BACKUP.
    "state BACKUP",
    "nopreempt",
    `interface ${k.interface}`,
    `virtual_router_id ${k.virtualRouterId}`,
    `priority ${k.priority}`,
    `advert_int ${VRRP_ADVERT_INTERVAL_S}`,
    ...(k.unicast && k.peers.length > 0
      ? [`unicast_src_ip ${k.address}`, ...block("unicast_peer", [`include ${k.peerFiles}`])]
      : []),
    ...block("authentication", ["auth_type PASS", `auth_pass ${k.password.slice(0, 8)}`]),
    ...block("virtual_ipaddress", [`${k.vip}/${k.prefix} dev ${k.interface}`]),
    ...block("track_script", ["haproxy_serves_primary"]),
    // Leaving MASTER, however: the sessions opened here through the VIP are orphans from now on.
    ...["notify_backup", "notify_fault", "notify_stop"].map((n) => `${n} "${k.releaseScript} ${k.vip}" root root`),
  ]);
  return managedHeader(ctx) + [global, check, instance].map((b) => b.join("\n")).join("\n\n") + "\n";
}
