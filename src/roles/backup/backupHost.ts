// The repository host (the backup role): its directories, pgbackrest.conf
// (secret: it holds the cipher passphrase; checked against the repository
// before it replaces the old one), the CA bundle its TLS server trusts, and
// pgBackRest's TLS server, which the database hosts reach to archive and
// restore. The stanza's backups, timers and first full backup come once the
// cluster runs (backupCluster.ts).
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
import { ShellCommand } from "../../providers/shellCommand";
import { MASKED } from "../../stack/passwords";
import { contentHash, HostSteps } from "../../steps/hostSteps";
import { scriptsIn } from "../../steps/stepScript";
import { dataDirectory } from "../postgres/patroniConfig";
import { POSTGRES_ROLE, POSTGRES_SOCKET_DIR } from "../postgres/slice";
import { RoleArgs } from "../roleArgs";
import {
  CLIENT_CA_BUNDLE,
  CLIENT_CA_DIR,
  PgLocation,
  renderRepositoryConfig,
  RepositoryConfigInput,
} from "./pgbackrestConfig";
import { PGBACKREST_CONFIG_PATH, stanzaOf, TLS_CA_FILE } from "./slice";

const script = scriptsIn(__dirname);

/** The CA bundle pgBackRest's TLS server trusts (client-ca-bundle.sh): create, check, or add a stanza's CA. */
export const clientCaBundle = (action: string) =>
  script("client-ca-bundle", { ACTION: action, CA_FILE: TLS_CA_FILE, CA_DIR: CLIENT_CA_DIR, BUNDLE: CLIENT_CA_BUNDLE });

/** Where the repository host's config validator is installed (validate-repository-config.sh). */
export const VALIDATE_REPOSITORY_CONFIG_PATH = "/usr/local/lib/pulumi-patroni/pp-validate-repository-config";

/** An executable of this folder as installed on a host: its text with the managed-file line after the shebang. */
export function installedScript(ctx: ManagedFileContext, file: string): string {
  const [shebang, ...rest] = fs.readFileSync(path.join(__dirname, file), "utf8").split("\n");
  return [shebang, managedHeader(ctx).trimEnd(), ...rest].join("\n");
}

/** Where a stack's PostgreSQL lives on its hosts, as pgBackRest reaches it. */
export const pgLocationOf = (c: RoleArgs["config"]): PgLocation => ({
  dataDirectory: dataDirectory(c.cluster),
  port: c.cluster.postgresPort,
  socketDir: POSTGRES_SOCKET_DIR,
});

export type BackupHostArgs = RoleArgs;

export class BackupHost extends pulumi.ComponentResource {
  /** pgBackRest's TLS server runs with the current config: the database hosts can archive. */
  readonly ready: ShellCommand;

  constructor(name: string, args: BackupHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:BackupHost", name, {}, opts);
    const { config, host } = args;
    const steps = new HostSteps(this, name, host, args.facts);
    const stanza = stanzaOf(config);
    const input = (cipherPass: string): RepositoryConfigInput => ({
      stanza,
      address: host.address,
      path: config.backup.path,
      cipherPass,
      retentionFull: config.backup.retentionFull,
      hosts: args.topology.withRole(POSTGRES_ROLE).map((h) => ({ name: h.name, address: h.address })),
      pg: pgLocationOf(config),
    });
    const repositoryConfig = args.passwords.apply((p) => renderRepositoryConfig(args.managed, input(p.backupCipher)));
    const repository = steps.command(
      "repository",
      {
        description: `pgBackRest repository ${config.backup.path}`,
        create: script("repository", { ACTION: "create", REPO_PATH: config.backup.path, STANZA: stanza }),
        delete: script("repository", { ACTION: "delete", REPO_PATH: config.backup.path, STANZA: stanza }),
        // pulumi destroy says what became of the backups.
        announceDelete: true,
      },
      { dependsOn: args.dependsOn },
    );
    const validator = steps.file(
      "config-validator",
      {
        path: VALIDATE_REPOSITORY_CONFIG_PATH,
        content: installedScript(args.managed, "validate-repository-config.sh"),
        mode: "0755",
      },
      { dependsOn: [repository] },
    );
    const file = steps.file(
      "config",
      {
        path: PGBACKREST_CONFIG_PATH,
        content: pulumi.secret(repositoryConfig),
        mode: "0640",
        group: "postgres",
        validate: `${VALIDATE_REPOSITORY_CONFIG_PATH} %s`,
        shown: renderRepositoryConfig(args.managed, input(MASKED)),
        mask: args.passwords.apply((p) => [p.backupCipher]),
      },
      { dependsOn: [validator] },
    );

    const trust = steps.command(
      "client-ca",
      {
        description: "CA bundle of pgBackRest's TLS server",
        create: clientCaBundle("create"),
        check: clientCaBundle("check"),
      },
      { dependsOn: [repository] },
    );
    this.ready = steps.service(
      "server",
      { unit: "pgbackrest", onChange: "reload", triggers: [contentHash(repositoryConfig)] },
      { dependsOn: [file, trust] },
    );
    this.registerOutputs({ ready: this.ready.id });
  }
}
