import { describe, expect, it } from "vitest";
import { renderSystemdDropIn } from "./systemdUnit";
import { PATRONI_DROP_IN } from "../roles/postgres/slice";

const ctx = { stack: "test" };
const HEADER = "# Managed by pulumi-patroni (stack test). Do not edit: change Pulumi.test.yaml and run pulumi up.";

describe("systemd drop-in", () => {
  it("renders sections with sorted keys and repeated values", () => {
    const text = renderSystemdDropIn(ctx, PATRONI_DROP_IN);
    expect(text).toBe(
      `${HEADER}\n[Unit]\nAfter=network-online.target\nAfter=etcd.service\nWants=network-online.target\n\n[Service]\nKillMode=process\nRestart=on-failure\nRestartSec=5s\nTimeoutStopSec=60s\n`,
    );
  });
});
