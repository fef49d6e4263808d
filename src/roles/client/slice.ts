// The client role: a host with psql and pgbench, and a
// pg_service.conf that reaches the cluster through HAProxy.
import { RoleSlice } from "../../config/roleSlice";
import { ClusterView } from "../postgres/slice";

export const CLIENT_ROLE = "client";

export const clientSlice = {
  role: CLIENT_ROLE,
  summary: "client (psql, pgbench)",
  // pgbench ships in the server package on Debian; no cluster is created (see install-packages.sh).
  packages: (c) => [`postgresql-client-${c.cluster.postgresVersion}`, `postgresql-${c.cluster.postgresVersion}`],
} as const satisfies RoleSlice<ClusterView>;
