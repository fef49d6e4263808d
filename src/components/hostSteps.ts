// The few kinds of step every role is made of: put a file, run a unit, wait
// until healthy. Each is a ShellCommand running a template from
// templates/steps/ over the host's SSH connection.
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import { ShellCommand, SshConnection } from "../providers/shellCommand";
import { renderStepScript } from "../render/stepScript";

export interface HostContext {
  /** Host name, used in resource names and messages. */
  readonly hostName: string;
  readonly connection: pulumi.Input<SshConnection>;
  /** Parent component of the steps. */
  readonly parent: pulumi.Resource;
}

export interface FileSpec {
  readonly path: string;
  readonly content: pulumi.Input<string>;
  readonly mode?: string;
  readonly owner?: string;
  readonly group?: string;
  /** Command validating the candidate file before it replaces the old one; %s is its path. */
  readonly validate?: string;
  /** Remove the file on destroy (default true). */
  readonly removeOnDestroy?: boolean;
}

/** sha256 of the content: the trigger a service step shares with its files. */
export const contentHash = (content: pulumi.Input<string>): pulumi.Output<string> =>
  pulumi.output(content).apply((c) => crypto.createHash("sha256").update(c).digest("hex"));

export function remoteFile(ctx: HostContext, name: string, spec: FileSpec, dependsOn: pulumi.Input<pulumi.Resource>[]): ShellCommand {
  return new ShellCommand(
    `${ctx.hostName}-file-${name}`,
    {
      description: `${ctx.hostName}: write ${spec.path}`,
      connection: ctx.connection,
      create: renderStepScript("write-file", {
        TARGET: spec.path,
        MODE: spec.mode ?? "0644",
        OWNER: spec.owner ?? "root",
        GROUP: spec.group ?? "root",
        ...(spec.validate ? { VALIDATE: spec.validate } : {}),
      }),
      delete: spec.removeOnDestroy === false ? undefined : renderStepScript("remove-file", { TARGET: spec.path }),
      stdin: spec.content,
    },
    { parent: ctx.parent, dependsOn },
  );
}

export interface ServiceSpec {
  readonly unit: string;
  /** What a config change does to the running unit. */
  readonly onChange: "reload" | "restart";
  /** Content hashes of the files the unit reads: a change runs onChange. */
  readonly triggers: pulumi.Input<string>[];
  /** Stop and disable the unit on destroy (default true). */
  readonly stopOnDestroy?: boolean;
}

export function serviceStep(ctx: HostContext, spec: ServiceSpec, dependsOn: pulumi.Input<pulumi.Resource>[]): ShellCommand {
  return new ShellCommand(
    `${ctx.hostName}-service-${spec.unit}`,
    {
      description: `${ctx.hostName}: run ${spec.unit}`,
      connection: ctx.connection,
      create: renderStepScript("service", { UNIT: spec.unit, ACTION: "start" }),
      update: renderStepScript("service", { UNIT: spec.unit, ACTION: spec.onChange }),
      delete: spec.stopOnDestroy === false ? undefined : renderStepScript("stop-service", { UNIT: spec.unit }),
      triggers: spec.triggers,
    },
    { parent: ctx.parent, dependsOn },
  );
}

export interface GateSpec {
  readonly name: string;
  readonly template: string;
  readonly env: Readonly<Record<string, string | number>>;
  /** Re-run the gate whenever these change (the services it waits for). */
  readonly triggers: pulumi.Input<unknown>[];
  readonly stdin?: pulumi.Input<string>;
}

/** A health gate: waits until the service really works, fails the deploy with the reason otherwise. */
export function healthGate(ctx: HostContext, spec: GateSpec, dependsOn: pulumi.Input<pulumi.Resource>[]): ShellCommand {
  return new ShellCommand(
    `${ctx.hostName}-gate-${spec.name}`,
    {
      description: `${ctx.hostName}: wait for ${spec.name}`,
      connection: ctx.connection,
      create: renderStepScript(spec.template, spec.env),
      triggers: spec.triggers,
      stdin: spec.stdin,
    },
    { parent: ctx.parent, dependsOn },
  );
}
