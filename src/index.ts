// The pulumi-patroni program: validate the stack's configuration, get hosts
// (existing servers, or local machines for the `local-machines` host
// source), deploy the cluster onto them, export how to reach it.
import * as pulumi from "@pulumi/pulumi";
import { PostgresCluster } from "./cluster/postgresCluster";
import { identityAdvice, identityValues } from "./config/fieldClasses";
import { SSH_PRIVATE_KEY } from "./config/core";
import { LocalStand } from "./local/localStand";
import { GeneratedPassword } from "./providers/generatedPassword";
import { HostKey } from "./providers/hostKey";
import { SshConnection } from "./providers/shellCommand";
import { StackIdentity } from "./providers/stackIdentity";
import { HAPROXY_STATS_USER } from "./roles/haproxy/slice";
import { ClusterPasswords } from "./stack/passwords";
import { readStackConfig } from "./stack/read";
import { configuredSecretProblems, FIELD_CLASSES, SECRETS, StackConfig } from "./stack/stackConfig";

type Secrets = Partial<Record<string, pulumi.Output<string>>>;

/** Every password: the configured secret, or one generated once and kept in the state (raised passwordRotation: a new one). */
function clusterPasswords(config: StackConfig, secrets: Secrets): pulumi.Output<ClusterPasswords> {
  const generated = (name: string, rotationKey: string): pulumi.Output<string> => {
    // passwordRotation: a raised generation is a new password (GeneratedPassword's keepers).
    const generation = config.passwordRotation[rotationKey] ?? 0;
    return new GeneratedPassword(name, {
      length: 32,
      keepers: generation > 0 ? { generation: String(generation) } : undefined,
    }).result;
  };
  // An outside service's credential (external) is never generated: empty until configured.
  const roles = Object.fromEntries(
    SECRETS.map((s) => [s.field, secrets[s.key] ?? (s.external ? "" : generated(s.generatedName, s.key))]),
  );
  const users = Object.fromEntries(
    config.cluster.users.map((u) => [u.name, generated(`user-${u.name}-password`, `user:${u.name}`)]),
  );
  return pulumi.secret(
    pulumi.output({ ...roles, users: pulumi.all(users) }),
  ) as unknown as pulumi.Output<ClusterPasswords>;
}

/**
 * The guard every host step waits for: the fields a deployed stack cannot
 * change (a changed one fails the preview before anything runs), the
 * configured secrets' checks, and that some etcd and postgres member stays.
 */
function stackIdentity(config: StackConfig, secrets: Secrets): StackIdentity {
  const fields = identityValues(FIELD_CLASSES, config);
  const secretsChecked = pulumi
    .all(Object.entries(secrets).map(([key, value]) => value!.apply((v) => configuredSecretProblems(key, v))))
    .apply((lists) => {
      const problems = lists.flat();
      if (problems.length > 0)
        throw new pulumi.RunError(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
      return "configured secrets checked";
    });
  return new StackIdentity("stack-identity", {
    fields,
    checks: pulumi.unsecret(secretsChecked),
    members: Object.fromEntries(
      (["etcd", "postgres"] as const).map((role) => [
        role,
        config.hosts.filter((h) => h.roles.includes(role)).map((h) => h.name),
      ]),
    ),
    advice: Object.fromEntries(Object.keys(fields).map((k) => [k, identityAdvice(FIELD_CLASSES, k)])),
  });
}

/** SSH to existing servers: the configured key, host keys pinned or trusted on first use. */
function existingHostConnections(
  config: StackConfig,
  secrets: Secrets,
  identity: StackIdentity,
): Record<string, pulumi.Input<SshConnection>> {
  const privateKey = secrets[SSH_PRIVATE_KEY];
  if (!privateKey) {
    throw new pulumi.RunError(
      `${SSH_PRIVATE_KEY}: is required for hostSource existing; set it with: pulumi config set --secret ${SSH_PRIVATE_KEY} < ~/.ssh/id_ed25519`,
    );
  }
  return Object.fromEntries(
    config.hosts.map((h) => {
      const address = h.sshAddress ?? h.address;
      const hostKey = new HostKey(
        `host-key-${h.name}`,
        { hostName: h.name, address, port: config.ssh.port, pinned: config.ssh.hostKeys[h.name] },
        { dependsOn: [identity] },
      );
      const connection = pulumi.all([privateKey, hostKey.key]).apply(([key, known]) => ({
        host: address,
        port: config.ssh.port,
        user: config.ssh.user,
        privateKey: key,
        hostKey: known,
      }));
      return [h.name, pulumi.secret(connection)];
    }),
  );
}

const stack = pulumi.getStack();
const { config, secrets } = readStackConfig();
const passwords = clusterPasswords(config, secrets);
const identity = stackIdentity(config, secrets);
const localStand =
  config.hostSource === "local-machines"
    ? new LocalStand("stand", { stand: stack, hosts: config.hosts, ...config.localMachines }, { dependsOn: [identity] })
    : undefined;
const connections = localStand ? localStand.connections : existingHostConnections(config, secrets, identity);
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
/** Prometheus, Alertmanager and the cluster page (a Prometheus console), when a host has the monitor role. */
export const prometheusUrl = cluster.monitoring?.prometheusUrl;
export const alertmanagerUrl = cluster.monitoring?.alertmanagerUrl;
export const clusterPageUrl = cluster.monitoring?.clusterPageUrl;
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
export const sshPrivateKey = pulumi.secret(localStand ? localStand.privateKey : secrets[SSH_PRIVATE_KEY]!);
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
    Object.fromEntries(
      Object.entries(connections).map(([host, c]) => [host, pulumi.output(c).apply((conn) => conn.hostKey ?? "")]),
    ),
  ),
);
export const shell = localStand?.shellCommands;
