// The pulumi-patroni program: validate the stack's configuration, get hosts
// (existing servers, or local machines for the `local-machines` host
// source), deploy the cluster onto them, export how to reach it.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { PostgresCluster } from "./cluster/postgresCluster";
import { BackupRepositoryOutput, restoreSource } from "./cluster/restoreSource";
import { identityAdvice, identityValues } from "./config/fieldClasses";
import { SSH_PRIVATE_KEY, sshAccessOf, sshPortOf } from "./config/core";
import { LocalStand } from "./local/localStand";
import { takeoverProblem, takesOver } from "./platform/platform";
import { GeneratedPassword } from "./providers/generatedPassword";
import { HostKey } from "./providers/hostKey";
import { FOUND, HostSurvey } from "./providers/hostSurvey";
import { SshConnection } from "./providers/shellCommand";
import { StackIdentity } from "./providers/stackIdentity";
import { backupHostOf, stanzaOf } from "./roles/backup/slice";
import { clientEndpoint, entryUri, renderPgServices } from "./roles/client/clientConnection";
import { HAPROXY_ROLE, HAPROXY_STATS_USER } from "./roles/haproxy/slice";
import { surveyScript } from "./roles/host/hostBase";
import { hostFactsOf } from "./stack/hostFacts";
import { ClusterPasswords } from "./stack/passwords";
import { readStackConfig } from "./stack/read";
import {
  allRolePackages,
  configuredSecretProblems,
  FIELD_CLASSES,
  machineCapabilitiesFor,
  HostConfig,
  SECRETS,
  StackConfig,
} from "./stack/stackConfig";
import { daysLeft } from "./providers/tlsCertificates";
import { SUPERUSER } from "./roles/postgres/slice";
import { dataDirectory } from "./roles/postgres/patroniConfig";
import { suppliedCaProblems, TLS_CA_KEY, TLS_PATHS } from "./tls/settings";

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
  // A secret the stack does not need (the backup cipher without a backup host) is never generated,
  // nor is an outside service's credential (external): empty until configured.
  const roles = Object.fromEntries(
    SECRETS.map((s) => [
      s.field,
      secrets[s.key] ??
        ((s.neededBy?.(config) ?? true) && !s.external ? generated(s.generatedName, s.key) : pulumi.output("")),
    ]),
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
  const suppliedCa = config.tls.ca;
  const caChecked = suppliedCa
    ? pulumi.output(secrets[TLS_CA_KEY] ?? "").apply((k) => suppliedCaProblems(suppliedCa.certificate, k || undefined))
    : pulumi.output([] as string[]);
  const haproxyHosts = config.hosts.filter((h) => h.roles.includes(HAPROXY_ROLE));
  const secretsChecked = pulumi
    .all([
      ...Object.entries(secrets).map(([key, value]) => value!.apply((v) => configuredSecretProblems(key, v))),
      caChecked,
    ])
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
    entry: {
      uriHosts: config.haproxy.vip ? [] : haproxyHosts.map((h) => h.name),
      haproxyHosts: haproxyHosts.map((h) => h.name),
    },
  });
}

/**
 * SSH to existing servers: the configured key, host keys pinned or trusted
 * on first use. Before anything else, each host's first contact surveys what
 * already runs there (HostSurvey, at preview): a host its roles would take
 * over is refused unless hosts[].adoptExisting says so, and every host waits
 * for every survey, so a refusal changes no host.
 */
function existingHostConnections(
  config: StackConfig,
  secrets: Secrets,
  identity: StackIdentity,
  stack: string,
): Record<string, pulumi.Input<SshConnection>> {
  const privateKey = secrets[SSH_PRIVATE_KEY];
  if (!privateKey) {
    throw new pulumi.RunError(
      `${SSH_PRIVATE_KEY}: is required for hostSource existing; set it with: pulumi config set --secret ${SSH_PRIVATE_KEY} < ~/.ssh/id_ed25519`,
    );
  }
  const reach = (h: HostConfig) => ({ address: h.sshAddress ?? h.address, port: sshPortOf(config.ssh, h) });
  const survey = surveyScript(hostFactsOf(config, stack));
  const surveys = config.hosts.map(
    (h) =>
      new HostSurvey(
        `host-survey-${h.name}`,
        {
          hostName: h.name,
          ...reach(h),
          user: config.ssh.user,
          privateKey,
          pinned: config.ssh.hostKeys[h.name],
          script: survey,
          refusal:
            takesOver(h.roles) && !h.adoptExisting ? takeoverProblem(`hosts ${h.name}`, h.name, FOUND) : undefined,
        },
        { dependsOn: [identity] },
      ),
  );
  return Object.fromEntries(
    config.hosts.map((h) => {
      const { address, port } = reach(h);
      const hostKey = new HostKey(
        `host-key-${h.name}`,
        { hostName: h.name, address, port, pinned: config.ssh.hostKeys[h.name] },
        { dependsOn: [identity, ...surveys] },
      );
      const connection = pulumi.all([privateKey, hostKey.key]).apply(([key, known]) => ({
        host: address,
        port,
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
// A restored stack: its source's repository, and the guard that refuses (at preview) what it cannot serve.
const restore = config.restore ? restoreSource(config, config.restore, stack, hostFactsOf(config, stack)) : undefined;
const guards = [identity, ...(restore ? [restore.guard] : [])];
const localStand =
  config.hostSource === "local-machines"
    ? new LocalStand(
        "stand",
        {
          stand: stack,
          hosts: config.hosts.map((h) => ({ ...h, capabilities: machineCapabilitiesFor(h.roles, config) })),
          ...config.localMachines,
          imagePackages: config.localMachines.prebuiltPackages ? allRolePackages(config) : [],
          dataDiskAt: path.posix.dirname(dataDirectory(config.cluster)),
        },
        { dependsOn: guards },
      )
    : undefined;
const connections = localStand ? localStand.connections : existingHostConnections(config, secrets, identity, stack);
const cluster = new PostgresCluster("cluster", {
  config,
  stack,
  connections,
  passwords,
  dependsOn: [...guards, ...(localStand?.machines ?? [])],
  tlsCaKey: secrets[TLS_CA_KEY],
  externalRepository: restore?.repository,
});

// A whole-stand destroy switches the machines off first (see LocalStand.teardownAfter).
localStand?.teardownAfter([cluster]);

export const primaryUri = cluster.primaryUri;
export const replicasUri = cluster.replicasUri;
export const haproxyStatsUrl = cluster.haproxyStatsUrl;
export const haproxyStatsUser = HAPROXY_STATS_USER;
export const haproxyStatsPassword = pulumi.secret(passwords.haproxyStats);
export const etcdEndpoints = cluster.etcdEndpoints;
export const hosts = cluster.hostRoles;
export const pendingRestart = cluster.pendingRestart;
/** Prometheus, Alertmanager and the cluster page (a Prometheus console), when a host has the monitor role. */
// null, not undefined, without a monitor host: Pulumi warns on every up about an undefined output.
export const prometheusUrl = cluster.monitoring?.prometheusUrl ?? null;
export const alertmanagerUrl = cluster.monitoring?.alertmanagerUrl ?? null;
export const clusterPageUrl = cluster.monitoring?.clusterPageUrl ?? null;
/** A libpq URI per application user, through the entry's primary port, to its first database (secret). */
export const userUris = pulumi.secret(
  passwords.apply((p) => {
    const endpoint = clientEndpoint(config);
    return Object.fromEntries(
      config.cluster.users.map((u) => {
        const db = config.cluster.databases.find((d) => d.owner === u.name)?.name ?? "postgres";
        return [
          u.name,
          entryUri(endpoint, config.haproxy.primaryPort, u.name, p.users[u.name], db, "read-write", cluster.uriTls),
        ];
      }),
    );
  }),
);
/** The key the hosts accept (the local stand's own, or the configured one); `npm run ssh` uses it. */
export const sshPrivateKey = pulumi.secret(localStand ? localStand.privateKey : secrets[SSH_PRIVATE_KEY]!);
/** How the controller reaches the hosts, and the host key it expects of each (`npm run ssh` pins them). */
export const ssh = localStand ? { user: "root", port: 22 } : sshAccessOf(config);
// Public keys: not secret, although they travel inside the (secret) connections.
export const hostKeys = pulumi.unsecret(
  pulumi.all(
    Object.fromEntries(
      Object.entries(connections).map(([host, c]) => [host, pulumi.output(c).apply((conn) => conn.hostKey ?? "")]),
    ),
  ),
);
export const shell = localStand?.shellCommands;

// TLS (with tls.enabled): what clients verify the cluster with, each
// certificate's end and the days left (a preview shows the renewals a
// pulumi up would make: renewBeforeDays), and the controller's certificate
// for the REST API, etcd and monitoring.
const clusterTls = cluster.tls;
/** The CAs the cluster's certificates verify against (PEM): save as ~/.postgresql/root.crt for libpq. */
export const tlsCaCertificate = clusterTls?.trust;
export const tlsCertificates = clusterTls
  ? pulumi
      .all(
        Object.fromEntries(Object.entries(clusterTls.hosts).map(([h, c]) => [h, pulumi.all([c.notAfter, c.serial])])),
      )
      .apply((hosts) =>
        Object.fromEntries(
          Object.entries(hosts).map(([h, [notAfter, serial]]) => [
            h,
            { notAfter, daysLeft: daysLeft(notAfter), serial },
          ]),
        ),
      )
  : undefined;
export const tlsCa = clusterTls?.caNotAfter.apply((notAfter) => ({ notAfter, daysLeft: daysLeft(notAfter) }));
export const tlsClientCertificate = clusterTls?.controller.certificate;
export const tlsClientKey = clusterTls ? pulumi.secret(clusterTls.controller.key) : undefined;
/** pg_service.conf as the client host has it: paste it (and the CA at sslrootcert) on a DBA's machine. */
export const pgServiceConf = renderPgServices(clientEndpoint(config), SUPERUSER, clusterTls ? TLS_PATHS.ca : undefined);

const repositoryHost = backupHostOf(config);
/** The stack's pgBackRest repository, for `npm run ctl -- backups` and for stacks restored from it (restore.source.stack). */
export const backupRepository: BackupRepositoryOutput | { stack: string; stanza: string; onDestroy: string } | null =
  repositoryHost
    ? {
        host: repositoryHost.name,
        address: repositoryHost.address,
        path: config.backup.path,
        stanza: stanzaOf(config),
        onDestroy: `pulumi destroy keeps stanza ${stanzaOf(config)}'s backups and WAL in ${repositoryHost.name}:${config.backup.path}`,
      }
    : config.restore
      ? {
          // Its stanza lives in the source stack's repository.
          stack: config.restore.source.stack,
          stanza: stanzaOf(config),
          onDestroy: `pulumi destroy keeps stanza ${stanzaOf(config)}'s backups and WAL in ${config.restore.source.stack}'s repository`,
        }
      : null;
