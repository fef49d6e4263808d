// What differs between the host platforms we deploy onto, in one place:
// Debian releases and what they ship, the minimum component versions (and
// why), and the features the renderers switch on. The packages of each
// role are the role's (src/roles/*/slice.ts).
// Hosts report their facts at deploy (src/roles/host/platform.sh); the
// renderers take the resulting HostPlatform as input.

/** What each Debian release we know ships (https://packages.debian.org). */
export const DEBIAN_RELEASES: Readonly<
  Record<string, { readonly version: number; readonly postgres: number; readonly patroni: string }>
> = {
  bookworm: { version: 12, postgres: 15, patroni: "3.0.2" },
  trixie: { version: 13, postgres: 17, patroni: "4.0.7" },
};

/** The release the local stand's machines run (src/local/machines/rootfs.sh builds it). */
export const LOCAL_MACHINE_RELEASE = "trixie";

/** PostgreSQL major version of a new cluster: the one Debian 13 ships. */
export const DEFAULT_POSTGRES_VERSION = DEBIAN_RELEASES[LOCAL_MACHINE_RELEASE].postgres;

/** The PostgreSQL project's own repository carries current Patroni and PostgreSQL for Debian 12. */
export const PGDG_HINT =
  "add the PostgreSQL project's repository (https://wiki.postgresql.org/wiki/Apt) with cluster.aptKeyrings.pgdg and " +
  "cluster.aptSources: ['deb [signed-by=/etc/apt/keyrings/pulumi-patroni-pgdg.asc] http://apt.postgresql.org/pub/repos/apt bookworm-pgdg main']";

/**
 * Patroni before 3.0.3 overwrites the etcd3 leader key after its session
 * expired (upstream pull request 2689): a leader frozen longer than ttl
 * takes the lock back from the new leader, which demotes and rewinds away
 * every write it acknowledged. Seen on the local stand with Debian 12's 3.0.2.
 */
export const PATRONI_LEADER_KEY_FIX = "3.0.3";
/** `patroni --validate-config --ignore-listen-port` (4.0.0) validates a changed patroni.yml on a running node. */
export const PATRONI_LIVE_VALIDATION = "4.0.0";
/** PgBouncer's `auth_dbname` (1.21) runs auth_query in one database instead of the one the client asked for. */
export const PGBOUNCER_AUTH_DBNAME = "1.21.0";

/** What the host step platform.sh (src/roles/host/) reports: the OS release and, per package, installed and candidate versions. */
export interface PlatformReport {
  readonly id: string;
  readonly versionId: string;
  readonly codename: string;
  readonly packages: Readonly<Record<string, { readonly installed: string; readonly candidate: string }>>;
  /** What runs there that this stack did not create (a PostgreSQL cluster, an etcd, another stack's Patroni). */
  readonly foreign?: readonly string[];
}

/** The versions a host runs (or will run once installed): the renderers' input. */
export interface HostPlatform {
  readonly codename: string;
  readonly debianVersion: number;
  /** Upstream versions ("4.0.7"), absent when the host has no such role. */
  readonly patroni?: string;
  readonly postgres?: string;
  readonly pgbouncer?: string;
  readonly haproxy?: string;
  readonly etcd?: string;
}

/** Upstream version of a Debian version string: "1:4.0.7-3~deb13u1" -> "4.0.7". */
export function upstreamVersion(debian: string): string {
  return debian.replace(/^\d+:/, "").replace(/[-+~].*$/, "");
}

/** Compares dotted numeric versions: negative, 0 or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((x) => parseInt(x, 10) || 0);
  const pb = b.split(".").map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export const atLeast = (version: string | undefined, minimum: string): boolean =>
  version !== undefined && compareVersions(version, minimum) >= 0;

export function parsePlatformReport(stdout: string): PlatformReport {
  const facts = JSON.parse(stdout) as PlatformReport;
  if (typeof facts.codename !== "string" || typeof facts.packages !== "object")
    throw new Error(`unexpected platform facts: ${stdout.slice(0, 200)}`);
  return facts;
}

/** Whether deploying these roles stops what already runs there (a PostgreSQL cluster, an etcd, a Patroni). */
export const takesOver = (roles: readonly string[]): boolean => roles.some((r) => r === "postgres" || r === "etcd");

/**
 * Why a host that already runs `running` (a service this stack did not
 * create, src/steps/scripts/lib/foreign.sh) is refused: `where` names the
 * host ("hosts db1", with its release when known).
 */
export function takeoverProblem(where: string, hostName: string, running: string): string {
  return (
    `${where}: already runs ${running}, which this stack did not create; deploying would stop it. ` +
    `Move it away, or set hosts[].adoptExisting: true for ${hostName} to have it stopped (its data is kept, never deleted)`
  );
}

export interface PlatformRequest {
  readonly hostName: string;
  readonly roles: readonly string[];
  /** The packages its roles need. */
  readonly packages: readonly string[];
  readonly postgresVersion: number;
  /** hosts[].adoptExisting: the host's config allows taking over what already runs there. */
  readonly adoptExisting?: boolean;
}

/**
 * The platform a host will run, or every reason it cannot run its roles.
 * Checked at deploy, after apt has read the configured sources and before
 * any host installs anything.
 */
export function resolveHostPlatform(
  req: PlatformRequest,
  facts: PlatformReport,
): { platform?: HostPlatform; problems: string[] } {
  const problems: string[] = [];
  const where = `hosts ${req.hostName} (${facts.id} ${facts.versionId || "?"} ${facts.codename || "?"})`;
  if (facts.id !== "debian")
    problems.push(`${where}: only Debian is supported (12 with the PostgreSQL project's repository, or 13)`);
  if (takesOver(req.roles) && !req.adoptExisting)
    problems.push(...(facts.foreign ?? []).map((running) => takeoverProblem(where, req.hostName, running)));
  const version = (pkg: string): string | undefined => {
    const p = facts.packages[pkg];
    const v = p?.installed || p?.candidate;
    return v ? upstreamVersion(v) : undefined;
  };
  for (const pkg of req.packages) {
    if (version(pkg) !== undefined) continue;
    if (pkg === `postgresql-${req.postgresVersion}`) {
      const shipped = DEBIAN_RELEASES[facts.codename]?.postgres;
      problems.push(
        `${where}: PostgreSQL ${req.postgresVersion} (package ${pkg}) is not available` +
          (shipped
            ? `; Debian ${facts.versionId} ships PostgreSQL ${shipped}: set cluster.postgresVersion: ${shipped}, or ${PGDG_HINT}`
            : `; ${PGDG_HINT}`),
      );
    } else {
      problems.push(`${where}: package ${pkg} is not available from the configured apt sources`);
    }
  }
  const patroni = req.roles.includes("postgres") ? version("patroni") : undefined;
  if (patroni && !atLeast(patroni, PATRONI_LEADER_KEY_FIX)) {
    problems.push(
      `${where}: Patroni ${patroni} is refused: before ${PATRONI_LEADER_KEY_FIX} it overwrites the etcd leader key after its session expired ` +
        `(Patroni pull request 2689), so a leader frozen longer than ttl takes the lock back and the new leader's acknowledged writes are lost. ` +
        `Use Debian 13 (Patroni ${DEBIAN_RELEASES.trixie.patroni}), or ${PGDG_HINT}`,
    );
  } else if (patroni && !atLeast(patroni, PATRONI_LIVE_VALIDATION)) {
    problems.push(
      `${where}: Patroni ${patroni} is refused: a changed patroni.yml can only be validated on a running node from Patroni ${PATRONI_LIVE_VALIDATION} on ` +
        `(--ignore-listen-port). Use Debian 13 (Patroni ${DEBIAN_RELEASES.trixie.patroni}), or ${PGDG_HINT}`,
    );
  }
  if (problems.length > 0) return { problems };
  return {
    problems,
    platform: {
      codename: facts.codename,
      debianVersion: Number(facts.versionId) || 0,
      patroni,
      postgres:
        req.roles.includes("postgres") || req.roles.includes("client")
          ? version(`postgresql-${req.postgresVersion}`)
          : undefined,
      pgbouncer: req.roles.includes("pgbouncer") ? version("pgbouncer") : undefined,
      haproxy: req.roles.includes("haproxy") ? version("haproxy") : undefined,
      etcd: req.roles.includes("etcd") ? version("etcd-server") : undefined,
    },
  };
}

/** patroni.yml validation that works while Patroni runs and holds its ports (every accepted Patroni has the flag). */
export const PATRONI_VALIDATE_COMMAND = "patroni --validate-config --ignore-listen-port %s";

export const pgbouncerHasAuthDbname = (p: HostPlatform): boolean => atLeast(p.pgbouncer, PGBOUNCER_AUTH_DBNAME);
