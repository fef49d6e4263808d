// The pgbouncer role (PgBouncer in front of the local PostgreSQL) and its
// `pgbouncer` section.
import { z } from "zod";
import { FieldClasses, identity, live, NEW_STACK } from "../../config/fieldClasses";
import { port, positiveInt } from "../../config/primitives";
import { RoleSlice } from "../../config/roleSlice";
import { ClusterView } from "../postgres/slice";
import { DEFAULT_POSTGRES_PARAMETERS } from "../postgres/postgresParameters";
import { UnitSections } from "../../render/systemdUnit";
import { PGBOUNCER_INI_PATH } from "./pgbouncerIni";

export const pgbouncerSettingsSchema = z
  .object({
    port: port.default(6432).describe("PgBouncer port on each postgres host that has the pgbouncer role."),
    poolMode: z.enum(["session", "transaction", "statement"]).default("session").describe("PgBouncer pool_mode."),
    defaultPoolSize: positiveInt.default(20).describe("Server connections per user/database pair."),
    maxClientConn: positiveInt.default(1000).describe("Client connections PgBouncer accepts."),
    authType: z.enum(["scram-sha-256", "md5"]).default("scram-sha-256").describe("Client authentication."),
  })
  .strict();
export type PgbouncerSettings = z.infer<typeof pgbouncerSettingsSchema>;

export interface PgbouncerView extends ClusterView {
  readonly pgbouncer: PgbouncerSettings;
}

export const PGBOUNCER_ROLE = "pgbouncer";

export const PGBOUNCER_DROP_IN: UnitSections = {
  Unit: { After: ["network-online.target", "patroni.service"], Wants: "network-online.target" },
  Service: { Restart: "on-failure", RestartSec: "2s" },
};

function pgbouncerProblems(c: PgbouncerView): string[] {
  const problems: string[] = [];
  c.hosts.forEach((h, i) => {
    if (h.roles.includes(PGBOUNCER_ROLE) && !h.roles.includes("postgres")) {
      problems.push(
        `hosts[${i}].roles: pgbouncer needs postgres on the same host (PgBouncer talks to the local PostgreSQL over its unix socket); add postgres or remove pgbouncer`,
      );
    }
  });
  if (c.pgbouncer.defaultPoolSize > c.pgbouncer.maxClientConn) {
    problems.push(
      `pgbouncer.defaultPoolSize: ${c.pgbouncer.defaultPoolSize} is larger than pgbouncer.maxClientConn ${c.pgbouncer.maxClientConn}`,
    );
  }
  const maxConnections = Number(c.cluster.parameters.max_connections ?? DEFAULT_POSTGRES_PARAMETERS.max_connections);
  if (c.pgbouncer.defaultPoolSize >= maxConnections) {
    problems.push(
      `pgbouncer.defaultPoolSize: ${c.pgbouncer.defaultPoolSize} must be below cluster.parameters.max_connections (${maxConnections})`,
    );
  }
  return problems;
}

const reloaded = live("pgbouncer.ini, reloaded (open sessions stay)");
const FIELD_CLASSES: FieldClasses = {
  "pgbouncer.port": identity("HAProxy sends the clients there; " + NEW_STACK),
  "pgbouncer.poolMode": reloaded,
  "pgbouncer.defaultPoolSize": reloaded,
  "pgbouncer.maxClientConn": reloaded,
  "pgbouncer.authType": reloaded,
  pgbouncerPassword: live("rotated: the role on the primary first, then PgBouncer's userlist"),
};

export const pgbouncerSlice = {
  role: PGBOUNCER_ROLE,
  summary: "pgbouncer",
  settings: {
    key: "pgbouncer",
    schema: pgbouncerSettingsSchema,
    description: "PgBouncer in front of each PostgreSQL.",
  },
  ports: (c) => [{ port: c.pgbouncer.port, field: "pgbouncer.port" }],
  problems: pgbouncerProblems,
  packages: () => ["pgbouncer"],
  fieldClasses: FIELD_CLASSES,
  facts: (c) => ({ PGBOUNCER_INI: PGBOUNCER_INI_PATH, PGBOUNCER_PORT: c.pgbouncer.port }),
  secrets: [{ key: "pgbouncerPassword", field: "pgbouncerAuth", generatedName: "pgbouncer-auth-password" }],
} as const satisfies RoleSlice<PgbouncerView>;
