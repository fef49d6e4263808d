// The host roles, registered once. Validation, packages, the README's
// configuration table and the preview guard iterate over this list; adding
// a role is its folder, one line here, and its stage in PostgresCluster.
import { backupSlice } from "./backup/slice";
import { clientSlice } from "./client/slice";
import { etcdSlice } from "./etcd/slice";
import { haproxySlice } from "./haproxy/slice";
import { monitorSlice } from "./monitor/slice";
import { pgbouncerSlice } from "./pgbouncer/slice";
import { postgresSlice } from "./postgres/slice";

export const ROLE_SLICES = [
  etcdSlice,
  postgresSlice,
  pgbouncerSlice,
  haproxySlice,
  clientSlice,
  backupSlice,
  monitorSlice,
] as const;
