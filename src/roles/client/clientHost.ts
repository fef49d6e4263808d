// A client host as the runbooks have one: psql and pgbench installed (by HostBase), a
// pg_service.conf with services "primary" and "replicas" through the entry
// (the VIP, or every HAProxy host) and a 0600 .pgpass for root, so
// `psql service=primary` just works.
import * as pulumi from "@pulumi/pulumi";
import { ShellCommand } from "../../providers/shellCommand";
import { secretValues } from "../../stack/passwords";
import { HostSteps } from "../../steps/hostSteps";
import { scriptsIn } from "../../steps/stepScript";
import { SUPERUSER } from "../postgres/slice";
import { RoleArgs } from "../roleArgs";
import { TLS_PATHS } from "../../tls/settings";
import {
  clientEndpoint,
  PG_SERVICE_PATH,
  PRIMARY_SERVICE,
  renderPgpass,
  renderPgService,
  ROOT_PGPASS_PATH,
} from "./clientConnection";

const script = scriptsIn(__dirname);

export type ClientHostArgs = RoleArgs;

export class ClientHost extends pulumi.ComponentResource {
  /** service=primary reaches the primary. */
  readonly ready: ShellCommand;

  constructor(name: string, args: ClientHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:ClientHost", name, {}, { ...opts, aliases: [{ type: "pulumi-patroni:ClientHost" }] });
    const { config, host } = args;
    const steps = new HostSteps(this, name, host, args.facts);
    const endpoint = clientEndpoint(config);
    const pgService = renderPgService(args.managed, endpoint, SUPERUSER, config.tls.enabled ? TLS_PATHS.ca : undefined);
    const pgpass = args.passwords.apply((p) =>
      renderPgpass(
        args.managed,
        endpoint.hosts.flatMap((h) =>
          [endpoint.primaryPort, endpoint.replicaPort].map((port) => ({
            host: h,
            port,
            user: SUPERUSER,
            password: p.superuser,
          })),
        ),
      ),
    );
    const legacy = (step: string) => ({ legacyName: `${host.name}-${step}`, dependsOn: args.dependsOn });
    const files = [
      steps.file("pg-service", { path: PG_SERVICE_PATH, content: pgService }, legacy("file-pg-service")),
      steps.file(
        "pgpass",
        {
          path: ROOT_PGPASS_PATH,
          content: pulumi.secret(pgpass),
          mode: "0600",
          mask: args.passwords.apply(secretValues),
        },
        legacy("file-pgpass"),
      ),
    ];
    this.ready = steps.gate(
      "gate",
      {
        what: "client",
        script: script("wait-client", { SERVICE: PRIMARY_SERVICE, TIMEOUT: 60 }),
        triggers: [pgService],
      },
      { legacyName: `${host.name}-gate-client`, dependsOn: files },
    );
    this.registerOutputs({ ready: this.ready.id });
  }
}
