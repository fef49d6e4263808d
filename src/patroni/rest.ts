// What Patroni's REST API answers, as the controller reads it: GET /cluster
// (the members the DCS lists, as of each member's last HA loop) and GET
// /patroni (what one member says of itself, live). One model for the rolling
// restart, `npm run ctl` and the test harness.
// https://patroni.readthedocs.io/en/latest/rest_api.html

/** A member as GET /cluster reports it. */
export interface ClusterMember {
  readonly name: string;
  /** leader, standby_leader, replica, sync_standby, quorum_standby. */
  readonly role: string;
  /** running, streaming, in archive recovery, stopped, starting, ... */
  readonly state: string;
  /** host of its PostgreSQL (connect_address). */
  readonly host?: string;
  /** Its REST API's /patroni URL. */
  readonly api_url?: string;
  readonly timeline?: number;
  /** Bytes behind the leader, or "unknown". */
  readonly lag?: number | string;
  readonly pending_restart?: boolean;
  readonly pending_restart_reason?: Readonly<
    Record<string, { readonly old_value: string; readonly new_value: string }>
  >;
  readonly tags?: { readonly nofailover?: boolean; readonly noloadbalance?: boolean; readonly [tag: string]: unknown };
}

/** GET /cluster. */
export interface ClusterStatus {
  readonly scope?: string;
  readonly members: readonly ClusterMember[];
  readonly pause?: boolean;
}

/** What a member says of itself (its own GET /patroni), live. */
export interface MemberSelf {
  readonly state?: string;
  /** primary, replica, standby_leader. */
  readonly role?: string;
  readonly replication_state?: string;
  readonly timeline?: number;
  readonly pending_restart?: boolean;
  readonly pending_restart_reason?: ClusterMember["pending_restart_reason"];
  readonly dcs_last_seen?: number;
  /** On the leader: pg_stat_replication, one entry per walsender. */
  readonly replication?: readonly {
    readonly application_name: string;
    readonly state: string;
    readonly sync_state?: string;
  }[];
  readonly xlog?: {
    readonly location?: number;
    readonly received_location?: number;
    readonly replayed_location?: number;
  };
}

export const isLeaderRole = (role: string): boolean => role === "leader" || role === "standby_leader";
