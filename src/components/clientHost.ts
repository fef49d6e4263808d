// The client host of the seeds: psql and pgbench installed (by HostBase), a
// pg_service.conf with services "primary" and "replicas" through HAProxy and
// a 0600 .pgpass for root, so `psql service=primary` just works.
import * as pulumi from "@pulumi/pulumi";
import { ShellCommand } from "../providers/shellCommand";
import { PG_SERVICE_PATH, ROOT_PGPASS_PATH } from "../render/clientConnection";
import { healthGate, HostContext, remoteFile } from "./hostSteps";

export interface ClientHostArgs {
  readonly host: Omit<HostContext, "parent">;
  readonly pgService: string;
  /** Rendered .pgpass (secret). */
  readonly pgpass: pulumi.Input<string>;
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

export class ClientHost extends pulumi.ComponentResource {
  readonly gate: ShellCommand;

  constructor(name: string, args: ClientHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:ClientHost", name, {}, opts);
    const ctx: HostContext = { ...args.host, parent: this };
    const files = [
      remoteFile(ctx, "pg-service", { path: PG_SERVICE_PATH, content: args.pgService }, args.dependsOn),
      remoteFile(ctx, "pgpass", { path: ROOT_PGPASS_PATH, content: pulumi.secret(args.pgpass), mode: "0600" }, args.dependsOn),
    ];
    this.gate = healthGate(ctx, { name: "client", template: "wait-client", env: { TIMEOUT: 60 }, triggers: [args.pgService] }, files);
    this.registerOutputs({});
  }
}
