// The exporters of one host (with a monitor host in the stack): each packaged
// exporter of the host's roles with its /etc/default file and drop-in, the
// postgres-exporter's extra queries, the hourly certificate-expiry collector;
// all written in one step, then the units (re)started, then a gate: each
// answers on the host's address, and the ones that read a service say it is up.
import * as pulumi from "@pulumi/pulumi";
import { ShellCommand } from "../../providers/shellCommand";
import { renderEnvironmentFile } from "../../render/environmentFile";
import { dropInPath, renderSystemdDropIn } from "../../render/systemdUnit";
import { BundledFile, contentHash, HostSteps } from "../../steps/hostSteps";
import { scriptsIn } from "../../steps/stepScript";
import { MONITORING_USER, POSTGRES_SOCKET_DIR } from "../postgres/slice";
import { PGBACKREST_CONFIG_PATH } from "../backup/slice";
import { RoleArgs } from "../roleArgs";
import { exportersOn, PACKAGED_EXPORTERS, PGBOUNCER_EXPORTER, POSTGRES_EXPORTER } from "./exporters";
import {
  renderPostgresExporterQueries,
  renderTlsExpiryScript,
  TLS_EXPIRY_PATH,
  TLS_EXPIRY_SERVICE,
  TLS_EXPIRY_TIMER,
  TLS_EXPIRY_UNIT,
  unitPath,
} from "./monitorFiles";
import {
  environmentPath,
  exporterDropIn,
  exporterEnvironment,
  ExporterHostInput,
  POSTGRES_EXPORTER_QUERIES_PATH,
} from "./serviceEnvironment";

const script = scriptsIn(__dirname);

export interface ExportersNodeArgs extends RoleArgs {
  /** The monitor host: the only one (besides this host) the exporters answer. */
  readonly monitorAddress: string;
}

export class ExportersNode extends pulumi.ComponentResource {
  /** Every exporter of the host answers. */
  readonly ready: ShellCommand;

  constructor(name: string, args: ExportersNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pulumi-patroni:index:ExportersNode", name, {}, opts);
    const { config, host } = args;
    const steps = new HostSteps(this, name, host, args.facts);
    const exporters = exportersOn(host.roles);
    const input: ExporterHostInput = {
      address: host.address,
      monitorAddress: args.monitorAddress,
      postgresPort: config.cluster.postgresPort,
      pgbouncerPort: config.pgbouncer.port,
      monitoringUser: MONITORING_USER,
      socketDir: POSTGRES_SOCKET_DIR,
      localMachine: config.hostSource === "local-machines",
      pgbackrestConfig: PGBACKREST_CONFIG_PATH,
    };
    const files: BundledFile[] = exporters.flatMap((e) => [
      { path: environmentPath(e.unit), content: renderEnvironmentFile(args.managed, exporterEnvironment(e, input)) },
      { path: dropInPath(`${e.unit}.service`), content: renderSystemdDropIn(args.managed, exporterDropIn(e, input)) },
      ...(e === POSTGRES_EXPORTER
        ? [{ path: POSTGRES_EXPORTER_QUERIES_PATH, content: renderPostgresExporterQueries(args.managed) }]
        : []),
    ]);
    files.push(
      { path: TLS_EXPIRY_PATH, content: renderTlsExpiryScript(args.managed), mode: "0755" },
      { path: unitPath(`${TLS_EXPIRY_UNIT}.service`), content: renderSystemdDropIn(args.managed, TLS_EXPIRY_SERVICE) },
      { path: unitPath(`${TLS_EXPIRY_UNIT}.timer`), content: renderSystemdDropIn(args.managed, TLS_EXPIRY_TIMER) },
    );
    const written = steps.files("files", "write the exporters' files", files, { dependsOn: args.dependsOn });
    const units = exporters.map((e) => e.unit).join(" ");
    const env = {
      UNITS: units,
      UNWANTED: PACKAGED_EXPORTERS.filter((e) => !exporters.includes(e))
        .map((e) => e.unit)
        .join(" "),
      TIMER: TLS_EXPIRY_UNIT,
    };
    const services = steps.command(
      "services",
      {
        description: `run ${units}`,
        create: script("exporters-service", { ...env, ACTION: "start" }),
        delete: script("exporters-service", { ...env, ACTION: "stop" }),
        triggers: files.map((f) => contentHash(f.content)),
      },
      { dependsOn: [written] },
    );
    const up = (e: (typeof exporters)[number]) =>
      e === POSTGRES_EXPORTER ? "=pg_up" : e === PGBOUNCER_EXPORTER ? "=pgbouncer_up" : "";
    this.ready = steps.gate(
      "gate",
      {
        what: "exporters",
        script: script("wait-exporters", {
          CHECKS: exporters.map((e) => `${host.address}:${e.port}${up(e)}`).join(" "),
          TIMEOUT: 60,
        }),
        triggers: files.map((f) => contentHash(f.content)),
      },
      { dependsOn: [services] },
    );
    this.registerOutputs({ ready: this.ready.id });
  }
}
