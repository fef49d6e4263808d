// A restored stack's source: the stack named in restore.source.stack, read
// through a StackReference (same backend and passphrase). Its outputs give
// its repository host (backupRepository) and how to reach that host over
// SSH (sshPrivateKey, ssh, hostKeys): the restored stack writes its own
// stanza's files there and reads the repository before anything deploys
// (the restore guard, a PreviewCheck that every step waits for).
import * as pulumi from "@pulumi/pulumi";
import { PreviewCheck } from "../providers/previewCheck";
import { SshConnection } from "../providers/shellCommand";
import { ExternalRepository } from "../roles/backup/backupCluster";
import { RestoreSettings } from "../roles/backup/slice";
import { StackConfig } from "../stack/stackConfig";
import { HostFacts, renderHostScript, scriptsIn } from "../steps/stepScript";
import * as path from "path";

/** What a stack with a backup host exports for the stacks restored from it (src/index.ts). */
export interface BackupRepositoryOutput {
  readonly host: string;
  readonly address: string;
  readonly path: string;
  readonly stanza: string;
  /** What pulumi destroy does with the stanza's backups and WAL. */
  readonly onDestroy: string;
}

interface SourceOutputs {
  readonly backupRepository?: BackupRepositoryOutput;
  readonly sshPrivateKey: string;
  readonly ssh?: { user: string; port: number; addresses?: Record<string, string> };
  readonly hostKeys?: Record<string, string>;
  readonly hosts?: Record<string, unknown>;
}

export interface RestoreSource {
  readonly repository: ExternalRepository;
  /** Refuses, at preview, a restore the repository cannot serve (restore-guard.sh); every host step waits for it. */
  readonly guard: PreviewCheck;
}

export function restoreSource(
  config: StackConfig,
  restore: RestoreSettings,
  stack: string,
  facts: HostFacts,
): RestoreSource {
  const source = restore.source.stack;
  if (source === stack)
    throw new pulumi.RunError(
      `restore.source.stack: ${source} is this stack; a cluster is restored into a new stack, from another's repository`,
    );
  const ref = new pulumi.StackReference(`restore-source-${source}`, { name: source });
  const outputs = ref.outputs as pulumi.Output<Partial<SourceOutputs>>;
  const repo = outputs.apply((o) => {
    if (!o.backupRepository)
      throw new pulumi.RunError(
        `restore.source.stack: stack ${source} has no backup repository in its outputs (no host with the backup role, or never deployed)`,
      );
    // tls-server-auth matches a certificate's CN, the host name: two hosts of one name would share grants.
    const clash = config.hosts.map((h) => h.name).filter((n) => o.hosts && n in o.hosts);
    if (clash.length > 0)
      throw new pulumi.RunError(
        `hosts: ${clash.join(", ")} also belong to stack ${source}, whose repository this stack uses; the repository tells hosts apart by name, so rename them`,
      );
    return o.backupRepository;
  });
  const connection = pulumi.secret(
    outputs.apply((o): SshConnection => {
      const r = o.backupRepository!;
      return {
        host: o.ssh?.addresses?.[r.host] ?? r.address,
        port: o.ssh?.port ?? 22,
        user: o.ssh?.user ?? "root",
        privateKey: o.sshPrivateKey ?? "",
        hostKey: o.hostKeys?.[r.host] || undefined,
        // A source stack destroyed first took its repository host with it: nothing left to clean there.
        disposable: true,
      };
    }),
  );
  const script = renderHostScript(
    scriptsIn(path.join(__dirname, "..", "roles", "backup"))("restore-guard", {
      STANZA: config.cluster.name,
      SOURCE_STANZA: restore.source.stanza,
      TARGET_TYPE: restore.target.type,
      TARGET_VALUE: restore.target.value ?? "",
    }),
    facts,
  );
  const guard = new PreviewCheck("restore-guard", {
    description: pulumi.interpolate`restore of stanza ${restore.source.stanza} from ${source}'s repository (${repo.host})`,
    connection,
    script,
  });
  return {
    repository: { stack: source, name: repo.host, address: repo.address, connection },
    guard,
  };
}
