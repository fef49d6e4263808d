import { describe, expect, it } from "vitest";
import { renderPgpass, renderPgService } from "./clientConnection";

const ctx = { stack: "test" };

describe("client connection files", () => {
  it("pg_service.conf has primary and replicas services through HAProxy", () => {
    const text = renderPgService(ctx, { host: "10.0.0.5", primaryPort: 5000, replicaPort: 5001 }, "postgres");
    expect(text).toContain(
      "[primary]\nhost=10.0.0.5\nport=5000\nuser=postgres\ndbname=postgres\ntarget_session_attrs=read-write",
    );
    expect(text).toContain("[replicas]\nhost=10.0.0.5\nport=5001");
    expect(text).not.toContain("password");
  });

  it("with TLS, both services verify the server against the cluster's CAs", () => {
    const text = renderPgService(
      ctx,
      { host: "10.0.0.5", primaryPort: 5000, replicaPort: 5001 },
      "postgres",
      "/ca.crt",
    );
    expect(text).toContain("target_session_attrs=read-write\nsslmode=verify-full\nsslrootcert=/ca.crt\n");
    expect(text).toContain("target_session_attrs=any\nsslmode=verify-full\nsslrootcert=/ca.crt\n");
  });

  it(".pgpass escapes colons and backslashes", () => {
    const text = renderPgpass(ctx, [{ host: "h", port: 5000, user: "postgres", password: "a:b\\c" }]);
    expect(text.split("\n")[1]).toBe("h:5000:*:postgres:a\\:b\\\\c");
  });
});
