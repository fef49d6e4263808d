// The few kinds of step every role is made of: run a command, put a file,
// link it, run a unit, wait until healthy. Every ShellCommand of the project
// is made here, named from the component it belongs to
// ("cluster-pg01-patroni-config"), with host scripts (stepScript.ts) over the
// host's SSH connection.
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "crypto";
import { ShellCommand, ShellCommandArgs, SshConnection } from "../providers/shellCommand";
import { HostFacts, HostScript, renderHostScript, ScriptEnv, sharedScript } from "./stepScript";

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

export interface CommandSpec extends Omit<
  ShellCommandArgs,
  "connection" | "description" | "create" | "update" | "delete" | "check"
> {
  readonly description: string;
  readonly create: HostScript;
  readonly update?: HostScript;
  readonly delete?: HostScript;
  readonly check?: HostScript;
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
  readonly shown?: pulumi.Input<string>;
  /** The secrets the content holds, masked in any output shown. */
  readonly mask?: pulumi.Input<string[]>;
}

/** A file of HostSteps.files: never secret (its content is shown by preview --diff). */
export type BundledFile = Pick<FileSpec, "path" | "mode" | "owner" | "group"> & {
  readonly content: pulumi.Input<string>;
};

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
  readonly delete?: HostScript;
  /** Instead of the service script's start: how the unit starts on create (e.g. joining a cluster). */
  readonly create?: HostScript;
  /** Instead of onChange: what a change does. */
  readonly update?: HostScript;
}

export interface GateSpec {
  /** What the gate waits for, for messages. */
  readonly what: string;
  readonly script: HostScript;
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
  private readonly facts: HostFacts;

  constructor(
    private readonly parent: pulumi.Resource,
    private readonly component: string,
    readonly host: StepHost,
    facts: HostFacts,
  ) {
    // HOST_OWNER: what owned_here (scripts/lib/owner.sh) compares the host's owner file with.
    this.facts = host.owner ? { ...facts, HOST_OWNER: host.owner } : facts;
  }

  /** A host script as it runs here: its template, its parameters and the host facts it names. */
  render(script: HostScript): string {
    return renderHostScript(script, this.facts);
  }

  command(name: string, spec: CommandSpec, opts: StepOptions = {}): ShellCommand {
    const r = (s?: HostScript) => (s ? this.render(s) : undefined);
    return new ShellCommand(
      `${this.component}-${name}`,
      {
        ...spec,
        description: `${this.host.name}: ${spec.description}`,
        connection: this.host.connection,
        create: this.render(spec.create),
        update: r(spec.update),
        delete: r(spec.delete),
        check: r(spec.check),
      },
      {
        parent: this.parent,
        dependsOn: opts.dependsOn,
        aliases: opts.legacyName ? [{ name: opts.legacyName }] : undefined,
      },
    );
  }

  file(name: string, spec: FileSpec, opts: StepOptions = {}): ShellCommand {
    const file: ScriptEnv = {
      TARGET: spec.path,
      FILE_MODE: spec.mode ?? "0644",
      FILE_OWNER: spec.owner ?? "root",
      FILE_GROUP: spec.group ?? "root",
      ...(spec.validate ? { VALIDATE: spec.validate } : {}),
    };
    return this.command(
      name,
      {
        description: `write ${spec.path}`,
        create: sharedScript("write-file", file),
        delete: spec.removeOnDestroy === false ? undefined : sharedScript("remove-file", { TARGET: spec.path }),
        stdin: spec.content,
        shown: spec.shown,
        mask: spec.mask,
      },
      opts,
    );
  }

  /**
   * Several small files that are not secret, in one step (one SSH round trip
   * instead of one per file); each is written atomically and removed on destroy.
   */
  files(name: string, description: string, specs: readonly BundledFile[], opts: StepOptions = {}): ShellCommand {
    for (const f of specs) if (/\s/.test(f.path)) throw new Error(`${name}: path ${f.path} holds whitespace`);
    const bundle = pulumi.all(specs.map((f) => pulumi.output(f.content))).apply((contents) =>
      JSON.stringify(
        specs.map((f, i) => ({
          path: f.path,
          mode: f.mode ?? "0644",
          owner: f.owner ?? "root",
          group: f.group ?? "root",
          content: contents[i],
        })),
      ),
    );
    return this.command(
      name,
      {
        description,
        create: sharedScript("write-files"),
        delete: sharedScript("remove-files", { TARGETS: specs.map((f) => f.path).join(" ") }),
        stdin: bundle,
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
        create: sharedScript("link-file", { TARGET: target, LINKS: links.join(" ") }),
        delete: sharedScript("remove-link", { LINKS: links.join(" ") }),
      },
      opts,
    );
  }

  service(name: string, spec: ServiceSpec, opts: StepOptions = {}): ShellCommand {
    return this.command(
      name,
      {
        description: `run ${spec.unit}`,
        create: spec.create ?? sharedScript("service", { UNIT: spec.unit, ACTION: "start" }),
        update: spec.update ?? sharedScript("service", { UNIT: spec.unit, ACTION: spec.onChange }),
        delete:
          spec.delete ?? (spec.stopOnDestroy === false ? undefined : sharedScript("stop-service", { UNIT: spec.unit })),
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
        create: spec.script,
        triggers: spec.triggers,
        stdin: spec.stdin,
        mask: spec.mask,
      },
      opts,
    );
  }
}
