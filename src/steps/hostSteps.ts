// The few kinds of step every role is made of: run a command, put a file,
// link it, run a unit, wait until healthy. Every ShellCommand of the project
// is made here, named from the component it belongs to
// ("cluster-pg01-patroni-config"), with templates/steps/ scripts over the
// host's SSH connection.
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import { ShellCommand, ShellCommandArgs, SshConnection } from "../providers/shellCommand";
import { renderStepScript } from "./stepScript";

/** Where steps run. */
export interface StepHost {
  /** Host name, for messages. */
  readonly name: string;
  readonly connection: pulumi.Input<SshConnection>;
  /**
   * "stack/host name": delete steps leave the host alone when it now belongs
   * to another name (a host renamed on the same machine).
   */
  readonly owner?: string;
}

export interface StepOptions {
  readonly dependsOn?: pulumi.Input<pulumi.Input<pulumi.Resource>[]>;
  /**
   * The step's name before resources were named from their component: an
   * alias, so stacks deployed then upgrade in place (nothing replaced).
   */
  readonly legacyName?: string;
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
  /** For a secret file: its text with the secrets masked, shown by `pulumi preview --diff`. */
  readonly shown?: string;
  /** The secrets the content holds, masked in any output shown. */
  readonly mask?: pulumi.Input<string[]>;
}

export interface ServiceSpec {
  readonly unit: string;
  /**
   * What a config change does to the running unit: reload, restart, or start
   * (leave a running unit alone: another step restarts it, e.g. etcd's members
   * one at a time).
   */
  readonly onChange: "reload" | "restart" | "start";
  /** Content hashes of the files the unit reads: a change runs onChange. */
  readonly triggers: pulumi.Input<string>[];
  /** Stop and disable the unit on destroy (default true). */
  readonly stopOnDestroy?: boolean;
  /** Instead of stopping the unit: how this member leaves its cluster (e.g. a switchover first). */
  readonly delete?: string;
  /** Instead of the service template's start: how the unit starts on create (e.g. joining a cluster). */
  readonly create?: string;
  /** Instead of onChange: what a change does. */
  readonly update?: string;
}

export interface GateSpec {
  /** What the gate waits for, for messages. */
  readonly what: string;
  readonly template: string;
  readonly env: Readonly<Record<string, string | number>>;
  /** Re-run the gate whenever these change (the services it waits for). */
  readonly triggers: pulumi.Input<unknown>[];
  readonly stdin?: pulumi.Input<string>;
  /** The secrets stdin holds, masked in any output shown. */
  readonly mask?: pulumi.Input<string[]>;
}

/** sha256 of the content: the trigger a service step shares with its files. */
export const contentHash = (content: pulumi.Input<string>): pulumi.Output<string> =>
  pulumi.output(content).apply((c) => crypto.createHash("sha256").update(c).digest("hex"));

/** The steps of one component on one host; child names are `<component>-<step>`. */
export class HostSteps {
  constructor(
    private readonly parent: pulumi.Resource,
    private readonly component: string,
    readonly host: StepHost,
  ) {}

  /** The OWNER variable of delete scripts. */
  get ownerEnv(): Record<string, string> {
    return this.host.owner ? { OWNER: this.host.owner } : {};
  }

  command(
    name: string,
    args: Omit<ShellCommandArgs, "connection" | "description"> & { description: string },
    opts: StepOptions = {},
  ): ShellCommand {
    return new ShellCommand(
      `${this.component}-${name}`,
      { ...args, description: `${this.host.name}: ${args.description}`, connection: this.host.connection },
      { parent: this.parent, dependsOn: opts.dependsOn, aliases: opts.legacyName ? [{ name: opts.legacyName }] : undefined },
    );
  }

  file(name: string, spec: FileSpec, opts: StepOptions = {}): ShellCommand {
    return this.command(
      name,
      {
        description: `write ${spec.path}`,
        create: renderStepScript("write-file", {
          TARGET: spec.path,
          MODE: spec.mode ?? "0644",
          OWNER: spec.owner ?? "root",
          GROUP: spec.group ?? "root",
          ...(spec.validate ? { VALIDATE: spec.validate } : {}),
        }),
        delete: spec.removeOnDestroy === false ? undefined : renderStepScript("remove-file", { TARGET: spec.path, ...this.ownerEnv }),
        stdin: spec.content,
        shown: spec.shown,
        mask: spec.mask,
      },
      opts,
    );
  }

  /** Symlinks to `target` at each of `links`, removed on destroy. */
  links(name: string, target: string, links: readonly string[], opts: StepOptions = {}): ShellCommand {
    return this.command(
      name,
      {
        description: `link ${links.join(", ")}`,
        create: renderStepScript("link-file", { TARGET: target, LINKS: links.join(" ") }),
        delete: renderStepScript("remove-link", { LINKS: links.join(" "), ...this.ownerEnv }),
      },
      opts,
    );
  }

  service(name: string, spec: ServiceSpec, opts: StepOptions = {}): ShellCommand {
    return this.command(
      name,
      {
        description: `run ${spec.unit}`,
        create: spec.create ?? renderStepScript("service", { UNIT: spec.unit, ACTION: "start" }),
        update: spec.update ?? renderStepScript("service", { UNIT: spec.unit, ACTION: spec.onChange }),
        delete:
          spec.delete ??
          (spec.stopOnDestroy === false ? undefined : renderStepScript("stop-service", { UNIT: spec.unit, ...this.ownerEnv })),
        triggers: spec.triggers,
      },
      opts,
    );
  }

  /** A health gate: waits until the service really works, fails the deploy with the reason otherwise. */
  gate(name: string, spec: GateSpec, opts: StepOptions = {}): ShellCommand {
    return this.command(
      name,
      {
        description: `wait for ${spec.what}`,
        create: renderStepScript(spec.template, spec.env),
        triggers: spec.triggers,
        stdin: spec.stdin,
        mask: spec.mask,
      },
      opts,
    );
  }
}
