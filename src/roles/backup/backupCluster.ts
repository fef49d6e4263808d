// The backup steps that span the cluster, on the repository host: this
// stack's own backup host, or (a restored stack) the repository host of the
// stack it was restored from, reached with that stack's SSH access. There:
// a restored stack's stanza beside the source's (its own conf.d file and CA,
// never the repository's config); once the cluster runs, the stanza created
// and checked and a first full backup; the backup timers. On the restored
// stack's first member: the gate that waits for the restore to finish, and
// fails the deploy with PostgreSQL's reason when it does not.
import * as pulumi from "@pulumi/pulumi";
import { ShellCommand, SshConnection } from "../../providers/shellCommand";
import { HostConfig, StackConfig } from "../../stack/stackConfig";
import { contentHash, HostSteps } from "../../steps/hostSteps";
import { HostFacts, inlineScript, scriptsIn } from "../../steps/stepScript";
import { ManagedFileContext } from "../../render/managedHeader";
import { dataDirectory } from "../postgres/patroniConfig";
import { POSTGRES_ROLE, restApiUrl } from "../postgres/slice";
import { clientCaBundle, pgLocationOf } from "./backupHost";
import { BACKUP_TYPES, backupUnit, renderBackupService, renderBackupTimer, unitPath } from "./backupUnits";
import {
  CLIENT_CA_BUNDLE,
  CLIENT_CA_DIR,
  clientCaPath,
  renderGuestStanzaConfig,
  stanzaIncludePath,
} from "./pgbackrestConfig";
import { stanzaOf, TLS_CA_FILE } from "./slice";

const script = scriptsIn(__dirname);

/** Another stack's repository host, as its stack's outputs describe it (src/cluster/restoreSource.ts reads them). */
export interface ExternalRepository {
  /** The repository's stack. */
  readonly stack: string;
  /** Its host name (its certificate's CN) and address. */
  readonly name: pulumi.Input<string>;
  readonly address: pulumi.Input<string>;
  readonly connection: pulumi.Input<SshConnection>;
}

export type RepositoryAccess =
  | { readonly kind: "own"; readonly host: HostConfig }
  | { readonly kind: "external"; readonly repository: ExternalRepository };

export class BackupCluster {
  private readonly repo: HostSteps;
  private readonly stanza: string;
  private readonly members: readonly HostConfig[];

  constructor(
    private readonly parent: pulumi.Resource,
    private readonly name: string,
    private readonly config: StackConfig,
    private readonly facts: HostFacts,
    private readonly managed: ManagedFileContext,
    private readonly connectionOf: (h: HostConfig) => pulumi.Input<SshConnection>,
    private readonly access: RepositoryAccess,
  ) {
    this.stanza = stanzaOf(config);
    this.members = config.hosts.filter((h) => h.roles.includes(POSTGRES_ROLE));
    this.repo =
      access.kind === "own"
        ? this.on(access.host, `${name}-backup`)
        : // Another stack's host: no owner marker of ours (its owner file names its own stack).
          new HostSteps(
            parent,
            `${name}-backup`,
            { name: `${access.repository.stack}'s repository host`, connection: access.repository.connection },
            facts,
          );
  }

  private on(h: HostConfig, component: string): HostSteps {
    return new HostSteps(this.parent, component, { name: h.name, connection: this.connectionOf(h) }, this.facts);
  }

  /** The CA certificate that signed the external repository host's certificate (PEM), read there. */
  repositoryCa(after: pulumi.Input<pulumi.Resource>[]): pulumi.Output<string> | undefined {
    if (this.access.kind === "own") return undefined;
    return this.repo.command(
      "repository-ca",
      {
        description: "read the repository's CA certificate",
        create: inlineScript("read-ca", `cat ${TLS_CA_FILE}`),
        captureStdout: true,
      },
      { dependsOn: after },
    ).stdout;
  }

  /**
   * A restored stack's stanza in the external repository: its hosts' CA in
   * the bundle the TLS server trusts, its own conf.d file (its hosts, and
   * what their certificates may use), the server reloaded; on destroy, its
   * files go and its backups and WAL stay.
   */
  guestStanza(after: pulumi.Input<pulumi.Resource>[]): pulumi.Resource[] {
    if (this.access.kind === "own" || !this.config.restore) return [];
    const r = this.access.repository;
    const first = this.members[0];
    // The CAs this stack trusts, as its TLS step wrote them (ClusterTls.trust would do as well).
    const ownCa = this.on(first, `${this.name}-${first.name}-backup`).command(
      "cluster-ca",
      {
        description: "read the cluster's CA certificate",
        create: inlineScript("read-ca", `cat ${TLS_CA_FILE}`),
        captureStdout: true,
      },
      { dependsOn: after },
    ).stdout;
    const data = this.repo.command(
      "stanza-data",
      {
        description: `stanza ${this.stanza} in ${r.stack}'s repository`,
        create: script("guest-stanza", { ACTION: "create", STANZA: this.stanza }),
        delete: script("guest-stanza", { ACTION: "delete", STANZA: this.stanza }),
        // pulumi destroy says what became of the backups.
        announceDelete: true,
      },
      { dependsOn: after },
    );
    // On destroy, once the stanza's files are gone (deleted before this step, which they depend on),
    // the bundle is rebuilt without its CA and the server reloaded without its hosts.
    const untrust = this.repo.command(
      "stanza-untrust",
      {
        description: `forget ${this.stanza}'s hosts on destroy`,
        create: inlineScript("untrust", "true"),
        delete: script("client-ca-bundle", {
          ACTION: "create",
          CA_FILE: TLS_CA_FILE,
          CA_DIR: CLIENT_CA_DIR,
          BUNDLE: CLIENT_CA_BUNDLE,
        }),
      },
      { dependsOn: [data] },
    );
    const ca = this.repo.file(
      "stanza-ca",
      { path: clientCaPath(this.stanza), content: ownCa },
      { dependsOn: [untrust] },
    );
    const conf = renderGuestStanzaConfig(this.managed, {
      stanza: this.stanza,
      sourceStanza: this.config.restore.source.stanza,
      retentionFull: this.config.backup.retentionFull,
      hosts: this.members.map((h) => ({ name: h.name, address: h.address })),
      pg: pgLocationOf(this.config),
    });
    const file = this.repo.file(
      "stanza-config",
      { path: stanzaIncludePath(this.stanza), content: conf, mode: "0640", group: "postgres" },
      { dependsOn: [untrust] },
    );

    // The bundle has this stack's CA, and the server reloads to read it and the stanza's auth lines.
    const trust = this.repo.command(
      "stanza-trust",
      {
        description: `trust ${this.stanza}'s hosts`,
        create: clientCaBundle("create"),
        check: clientCaBundle("check"),
        triggers: [contentHash(conf), contentHash(ownCa)],
      },
      { dependsOn: [ca, file] },
    );
    return [trust];
  }

  /**
   * Once the cluster runs (the leader, replicas streaming, the dynamic
   * configuration with archive_mode in force): the stanza created and
   * checked, a first full backup, then the backup timers.
   */
  stanzaReady(after: pulumi.Input<pulumi.Resource>[]): ShellCommand {
    const ready = this.repo.command(
      "stanza",
      {
        description: `stanza ${this.stanza}: created, checked, a first full backup`,
        create: script("stanza-ready", { STANZA: this.stanza, TIMEOUT: 300 }),
        timeoutSeconds: 3600,
      },
      { dependsOn: after },
    );
    const b = this.config.backup;
    for (const type of BACKUP_TYPES) {
      const unit = backupUnit(this.stanza, type);
      const service = renderBackupService(this.managed, this.stanza, type);
      const timer = renderBackupTimer(
        this.managed,
        this.stanza,
        type,
        type === "full" ? b.fullSchedule : b.diffSchedule,
      );
      const files = [
        this.repo.file(
          `${type}-service`,
          { path: unitPath(`${unit}.service`), content: service },
          { dependsOn: after },
        ),
        this.repo.file(
          `${type}-timer`,
          {
            path: unitPath(`${unit}.timer`),
            content: timer,
            // systemd's own judge of the calendar expression: a bad one keeps the old timer.
            validate: `systemd-analyze calendar "$(sed -n 's/^OnCalendar=//p' %s)" >/dev/null`,
          },
          { dependsOn: after },
        ),
      ];
      this.repo.service(
        `${type}-timer-unit`,
        { unit: `${unit}.timer`, onChange: "restart", triggers: [contentHash(service), contentHash(timer)] },
        { dependsOn: [...files, ready] },
      );
    }
    return ready;
  }

  /** The restored stack's first member: the restore finished and a leader runs, or the deploy fails with why. */
  restoreGate(firstMember: pulumi.Resource[]): ShellCommand {
    const first = this.members[0];
    return this.on(first, this.name).command(
      "restore-gate",
      {
        description: "wait for the restore and a running leader",
        create: script("wait-restore", {
          REST: restApiUrl(this.config, first),
          DATA_DIR: dataDirectory(this.config.cluster),
          TIMEOUT: 3000,
        }),
        // Restoring a large database takes as long as copying it.
        timeoutSeconds: 3600,
      },
      { dependsOn: firstMember },
    );
  }
}
