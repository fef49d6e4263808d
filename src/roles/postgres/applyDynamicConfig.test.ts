// apply-dynamic-config.sh decides what to PATCH from what Patroni has and
// what the stack wants: run it against a stand-in curl (GET /config answers
// the current configuration, PATCH is recorded) to check that decision.
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";

const SCRIPT = path.join(__dirname, "apply-dynamic-config.sh");
let dir = "";

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs the script with Patroni's configuration `current` and the stack's `wanted`; returns its output and the PATCH bodies. */
function apply(current: object, wanted: object): { out: string; patches: unknown[] } {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "dyncfg-"));
  fs.writeFileSync(path.join(dir, "current.json"), JSON.stringify(current));
  // A stand-in for curl: GET /config prints the current configuration, a
  // PATCH with a body (--data-binary @-) appends it, /patroni says the
  // member has read the DCS since, /cluster names a synchronous standby.
  fs.writeFileSync(
    path.join(dir, "curl"),
    `#!/usr/bin/env bash
url="\${*: -1}"
if [[ " $* " == *" -X PATCH "* ]]; then cat >>"${dir}/patches"; echo >>"${dir}/patches"; echo '{}'; exit 0; fi
case $url in
  */config) cat "${dir}/current.json" ;;
  */patroni) echo '{"dcs_last_seen": 9999999999}' ;;
  */cluster) echo '{"members": [{"role": "sync_standby"}]}' ;;
esac
`,
    { mode: 0o755 },
  );
  const out = childProcess.execFileSync("bash", [SCRIPT], {
    input: `user = "patroni:pw"\n${JSON.stringify(wanted)}\n`,
    encoding: "utf8",
    env: {
      ...process.env,
      PATH: `${dir}:${process.env.PATH}`,
      REST: "http://m1:8008",
      MEMBER_URLS: "http://m1:8008",
      LOOP_WAIT: "1",
      CURL_TLS: "/dev/null",
    },
  });
  const raw = fs.existsSync(path.join(dir, "patches")) ? fs.readFileSync(path.join(dir, "patches"), "utf8") : "";
  const patches = raw
    .split("\n")
    .filter((l) => l.trim().startsWith("{") && !l.includes("pulumi_patroni_wakeup"))
    .map((l) => JSON.parse(l) as unknown);
  return { out, patches };
}

const base = { ttl: 30, loop_wait: 10, postgresql: { parameters: { max_connections: 200 } } };

describe("apply-dynamic-config.sh", () => {
  it("patches nothing when Patroni already has what the stack wants", () => {
    const r = apply({ ...base, synchronous_mode: false }, { ...base, synchronous_mode: false });
    expect(r.out).toContain("already as wanted");
    expect(r.patches).toEqual([]);
  });

  it("turns synchronous_mode off (a value of false is a change too)", () => {
    const r = apply({ ...base, synchronous_mode: true }, { ...base, synchronous_mode: false });
    expect(r.out).toContain("changed: synchronous_mode");
    expect(r.patches).toHaveLength(1);
    expect(r.patches[0]).toMatchObject({ synchronous_mode: false });
  });

  it("turns it on, and removes a parameter the stack dropped", () => {
    const r = apply(
      { ...base, postgresql: { parameters: { max_connections: 200, work_mem: "8MB" } } },
      { ...base, synchronous_mode: true },
    );
    expect(r.out).toMatch(/synchronous_mode.*work_mem \(removed\)/);
    expect(r.patches[0]).toMatchObject({ synchronous_mode: true, postgresql: { parameters: { work_mem: null } } });
  });
});
