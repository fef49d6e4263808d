// The pulumi-patroni program: validate the stack's configuration, get hosts
// (existing servers, or local machines for the `local` stack), deploy the
// cluster onto them, export how to reach it.
import * as pulumi from "@pulumi/pulumi";
import { ClusterPasswords } from "./cluster/passwords";
import { PostgresCluster } from "./cluster/postgresCluster";
import { identityValues, ruleOf } from "./config/fieldClasses";
import { readStackConfig } from "./config/stackConfig";
import { SecretKey, secretProblems } from "./config/validate";
import { LocalStand } from "./local/localStand";
import { GeneratedPassword } from "./providers/generatedPassword";
import { HostKey } from "./providers/hostKey";
import { SshConnection } from "./providers/shellCommand";
import { StackIdentity } from "./providers/stackIdentity";
import { HAPROXY_STATS_USER } from "./roles/haproxy/haproxyConfig";

const stack = pulumi.getStack();
const { config, secrets } = readStackConfig();

/** A configured secret, or a password generated once and kept in the state. */
const generated = (name: string, rotationKey: string): pulumi.Output<string> => {
  // passwordRotation: a raised generation is a new password (GeneratedPassword's keepers).
  const generation = config.passwordRotation[rotationKey] ?? 0;
  return new GeneratedPassword(name, { length: 32, keepers: generation > 0 ? { generation: String(generation) } : undefined }).result;
};
const password = (key: keyof typeof secrets, name: string): pulumi.Output<string> => secrets[key] ?? generated(name, key);

// Every password, resolved once; the roles take what they need from it.
const passwords: pulumi.Output<ClusterPasswords> = pulumi.secret(
  pulumi.output({
    superuser: password("superuserPassword", "superuser-password"),
    replication: password("replicationPassword", "replication-password"),
    rewind: password("rewindPassword", "rewind-password"),
    restApi: password("restApiPassword", "rest-api-password"),
    pgbouncerAuth: password("pgbouncerPassword", "pgbouncer-auth-password"),
    haproxyStats: password("haproxyStatsPassword", "haproxy-stats-password"),
    users: pulumi.all(
      Object.fromEntries(config.cluster.users.map((u) => [u.name, generated(`user-${u.name}-password`, `user:${u.name}`)])),
    ),
  }),
);

// The fields a deployed stack cannot change; every host step waits for this
// check, so a changed one fails the preview before anything runs.
const fields = identityValues(config);
// Configured secrets checked for what would break their files; the guard waits for it, so does every step.
const secretsChecked = pulumi
  .all(Object.entries(secrets).map(([key, value]) => value!.apply((v) => secretProblems(key as SecretKey, v))))
  .apply((lists) => {
    const problems = lists.flat();
    if (problems.length > 0) throw new pulumi.RunError(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    return "configured secrets checked";
  });
const identity = new StackIdentity("stack-identity", {
  fields,
  checks: pulumi.unsecret(secretsChecked),
  members: Object.fromEntries(
    (["etcd", "postgres"] as const).map((role) => [role, config.hosts.filter((h) => h.roles.includes(role)).map((h) => h.name)]),
  ),
  advice: Object.fromEntries(Object.keys(fields).map((k) => [k, ruleOf(k.replace(/^hosts\[[^\]]+\]/, "hosts[]"))?.how ?? ""])),
});

let connections: Record<string, pulumi.Input<SshConnection>>;
let localStand: LocalStand | undefined;
if (config.hostSource === "local-machines") {
  localStand = new LocalStand("stand", { stand: stack, hosts: config.hosts, ...config.localMachines }, { dependsOn: [identity] });
  connections = localStand.connections;
} else {
  const privateKey = secrets.sshPrivateKey;
  if (!privateKey) {
    throw new pulumi.RunError(
      "sshPrivateKey: is required for hostSource existing; set it with: pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519",
    );
  }
  connections = Object.fromEntries(
    config.hosts.map((h) => {
      const address = h.sshAddress ?? h.address;
      // Trust on first use, unless ssh.hostKeys pins the key.
      const hostKey = new HostKey(
        `host-key-${h.name}`,
        { hostName: h.name, address, port: config.ssh.port, pinned: config.ssh.hostKeys[h.name] },
        { dependsOn: [identity] },
      );
      const connection = pulumi
        .all([privateKey, hostKey.key])
        .apply(([key, known]) => ({ host: address, port: config.ssh.port, user: config.ssh.user, privateKey: key, hostKey: known }));
      return [h.name, pulumi.secret(connection)];
    }),
  );
}

const cluster = new PostgresCluster("cluster", {
  config,
  stack,
  connections,
  passwords,
  dependsOn: [identity, ...(localStand?.machines ?? [])],
});

export const primaryUri = cluster.primaryUri;
export const replicasUri = cluster.replicasUri;
export const haproxyStatsUrl = cluster.haproxyStatsUrl;
export const haproxyStatsUser = HAPROXY_STATS_USER;
export const haproxyStatsPassword = pulumi.secret(passwords.haproxyStats);
export const etcdEndpoints = cluster.etcdEndpoints;
export const hosts = cluster.hostRoles;
export const pendingRestart = cluster.pendingRestart;
/** A libpq URI per application user, through HAProxy's primary port, to its first database (secret). */
export const userUris = pulumi.secret(
  passwords.apply((p) => {
    return Object.fromEntries(
      config.cluster.users.map((u) => {
        const db = config.cluster.databases.find((d) => d.owner === u.name)?.name ?? "postgres";
        return [
          u.name,
          `postgresql://${u.name}:${encodeURIComponent(p.users[u.name])}@${cluster.entryAddress}:${config.haproxy.primaryPort}/${db}`,
        ];
      }),
    );
  }),
);
/** The key the hosts accept (the local stand's own, or the configured one); `npm run ssh` uses it. */
export const sshPrivateKey = pulumi.secret(localStand ? localStand.privateKey : secrets.sshPrivateKey!);
/** How the controller reaches the hosts, and the host key it expects of each (`npm run ssh` pins them). */
export const ssh = localStand
  ? { user: "root", port: 22 }
  : {
      user: config.ssh.user,
      port: config.ssh.port,
      // Only hosts reached on another address than the cluster's (hosts[].sshAddress).
      addresses: Object.fromEntries(config.hosts.filter((h) => h.sshAddress).map((h) => [h.name, h.sshAddress!])),
    };
// Public keys: not secret, although they travel inside the (secret) connections.
export const hostKeys = pulumi.unsecret(
  pulumi.all(
    Object.fromEntries(Object.entries(connections).map(([host, c]) => [host, pulumi.output(c).apply((conn) => conn.hostKey ?? "")])),
  ),
);
export const shell = localStand?.shellCommands;
