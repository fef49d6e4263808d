// Types of the PostgreSQL parameters people set most, so a wrong value is
// rejected before deploy instead of leaving PostgreSQL unable to start.
// Unknown parameters pass through; PostgreSQL itself is the judge of those.
// https://www.postgresql.org/docs/17/config-setting.html
import { hasControlCharacter } from "../../config/primitives";

type ParameterKind =
  | { kind: "integer"; min?: number; max?: number }
  | { kind: "bool" }
  | { kind: "memory" }
  | { kind: "duration" }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "real"; min?: number; max?: number };

const integer = (min?: number, max?: number): ParameterKind => ({ kind: "integer", min, max });
const enumOf = (...values: string[]): ParameterKind => ({ kind: "enum", values });
const bool: ParameterKind = { kind: "bool" };
const memory: ParameterKind = { kind: "memory" };
const duration: ParameterKind = { kind: "duration" };

export const KNOWN_PARAMETERS: Readonly<Record<string, ParameterKind>> = {
  max_connections: integer(1, 262143),
  superuser_reserved_connections: integer(0),
  shared_buffers: memory,
  work_mem: memory,
  maintenance_work_mem: memory,
  effective_cache_size: memory,
  wal_buffers: memory,
  max_wal_size: memory,
  min_wal_size: memory,
  wal_keep_size: memory,
  temp_buffers: memory,
  huge_pages: enumOf("on", "off", "try"),
  wal_level: enumOf("replica", "logical"),
  wal_log_hints: bool,
  hot_standby_feedback: bool,
  fsync: bool,
  full_page_writes: bool,
  track_commit_timestamp: bool,
  track_io_timing: bool,
  jit: bool,
  max_wal_senders: integer(0, 262143),
  max_replication_slots: integer(0, 262143),
  max_worker_processes: integer(0, 262143),
  max_parallel_workers: integer(0, 1024),
  max_parallel_workers_per_gather: integer(0, 1024),
  max_locks_per_transaction: integer(10),
  max_prepared_transactions: integer(0, 262143),
  autovacuum: bool,
  autovacuum_max_workers: integer(1, 262143),
  checkpoint_timeout: duration,
  checkpoint_completion_target: { kind: "real", min: 0, max: 1 },
  random_page_cost: { kind: "real", min: 0 },
  effective_io_concurrency: integer(0, 1000),
  statement_timeout: duration,
  idle_in_transaction_session_timeout: duration,
  lock_timeout: duration,
  wal_sender_timeout: duration,
  wal_receiver_timeout: duration,
  log_min_duration_statement: duration,
  log_checkpoints: bool,
  log_connections: bool,
  log_disconnections: bool,
  log_lock_waits: bool,
  log_temp_files: integer(-1),
  synchronous_commit: enumOf("on", "off", "local", "remote_write", "remote_apply"),
  password_encryption: enumOf("scram-sha-256"),
  archive_mode: enumOf("on", "off", "always"),
  default_transaction_isolation: enumOf("serializable", "repeatable read", "read committed", "read uncommitted"),
};

/** Baseline parameters every node gets; cluster.parameters override them. */
export const DEFAULT_POSTGRES_PARAMETERS: Readonly<Record<string, string | number | boolean>> = {
  password_encryption: "scram-sha-256",
  wal_level: "replica",
  wal_log_hints: "on",
  max_connections: 200,
  max_wal_senders: 10,
  max_replication_slots: 10,
  wal_keep_size: "128MB",
};

// Parameters Patroni manages itself: setting them here would fight Patroni.
export const PATRONI_OWNED_PARAMETERS = new Set([
  "listen_addresses",
  "port",
  "data_directory",
  "hba_file",
  "ident_file",
  "config_file",
  "hot_standby",
  "primary_conninfo",
  "primary_slot_name",
  "recovery_target_timeline",
  "synchronous_standby_names",
  "cluster_name",
]);

const MEMORY = /^\d+\s*(B|kB|MB|GB|TB)?$/;
const DURATION = /^-?\d+\s*(us|ms|s|min|h|d)?$/;
const BOOL_WORDS = new Set(["on", "off", "true", "false", "yes", "no", "1", "0"]);

/** Returns why `value` is not valid for `name`, or undefined when it is. */
export function checkPostgresParameter(name: string, value: string | number | boolean): string | undefined {
  if (PATRONI_OWNED_PARAMETERS.has(name)) {
    return `is managed by Patroni and cannot be set here (remove it)`;
  }
  // A value ends up in postgresql.conf: no line breaks or control characters.
  if (typeof value === "string" && hasControlCharacter(value))
    return `must not contain line breaks or control characters, got ${JSON.stringify(value)}`;
  const spec = KNOWN_PARAMETERS[name];
  if (!spec) return undefined;
  switch (spec.kind) {
    case "integer": {
      const n =
        typeof value === "number" ? value : typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : NaN;
      if (!Number.isInteger(n)) return `must be an integer, got ${JSON.stringify(value)}`;
      if (spec.min !== undefined && n < spec.min) return `must be at least ${spec.min}, got ${n}`;
      if (spec.max !== undefined && n > spec.max) return `must be at most ${spec.max}, got ${n}`;
      return undefined;
    }
    case "real": {
      const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : NaN;
      if (!Number.isFinite(n)) return `must be a number, got ${JSON.stringify(value)}`;
      if (spec.min !== undefined && n < spec.min) return `must be at least ${spec.min}, got ${n}`;
      if (spec.max !== undefined && n > spec.max) return `must be at most ${spec.max}, got ${n}`;
      return undefined;
    }
    case "bool":
      if (typeof value === "boolean" || (typeof value === "string" && BOOL_WORDS.has(value.toLowerCase())))
        return undefined;
      return `must be a boolean (true/false or on/off), got ${JSON.stringify(value)}`;
    case "memory":
      if (
        (typeof value === "number" && Number.isInteger(value) && value >= 0) ||
        (typeof value === "string" && MEMORY.test(value))
      )
        return undefined;
      return `must be a size like 128MB or a number of blocks, got ${JSON.stringify(value)}`;
    case "duration":
      if ((typeof value === "number" && Number.isInteger(value)) || (typeof value === "string" && DURATION.test(value)))
        return undefined;
      return `must be a duration like 30s or 5min, got ${JSON.stringify(value)}`;
    case "enum":
      if (typeof value === "string" && spec.values.includes(value)) return undefined;
      return `must be one of ${spec.values.join(", ")}, got ${JSON.stringify(value)}`;
  }
}
