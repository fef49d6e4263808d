// What a change of each config field does to a running stack. Every field
// of the configuration table belongs to one class (test/unit/fieldClasses.test.ts
// checks that none is missing); the README's table shows it.
//   live       applied by `pulumi up` without a restart (reload, SQL, DCS)
//   rolling    applied by `pulumi up` with a rolling restart, one member at a time
//   identity   refused at preview once the stack is deployed (src/providers/stackIdentity.ts)
//   membership adds or removes members (scaling)

export type FieldClass = "live" | "rolling" | "identity" | "membership";

export interface FieldRule {
  readonly cls: FieldClass;
  /** What `pulumi up` does with a change, or what to do instead. */
  readonly how: string;
}

const live = (how: string): FieldRule => ({ cls: "live", how });
const rolling = (how: string): FieldRule => ({ cls: "rolling", how });
const identity = (how: string): FieldRule => ({ cls: "identity", how });
const membership = (how: string): FieldRule => ({ cls: "membership", how });

const NEW_STACK = "create a new stack with the new value and restore the data into it (pg_dump/pg_restore, or a base backup)";

/** By config table key; a key not listed takes its parent's rule (its fields are listed). */
export const FIELD_CLASSES: Readonly<Record<string, FieldRule>> = {
  hostSource: identity("where the hosts come from is fixed for a stack's life; " + NEW_STACK),
  "localMachines.bridge": identity("the machines are plugged into it; destroy the local stand and bring it up again"),
  "localMachines.bridgeAddress": identity(
    "the machines' addresses and routes derive from it; destroy the local stand and bring it up again",
  ),
  "localMachines.aptProxyPort": identity("every machine's apt configuration points at it; destroy the local stand and bring it up again"),
  "cluster.name": identity("the Patroni scope, the etcd namespace, data directory and token derive from it; " + NEW_STACK),
  "cluster.postgresVersion": identity("the data and binary directories derive from it and a major upgrade needs pg_upgrade; " + NEW_STACK),
  "cluster.aptSources": live("the apt sources are rewritten; installed packages are not upgraded"),
  "cluster.aptKeyrings": live("the keyrings are rewritten"),
  "cluster.postgresPort": identity("members, PgBouncer and HAProxy reach PostgreSQL there; " + NEW_STACK),
  "cluster.restApiPort": identity("members and HAProxy's health checks reach Patroni there; " + NEW_STACK),
  "cluster.restartPolicy": live("only decides what happens to the next restart-needing change"),
  "cluster.dcs.ttl": live("dynamic configuration (DCS), picked up by every member's next loop"),
  "cluster.dcs.loopWait": live("dynamic configuration (DCS)"),
  "cluster.dcs.retryTimeout": live("dynamic configuration (DCS)"),
  "cluster.dcs.maximumLagOnFailover": live("dynamic configuration (DCS)"),
  "cluster.dcs.synchronousMode": live("dynamic configuration (DCS); Patroni picks the synchronous standby"),
  "cluster.dcs.synchronousModeStrict": live("dynamic configuration (DCS)"),
  "cluster.dcs.failsafeMode": live("dynamic configuration (DCS)"),
  "cluster.dcs.usePgRewind": live("dynamic configuration (DCS)"),
  "cluster.dcs.useSlots": live("dynamic configuration (DCS)"),
  "cluster.parameters": rolling(
    "dynamic configuration (DCS): reloaded; a parameter that needs a restart restarts the replicas one at a time, then a switchover " +
      "(a decrease of max_connections and its kin restarts the primary first); a removed parameter is removed from the DCS",
  ),
  "cluster.pgHba": live("patroni.yml, reloaded on every member"),
  "cluster.adminNetworks": live("pgbouncer_hba.conf and haproxy.cfg, reloaded (open sessions stay)"),
  "cluster.users": live("roles created or altered on the primary; a removed user is kept (its data may depend on it)"),
  "cluster.databases": live("databases created on the primary; a removed database is kept (never dropped)"),
  hosts: membership("adding or removing a host adds or removes its members (PostgreSQL replica, etcd member)"),
  "hosts[].name": membership("a rename is a removal of the old host and an addition of the new one"),
  "hosts[].address": identity("the cluster's members find each other at it; remove the host and add it back under its new address"),
  "hosts[].sshAddress": live("only how the controller connects; nothing on the host runs again"),
  "hosts[].roles": membership("a role added or removed adds or removes that member on the host"),
  "hosts[].tags.nofailover": live("patroni.yml, reloaded"),
  "hosts[].tags.noloadbalance": live("patroni.yml, reloaded; HAProxy's replica backend follows"),
  "hosts[].adoptExisting": live("only read before the host's first deploy"),
  "ssh.user": live("only how the controller connects; nothing on the hosts runs again"),
  "ssh.port": live("only how the controller connects; nothing on the hosts runs again"),
  "ssh.hostKeys": live("the key the controller expects; a different key fails every step until the host is trusted again"),
  "etcd.clientPort": identity("Patroni and every member reach etcd there; " + NEW_STACK),
  "etcd.peerPort": identity("the members reach each other there; " + NEW_STACK),
  "etcd.heartbeatIntervalMs": rolling("every etcd member restarts, one at a time, each healthy before the next"),
  "etcd.electionTimeoutMs": rolling("every etcd member restarts, one at a time, each healthy before the next"),
  "pgbouncer.port": identity("HAProxy sends the clients there; " + NEW_STACK),
  "pgbouncer.poolMode": live("pgbouncer.ini, reloaded (open sessions stay)"),
  "pgbouncer.defaultPoolSize": live("pgbouncer.ini, reloaded (open sessions stay)"),
  "pgbouncer.maxClientConn": live("pgbouncer.ini, reloaded (open sessions stay)"),
  "pgbouncer.authType": live("pgbouncer.ini, reloaded (open sessions stay)"),
  "haproxy.primaryPort": live("haproxy.cfg, reloaded; the client host's pg_service.conf and the outputs follow"),
  "haproxy.replicaPort": live("haproxy.cfg, reloaded; the client host's pg_service.conf and the outputs follow"),
  "haproxy.statsPort": live("haproxy.cfg, reloaded"),
  "haproxy.maxConn": live("haproxy.cfg, reloaded (open sessions stay)"),
  "haproxy.replicaMaxLag": live("haproxy.cfg, reloaded (open sessions stay)"),
  "haproxy.checkIntervalMs": live("haproxy.cfg, reloaded (open sessions stay)"),
  "haproxy.fastCheckIntervalMs": live("haproxy.cfg, reloaded (open sessions stay)"),
  "haproxy.fall": live("haproxy.cfg, reloaded (open sessions stay)"),
  "haproxy.rise": live("haproxy.cfg, reloaded (open sessions stay)"),
  "haproxy.clientNetworks": live("haproxy.cfg, reloaded (open sessions stay)"),
  passwordRotation: live("a changed number generates a new password and rotates it everywhere it is used"),
  sshPrivateKey: live("only how the controller connects"),
  superuserPassword: live("rotated: the role on the primary first, then patroni.yml, PgBouncer's userlist and the client's .pgpass"),
  replicationPassword: live("rotated: the role on the primary first, then patroni.yml on every member (replication reconnects)"),
  rewindPassword: live("rotated: the role on the primary first, then patroni.yml"),
  restApiPassword: live("patroni.yml, reloaded on every member"),
  pgbouncerPassword: live("rotated: the role on the primary first, then PgBouncer's userlist"),
  haproxyStatsPassword: live("haproxy.cfg, reloaded"),
};

/** The rule of a config table key, or of its nearest listed parent ("cluster.pgHba[].user" -> "cluster.pgHba"). */
export function ruleOf(key: string): FieldRule | undefined {
  for (let k = key; ;) {
    if (FIELD_CLASSES[k]) return FIELD_CLASSES[k];
    const dot = k.lastIndexOf(".");
    if (dot < 0) return undefined;
    k = k.slice(0, dot).replace(/\[\]$/, "");
  }
}

/**
 * The identity fields and their values, for the guard: the plain ones by
 * path, a host's address as hosts[NAME].address (a host added or removed is
 * not a change of identity).
 */
export function identityValues(config: { hosts: readonly { name: string; address: string }[] }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, rule] of Object.entries(FIELD_CLASSES)) {
    if (rule.cls !== "identity" || key.includes("[]")) continue;
    out[key] = key.split(".").reduce<unknown>((v, part) => (v as Record<string, unknown> | undefined)?.[part], config);
  }
  for (const h of config.hosts) out[`hosts[${h.name}].address`] = h.address;
  return out;
}
