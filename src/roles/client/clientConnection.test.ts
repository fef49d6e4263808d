import { describe, expect, it } from "vitest";
import { ClientEndpoint, entryUri, renderPgpass, renderPgService, tlsOptions } from "./clientConnection";

const ctx = { stack: "test" };
const vip: ClientEndpoint = { hosts: ["10.0.0.30"], primaryPort: 5000, replicaPort: 5001, loadBalance: true };
const two: ClientEndpoint = { ...vip, hosts: ["10.0.0.31", "10.0.0.32"] };

describe("client connection files", () => {
  it("pg_service.conf has primary and replicas services through the VIP", () => {
    const text = renderPgService(ctx, vip, "postgres");
    expect(text).toContain(
      "[primary]\nhost=10.0.0.30\nport=5000\nuser=postgres\ndbname=postgres\ntarget_session_attrs=read-write\nconnect_timeout=2\n",
    );
    expect(text).toContain(
      "[replicas]\nhost=10.0.0.30\nport=5001\nuser=postgres\ndbname=postgres\ntarget_session_attrs=any",
    );
    expect(text).not.toContain("load_balance_hosts");
    expect(text).not.toContain("password");
  });

  it("with TLS, both services verify the server against the cluster's CAs", () => {
    const text = renderPgService(ctx, two, "postgres", "/ca.crt");
    expect(text).toContain(
      "target_session_attrs=read-write\nload_balance_hosts=random\nconnect_timeout=2\nsslmode=verify-full\nsslrootcert=/ca.crt\n",
    );
    expect(text).toContain(
      "target_session_attrs=any\nload_balance_hosts=random\nconnect_timeout=2\nsslmode=verify-full\nsslrootcert=/ca.crt\n",
    );
    expect(renderPgService(ctx, vip, "postgres")).not.toContain("sslmode");
  });

  it("without a VIP, every HAProxy host in random order (libpq 16+), each tried for at most 2 s", () => {
    const text = renderPgService(ctx, two, "postgres");
    expect(text).toContain(
      "[primary]\nhost=10.0.0.31,10.0.0.32\nport=5000\nuser=postgres\ndbname=postgres\ntarget_session_attrs=read-write\nload_balance_hosts=random\nconnect_timeout=2\n",
    );
    expect(text).toContain("[replicas]\nhost=10.0.0.31,10.0.0.32\nport=5001");
    // libpq 15 and older refuse an option they do not know.
    expect(renderPgService(ctx, { ...two, loadBalance: false }, "postgres")).not.toContain("load_balance_hosts");
  });

  it("URIs name the VIP alone, or every HAProxy host with the options libpq needs to fail over", () => {
    expect(entryUri(vip, 5000, "app", "p@ss:w/rd", "app", "read-write")).toBe(
      "postgresql://app:p%40ss%3Aw%2Frd@10.0.0.30:5000/app",
    );
    expect(entryUri(two, 5001, "postgres", "pw", "postgres", "any")).toBe(
      "postgresql://postgres:pw@10.0.0.31:5001,10.0.0.32:5001/postgres?target_session_attrs=any&load_balance_hosts=random&connect_timeout=2",
    );
  });

  it("with TLS, URIs verify the server: one query string, through the VIP or several hosts", () => {
    expect(entryUri(vip, 5000, "app", "pw", "app", "read-write", tlsOptions())).toBe(
      "postgresql://app:pw@10.0.0.30:5000/app?sslmode=verify-full",
    );
    expect(entryUri(two, 5000, "app", "pw", "app", "read-write", tlsOptions())).toBe(
      "postgresql://app:pw@10.0.0.31:5000,10.0.0.32:5000/app?target_session_attrs=read-write&load_balance_hosts=random&connect_timeout=2&sslmode=verify-full",
    );
    expect(entryUri(vip, 5000, "app", "pw", "app", "any", tlsOptions("/etc/ca.crt"))).toBe(
      "postgresql://app:pw@10.0.0.30:5000/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.crt",
    );
  });

  it(".pgpass escapes colons and backslashes", () => {
    const text = renderPgpass(ctx, [{ host: "h", port: 5000, user: "postgres", password: "a:b\\c" }]);
    expect(text.split("\n")[1]).toBe("h:5000:*:postgres:a\\:b\\\\c");
  });
});
