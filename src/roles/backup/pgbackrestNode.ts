// pgBackRest on one PostgreSQL host of a stack that archives: its config
// (no secret: the repository host alone holds the cipher passphrase), the
// repository's CA when the repository belongs to another stack, its TLS
// server (the repository host calls it for backups and checks), the archive
// monitor and its timer, and on a restored stack the bootstrap wrapper
// Patroni runs. All of it is in place before Patroni starts, so the first
// archive_command finds it.
import * as pulumi from "@pulumi/pulumi";
import { ShellCommand } from "../../providers/shellCommand";
import { contentHash, HostSteps } from "../../steps/hostSteps";
import { scriptsIn } from "../../steps/stepScript";
import { dataDirectory } from "../postgres/patroniConfig";
import { RoleArgs } from "../roleArgs";
import { installedScript, pgLocationOf } from "./backupHost";
import { ARCHIVE_METRICS_UNIT, renderArchiveMetricsService, renderArchiveMetricsTimer, unitPath } from "./backupUnits";
import { renderDatabaseConfig, REPOSITORY_CA_FILE } from "./pgbackrestConfig";
import {
  ARCHIVE_METRICS_PATH,
  ARCHIVE_PUSH_PATH,
  PGBACKREST_CONFIG_PATH,
  RESTORE_BOOTSTRAP_PATH,
  stanzaOf,
  TLS_CA_FILE,
} from "./slice";

const script = scriptsIn(__dirname);

/** The repository host as a database host reaches it. */
export interface RepositoryEndpoint {
  readonly name: pulumi.Input<string>;
  readonly address: pulumi.Input<string>;
  /** The repository's stack CA certificate when it is another stack's (PEM); absent: this stack's own CA. */
  readonly caCertificate?: pulumi.Input<string>;
}

export interface PgbackrestNodeArgs extends RoleArgs {
  readonly repository: RepositoryEndpoint;
}

export class PgbackrestNode extends pulumi.ComponentResource {
  /** Everything pgBackRest needs on this host is in place; Patroni may start. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: PgbackrestNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:PgbackrestNode", name, {}, opts);
    const { config, host, repository } = args;
    const steps = new HostSteps(this, name, host, args.facts);
    const stanza = stanzaOf(config);
    const dirs = steps.command(
      "dirs",
      {
        description: "pgBackRest's config directories",
        create: script("pgbackrest-dirs", { PGBACKREST_CONFIG_DIR: "/etc/pgbackrest" }),
      },
      { dependsOn: args.dependsOn },
    );
    const caFile = repository.caCertificate ? REPOSITORY_CA_FILE : TLS_CA_FILE;
    const ca = repository.caCertificate
      ? [
          steps.file(
            "repository-ca",
            { path: REPOSITORY_CA_FILE, content: repository.caCertificate },
            { dependsOn: [dirs] },
          ),
        ]
      : [];
    const conf = pulumi.all([repository.name, repository.address]).apply(([repoName, repoAddress]) =>
      renderDatabaseConfig(args.managed, {
        stanza,
        address: host.address,
        repository: { name: repoName, address: repoAddress, caFile },
        archivePushQueueMax: config.backup.archivePushQueueMax,
        pg: pgLocationOf(config),
      }),
    );
    const file = steps.file(
      "config",
      { path: PGBACKREST_CONFIG_PATH, content: conf, mode: "0640", group: "postgres" },
      { dependsOn: [dirs, ...ca] },
    );
    const server = steps.service(
      "server",
      { unit: "pgbackrest", onChange: "reload", triggers: [contentHash(conf)] },
      { dependsOn: [file] },
    );
    // archive_command's wrapper (archive-push.sh): in place before Patroni starts or reloads a new archive_command.
    const archivePush = steps.file(
      "archive-push",
      { path: ARCHIVE_PUSH_PATH, content: installedScript(args.managed, "archive-push.sh"), mode: "0755" },
      { dependsOn: args.dependsOn },
    );
    // The archive monitor: dropped WAL and failing pushes as metrics (archive-metrics.sh).
    const monitor = steps.file(
      "archive-monitor",
      { path: ARCHIVE_METRICS_PATH, content: installedScript(args.managed, "archive-metrics.sh"), mode: "0755" },
      { dependsOn: args.dependsOn },
    );
    const monitorService = renderArchiveMetricsService(args.managed, stanza);
    const monitorTimer = renderArchiveMetricsTimer(args.managed);
    const units = [
      steps.file(
        "archive-monitor-service",
        { path: unitPath(`${ARCHIVE_METRICS_UNIT}.service`), content: monitorService },
        { dependsOn: [monitor] },
      ),
      steps.file(
        "archive-monitor-timer",
        { path: unitPath(`${ARCHIVE_METRICS_UNIT}.timer`), content: monitorTimer },
        { dependsOn: [monitor] },
      ),
    ];
    const timer = steps.service(
      "archive-monitor-timer-unit",
      {
        unit: `${ARCHIVE_METRICS_UNIT}.timer`,
        onChange: "restart",
        triggers: [contentHash(monitorService), contentHash(monitorTimer)],
      },
      { dependsOn: [...units, file] },
    );
    const restore: ShellCommand[] = [];
    if (config.restore) {
      restore.push(
        steps.file(
          "restore-wrapper",
          {
            path: RESTORE_BOOTSTRAP_PATH,
            content: installedScript(args.managed, "restore-bootstrap.sh"),
            mode: "0755",
          },
          { dependsOn: args.dependsOn },
        ),
        // A changed restore section after a failed restore: Patroni's refusal marker goes, so the next start retries.
        steps.command(
          "restore-retry",
          {
            description: "clear a failed restore for a retry",
            create: script("restore-retry", { ACTION: "create", DATA_DIR: dataDirectory(config.cluster) }),
            update: script("restore-retry", { ACTION: "retry", DATA_DIR: dataDirectory(config.cluster) }),
            triggers: [config.restore],
          },
          { dependsOn: args.dependsOn },
        ),
      );
    }
    this.ready = [server, timer, archivePush, ...restore];
    this.registerOutputs({});
  }
}
