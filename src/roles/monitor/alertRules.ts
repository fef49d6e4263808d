// The alert rules, in one place: each alert's expression, how long its
// condition must hold, its severity and what it means, with the thresholds
// the stack configures (monitor.thresholds, monitor.alertForSeconds). The
// rules file Prometheus loads and docs/monitoring.md's table of alerts are both
// rendered from this list; promtool checks and unit-tests the rendered file
// (pg-cluster.rules.test.yml, a firing and a quiet case for every alert).
//
// Every scrape target carries the labels cluster (the Patroni scope) and
// member (the host, which is also the Patroni and etcd member name), set in
// the target files (prometheusConfig.ts); the rules group by them.
import * as yaml from "js-yaml";
import { ManagedFileContext, managedHeader } from "../../render/managedHeader";
import { AlertThresholds } from "./slice";

export interface AlertRule {
  readonly alert: string;
  /** The rule group (one per component). */
  readonly group: string;
  readonly expr: string;
  /** Seconds the condition must hold before the alert fires (Prometheus' `for`); 0: at once. */
  readonly forSeconds: number;
  readonly severity: "warning" | "critical";
  readonly summary: string;
  readonly description: string;
  /** Rendered only when the cluster runs with synchronous_mode (it would always fire otherwise). */
  readonly onlyWithSynchronousMode?: boolean;
}

export interface AlertRuleOptions {
  readonly thresholds: AlertThresholds;
  /** monitor.alertForSeconds: the `for` of the availability and lag alerts. */
  readonly forSeconds: number;
}

/** 60 -> "1m", 20 -> "20s", 1800 -> "30m", 3600 -> "1h": Prometheus' duration syntax. */
export function promDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** 60 -> "1 minute", 20 -> "20 s", 7200 -> "2 hours": for descriptions. */
export function durationWords(seconds: number): string {
  const unit = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;
  if (seconds % 3600 === 0) return unit(seconds / 3600, "hour");
  if (seconds % 60 === 0) return unit(seconds / 60, "minute");
  return `${seconds} s`;
}

/** 67108864 -> "64 MiB": for descriptions. */
export function bytesWords(bytes: number): string {
  for (const [unit, size] of [
    ["GiB", 2 ** 30],
    ["MiB", 2 ** 20],
    ["KiB", 2 ** 10],
  ] as const) {
    if (bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}

/** Every alert, with the configured thresholds. */
export function alertRules(o: AlertRuleOptions): AlertRule[] {
  const t = o.thresholds;
  const f = o.forSeconds;
  const fw = durationWords(f);
  return [
    {
      alert: "TargetDown",
      group: "targets",
      // Patroni and etcd have alerts of their own (a member missing, an etcd member down).
      expr: 'up{job!~"patroni|etcd"} == 0',
      forSeconds: f,
      severity: "warning",
      summary: "{{ $labels.job }} target {{ $labels.instance }} is down",
      description: `Prometheus has failed to scrape {{ $labels.job }} at {{ $labels.instance }} (member {{ $labels.member }}) for ${fw}: the exporter or the service behind it is down, or the host is unreachable.`,
    },
    {
      alert: "PatroniNoLeader",
      group: "patroni",
      expr: [
        '(sum by (cluster) (patroni_primary) or count by (cluster) (up{job="patroni"}) * 0) < 1',
        "  or max by (cluster) (patroni_cluster_unlocked) == 1",
      ].join("\n"),
      forSeconds: f,
      severity: "critical",
      summary: "Patroni cluster {{ $labels.cluster }} has no leader",
      description: `No reachable member of {{ $labels.cluster }} reports itself primary (or none is reachable), or a member reports the leader key missing, for ${fw} (a failover takes about ttl, 30 s by default). Writes are refused.`,
    },
    {
      alert: "PatroniMultiplePrimaries",
      group: "patroni",
      expr: "sum by (cluster) (patroni_primary) > 1",
      forSeconds: 30,
      severity: "critical",
      summary: "Patroni cluster {{ $labels.cluster }} has {{ $value }} primaries",
      description:
        "More than one member of {{ $labels.cluster }} reports patroni_primary=1 for 30 s (longer than two scrapes, so not a switchover seen between scrapes): split brain.",
    },
    {
      alert: "PatroniMemberMissing",
      group: "patroni",
      expr: [
        'max by (cluster, member) (up{job="patroni"} == 0)',
        "  or max by (cluster, member) (patroni_postgres_running == 0)",
      ].join("\n"),
      forSeconds: f,
      severity: "warning",
      summary: "Member {{ $labels.member }} of {{ $labels.cluster }} is missing",
      description: `Patroni on {{ $labels.member }} does not answer, or its PostgreSQL is not running, for ${fw}: the cluster has one copy less, and one candidate less for a failover.`,
    },
    {
      alert: "PatroniReplicaNotStreaming",
      group: "patroni",
      // Said by the replica itself, or it was a replica within the last hour and does not answer
      // (its power is off: it cannot say anything; the leader's walsender notices only after wal_sender_timeout).
      expr: [
        "max by (cluster, member) (patroni_replica == 1 and patroni_postgres_streaming == 0)",
        '  or max by (cluster, member) (up{job="patroni"} == 0 and on (cluster, member) max_over_time(patroni_replica[1h]) == 1)',
      ].join("\n"),
      forSeconds: f,
      severity: "warning",
      summary: "Replica {{ $labels.member }} of {{ $labels.cluster }} is not streaming",
      description: `{{ $labels.member }} is a replica that has not streamed WAL from the primary for ${fw}: it says so itself (replaying from the archive, or disconnected), or it has stopped answering.`,
    },
    {
      alert: "PatroniReplicationLagBytes",
      group: "patroni",
      expr: [
        "max by (cluster) (patroni_xlog_location)",
        "  - on (cluster) group_right ()",
        "(patroni_xlog_replayed_location and on (cluster, member) (patroni_replica == 1))",
        `  > ${t.replicationLagBytes}`,
      ].join("\n"),
      forSeconds: f,
      severity: "warning",
      summary: "Replica {{ $labels.member }} of {{ $labels.cluster }} is {{ $value | humanize1024 }}B behind",
      description: `The primary's WAL position is more than ${bytesWords(t.replicationLagBytes)} ahead of what {{ $labels.member }} has replayed, for ${fw}. Patroni does not fail over to a replica lagging more than maximum_lag_on_failover.`,
    },
    {
      alert: "PatroniSyncStandbyMissing",
      group: "patroni",
      expr: "sum by (cluster) (patroni_sync_standby + patroni_quorum_standby) < 1",
      forSeconds: 60,
      severity: "critical",
      summary: "Patroni cluster {{ $labels.cluster }} has no synchronous standby",
      description:
        "synchronous_mode is on but no member of {{ $labels.cluster }} is a synchronous (or quorum) standby for 1 minute: commits are either not protected by a second copy or are blocked (synchronous_mode_strict).",
      onlyWithSynchronousMode: true,
    },
    {
      alert: "PatroniPendingRestart",
      group: "patroni",
      expr: "patroni_pending_restart == 1",
      forSeconds: t.pendingRestartMinutes * 60,
      severity: "warning",
      summary: `{{ $labels.member }} of {{ $labels.cluster }} has waited ${durationWords(t.pendingRestartMinutes * 60)} for a restart`,
      description: `A PostgreSQL parameter that needs a restart was changed on {{ $labels.member }} more than ${durationWords(t.pendingRestartMinutes * 60)} ago and the node has not been restarted (npm run ctl -- restart, or cluster.restartPolicy rolling).`,
    },
    {
      alert: "PatroniPaused",
      group: "patroni",
      expr: "patroni_is_paused == 1",
      forSeconds: 3600,
      severity: "warning",
      summary: "Patroni cluster {{ $labels.cluster }} has been in maintenance mode for 1 hour",
      description: "Automatic failover is disabled (patronictl pause) on {{ $labels.member }} for more than 1 hour.",
    },
    {
      alert: "PostgresDown",
      group: "postgres",
      expr: "pg_up == 0",
      forSeconds: f,
      severity: "critical",
      summary: "postgres-exporter on {{ $labels.member }} cannot reach PostgreSQL",
      description: `pg_up has been 0 on {{ $labels.instance }} for ${fw}: PostgreSQL is down or refuses the exporter's login.`,
    },
    {
      alert: "PostgresMultiplePrimaries",
      group: "postgres",
      expr: "count by (cluster) (pg_replication_is_replica == 0) > 1",
      forSeconds: 30,
      severity: "critical",
      summary: "{{ $value }} PostgreSQL servers of {{ $labels.cluster }} are not in recovery",
      description:
        "More than one PostgreSQL of {{ $labels.cluster }} answers pg_is_in_recovery() = false for 30 s: split brain, whatever Patroni reports.",
    },
    {
      alert: "PostgresReplicationLagSeconds",
      group: "postgres",
      expr: `pg_replication_lag_seconds > ${t.replicationLagSeconds} and pg_replication_is_replica == 1`,
      forSeconds: f,
      severity: "warning",
      summary: "Replica {{ $labels.member }} of {{ $labels.cluster }} replays {{ $value | humanizeDuration }} behind",
      description: `{{ $labels.member }} has WAL received but not replayed, and its last replayed transaction is more than ${t.replicationLagSeconds} s old, for ${fw} (0 when replay has caught up, so an idle primary does not trigger it).`,
    },
    {
      alert: "PostgresWalArchivingFailing",
      group: "postgres",
      expr: [
        "pg_archiver_last_failed_time_seconds > pg_archiver_last_archived_time_seconds",
        "  and increase(pg_stat_archiver_failed_count[5m]) > 0",
      ].join("\n"),
      forSeconds: 300,
      severity: "critical",
      summary: "WAL archiving fails on {{ $labels.member }} ({{ $labels.cluster }})",
      description:
        "archive_command's last attempt failed, after its last success, and it has failed again within 5 minutes, for 5 minutes: WAL piles up in pg_wal and point-in-time recovery stops at the last archived segment.",
    },
    {
      alert: "PostgresWalArchiveLagging",
      group: "postgres",
      expr: `pg_archiver_ready_files > ${t.archiveReadyFiles}`,
      forSeconds: 600,
      severity: "warning",
      summary: "{{ $value }} WAL segments wait for archiving on {{ $labels.member }}",
      description: `More than ${t.archiveReadyFiles} WAL segments (${bytesWords(t.archiveReadyFiles * 16 * 2 ** 20)} at 16 MiB each) have been waiting for archive_command on {{ $labels.member }} for 10 minutes: archiving is slower than WAL generation or stuck.`,
    },
    {
      alert: "BackupFullTooOld",
      group: "pgbackrest",
      expr: `pgbackrest_backup_since_last_completion_seconds{backup_type="full"} > ${t.fullBackupMaxAgeDays} * 86400`,
      forSeconds: 900,
      severity: "warning",
      summary: "Newest full backup of stanza {{ $labels.stanza }} is {{ $value | humanizeDuration }} old",
      description: `The last completed full backup of {{ $labels.stanza }} is older than ${t.fullBackupMaxAgeDays} days (a weekly schedule plus one day by default).`,
    },
    {
      alert: "BackupTooOld",
      group: "pgbackrest",
      // pgBackRest's exporter counts every backup type towards incr (a full or diff is newer than any incr before it).
      expr: `pgbackrest_backup_since_last_completion_seconds{backup_type="incr"} > ${t.backupMaxAgeHours} * 3600`,
      forSeconds: 900,
      severity: "warning",
      summary: "Newest backup of stanza {{ $labels.stanza }} is {{ $value | humanizeDuration }} old",
      description: `No backup of any type (full, diff or incr) of {{ $labels.stanza }} completed in the last ${t.backupMaxAgeHours} hours (a daily schedule plus two hours by default).`,
    },
    {
      alert: "BackupRepoUnhealthy",
      group: "pgbackrest",
      expr: "pgbackrest_stanza_status != 0 or pgbackrest_exporter_status == 0",
      forSeconds: 1800,
      severity: "warning",
      summary: "pgBackRest stanza {{ $labels.stanza }} is not OK",
      description:
        "pgbackrest info reports a non-ok stanza status, or the exporter could not run pgbackrest info, for 30 minutes.",
    },
    {
      alert: "ArchiveWalDropped",
      group: "pgbackrest",
      // Written by the backup role's archive monitor for node-exporter's textfile collector (archive-metrics.sh).
      expr: "increase(pulumi_patroni_archive_dropped_wal_total[1h]) > 0",
      forSeconds: 0,
      severity: "critical",
      summary: "pgBackRest dropped WAL of stanza {{ $labels.stanza }} on {{ $labels.member }}",
      description:
        "The archive queue passed backup.archivePushQueueMax within the last hour and pgBackRest dropped WAL instead of archiving it: point-in-time recovery has a gap until the next backup (npm run ctl -- backup).",
    },
    {
      alert: "EtcdMemberDown",
      group: "etcd",
      expr: 'up{job="etcd"} == 0',
      forSeconds: f,
      severity: "warning",
      summary: "etcd member {{ $labels.member }} of {{ $labels.cluster }} is down",
      description: `etcd's metrics listener on {{ $labels.member }} ({{ $labels.instance }}) has not answered for ${fw}: the member is stopped or unreachable. The others keep the quorum while a majority answers (EtcdBelowQuorum says when not).`,
    },
    {
      alert: "EtcdNoLeader",
      group: "etcd",
      expr: "etcd_server_has_leader == 0",
      forSeconds: f,
      severity: "critical",
      summary: "etcd member {{ $labels.member }} has no leader",
      description: `etcd on {{ $labels.member }} has seen no leader for ${fw}: it cannot serve Patroni's writes.`,
    },
    {
      alert: "EtcdBelowQuorum",
      group: "etcd",
      expr: [
        '(count by (cluster) (etcd_server_has_leader == 1) or count by (cluster) (up{job="etcd"}) * 0)',
        '  < floor(count by (cluster) (up{job="etcd"}) / 2) + 1',
      ].join("\n"),
      forSeconds: f,
      severity: "critical",
      summary: "etcd of {{ $labels.cluster }} has only {{ $value }} healthy members",
      description: `Fewer than floor(n/2)+1 of the n configured etcd members are scraped with a leader, for ${fw}: the DCS has no quorum, Patroni cannot renew the leader key and demotes the primary once its TTL runs out (unless failsafe_mode).`,
    },
    {
      alert: "EtcdFrequentLeaderChanges",
      group: "etcd",
      expr: `max by (cluster) (increase(etcd_server_leader_changes_seen_total[1h])) > ${t.etcdLeaderChangesPerHour}`,
      forSeconds: 0,
      severity: "warning",
      summary: 'etcd of {{ $labels.cluster }} changed leader {{ $value | printf "%.0f" }} times in an hour',
      description: `More than ${t.etcdLeaderChangesPerHour} etcd leader changes within 1 hour: network or disk latency above the election timeout. Each change can cost Patroni a TTL.`,
    },
    {
      alert: "PgBouncerDown",
      group: "pgbouncer",
      expr: "pgbouncer_up == 0",
      forSeconds: f,
      severity: "critical",
      summary: "PgBouncer on {{ $labels.member }} does not answer",
      description: `pgbouncer-exporter on {{ $labels.instance }} could not query PgBouncer's admin console for ${fw}.`,
    },
    {
      alert: "PgBouncerClientsWaiting",
      group: "pgbouncer",
      expr: "sum by (cluster, member, database) (pgbouncer_pools_client_waiting_connections) > 0",
      // Below PgBouncer's query_wait_timeout (120 s), which drops the waiting client.
      forSeconds: 60,
      severity: "warning",
      summary: "{{ $value }} clients wait for a server connection in PgBouncer on {{ $labels.member }}",
      description:
        "Clients of database {{ $labels.database }} have been queued in PgBouncer on {{ $labels.member }} at every scrape for 1 minute: the pool (pgbouncer.defaultPoolSize) is exhausted (PgBouncer drops a client that waited query_wait_timeout, 120 s by default).",
    },
    {
      alert: "HAProxyPrimaryBackendDown",
      group: "haproxy",
      expr: 'haproxy_backend_active_servers{proxy=~".+-primary"} < 1',
      forSeconds: f,
      severity: "critical",
      summary: "HAProxy on {{ $labels.member }}: no UP server in {{ $labels.proxy }}",
      description: `HAProxy on {{ $labels.member }} has had no server UP in {{ $labels.proxy }} for ${fw} (a failover takes about ttl, 30 s by default): writes through it fail.`,
    },
    {
      alert: "HAProxyPrimaryBackendMultipleUp",
      group: "haproxy",
      expr: 'haproxy_backend_active_servers{proxy=~".+-primary"} > 1',
      forSeconds: 30,
      severity: "critical",
      summary: "HAProxy on {{ $labels.member }}: {{ $value }} UP servers in {{ $labels.proxy }}",
      description:
        "More than one server of {{ $labels.proxy }} passes the /primary check for 30 s: sessions are being split between two primaries.",
    },
    {
      alert: "DiskWillFill",
      group: "node",
      expr: [
        `predict_linear(node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs"}[1h], ${t.diskFullWithinHours} * 3600) < 0`,
        '  and node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs"} / node_filesystem_size_bytes < 0.25',
        "  and node_filesystem_readonly == 0",
      ].join("\n"),
      forSeconds: 900,
      severity: "warning",
      summary: `{{ $labels.mountpoint }} on {{ $labels.member }} will be full within ${durationWords(t.diskFullWithinHours * 3600)}`,
      description: `At the rate of the last hour, {{ $labels.mountpoint }} on {{ $labels.member }} (now under 25% free) runs out of space within ${durationWords(t.diskFullWithinHours * 3600)}.`,
    },
    {
      alert: "DiskAlmostFull",
      group: "node",
      expr: 'node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs"} / node_filesystem_size_bytes < 0.10 and node_filesystem_readonly == 0',
      forSeconds: 300,
      severity: "critical",
      summary: "{{ $labels.mountpoint }} on {{ $labels.member }} has {{ $value | humanizePercentage }} free",
      description: "Less than 10% of {{ $labels.mountpoint }} on {{ $labels.member }} is free for 5 minutes.",
    },
    {
      alert: "CertificateExpiresSoon",
      group: "node",
      expr: `tls_certificate_not_after_timestamp_seconds - time() < ${t.certificateExpiryDays} * 86400`,
      forSeconds: 0,
      severity: "warning",
      summary: "Certificate {{ $labels.path }} on {{ $labels.member }} expires in {{ $value | humanizeDuration }}",
      description: `The certificate {{ $labels.path }} on {{ $labels.member }} expires in less than ${t.certificateExpiryDays} days (negative: already expired). Read hourly from the certificates under /etc/pulumi-patroni/tls by node-exporter's textfile collector.`,
    },
  ];
}

/** The rules file Prometheus loads (/etc/prometheus/rules/pg-cluster.rules.yml). */
export function renderAlertRules(
  ctx: ManagedFileContext,
  rules: readonly AlertRule[],
  o: { readonly synchronousMode: boolean },
): string {
  const groups: { name: string; rules: Record<string, unknown>[] }[] = [];
  for (const r of rules) {
    if (r.onlyWithSynchronousMode && !o.synchronousMode) continue;
    let group = groups.find((g) => g.name === r.group);
    if (!group) groups.push((group = { name: r.group, rules: [] }));
    group.rules.push({
      alert: r.alert,
      expr: r.expr,
      ...(r.forSeconds > 0 ? { for: promDuration(r.forSeconds) } : {}),
      labels: { severity: r.severity },
      annotations: { summary: r.summary, description: r.description },
    });
  }
  return managedHeader(ctx) + yaml.dump({ groups }, { lineWidth: -1, noRefs: true });
}

/** docs/monitoring.md's table of alerts (kept in step by alertRules.test.ts). */
export function renderAlertTable(rules: readonly AlertRule[]): string {
  const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n\s*/g, " ");
  const noTemplate = (s: string) => s.replace(/\{\{ \$labels\.(\w+) \}\}/g, "<$1>").replace(/\{\{[^}]*\}\}/g, "…");
  return [
    "| alert | severity | fires when (PromQL) | for | meaning |",
    "|---|---|---|---|---|",
    ...rules.map(
      (r) =>
        `| ${r.alert}${r.onlyWithSynchronousMode ? " (with synchronous_mode)" : ""} | ${r.severity} | \`${cell(r.expr)}\` | ${r.forSeconds ? promDuration(r.forSeconds) : "-"} | ${cell(noTemplate(r.description))} |`,
    ),
  ].join("\n");
}
